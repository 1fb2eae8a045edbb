// The Tokenizer as a whole: the walkthrough's example, pairs, truncation, padding, batches,
// decoding, loading, and errors.
#include "bertlite/tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "bertlite/error.h"
#include "test_helpers.h"
#include "util/file.h"

namespace bertlite {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<std::int32_t>;

const Tokenizer& minilm() {
  static const Tokenizer tokenizer = Tokenizer::from_folder(test::default_model_folder());
  return tokenizer;
}

TEST(Tokenizer, WalkthroughExample) {
  const Encoding e = minilm().encode("a visually stunning rumination on love");
  EXPECT_EQ(minilm().tokens(e.ids),
            (std::vector<std::string>{"[CLS]", "a", "visually", "stunning", "rum", "##ination",
                                      "on", "love", "[SEP]"}));
  EXPECT_EQ(e.ids, (Ids{101, 1037, 17453, 14726, 19379, 12758, 2006, 2293, 102}));
  EXPECT_EQ(e.attention_mask, Ids(9, 1));
  EXPECT_EQ(e.type_ids, Ids(9, 0));
  EXPECT_EQ(e.special_tokens_mask, (Ids{1, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(e.offsets[4], (Offset{20, 23}));  // "rum"
  EXPECT_EQ(e.offsets[5], (Offset{23, 30}));  // "ination"
}

TEST(Tokenizer, SpecialTokenIdsComeFromTheVocabulary) {
  EXPECT_EQ(minilm().token_id("[CLS]"), 101);
  EXPECT_EQ(minilm().pad_id(), 0);
  EXPECT_EQ(minilm().unk_id(), 100);
  EXPECT_EQ(minilm().num_special_tokens(false), 2u);
  EXPECT_EQ(minilm().num_special_tokens(true), 3u);
  EXPECT_EQ(minilm().info().vocab_size, 30522u);
  EXPECT_EQ(minilm().info().model_max_length, 512u);
}

TEST(Tokenizer, PairsGetTypeIds) {
  const Encoding e = minilm().encode("good film", "bad film");
  EXPECT_EQ(minilm().tokens(e.ids),
            (std::vector<std::string>{"[CLS]", "good", "film", "[SEP]", "bad", "film", "[SEP]"}));
  EXPECT_EQ(e.type_ids, (Ids{0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(e.offsets[4], (Offset{0, 3}));  // offsets of the second text index into it
}

TEST(Tokenizer, LiteralSpecialTokensStayWhole) {
  const Encoding e = minilm().encode("a [SEP] b [sep]", {.add_special_tokens = false});
  EXPECT_EQ(minilm().tokens(e.ids), (std::vector<std::string>{"a", "[SEP]", "b", "[", "sep", "]"}));
  EXPECT_EQ(e.offsets[1], (Offset{2, 7}));
  EXPECT_EQ(e.special_tokens_mask, Ids(6, 0));  // from the text, not added by the template
}

TEST(Tokenizer, TruncatesSinglesLeavingRoomForSpecialTokens) {
  EncodeOptions options;
  options.max_length = 5;
  const Encoding e = minilm().encode("one two three four five six", options);
  EXPECT_EQ(minilm().tokens(e.ids),
            (std::vector<std::string>{"[CLS]", "one", "two", "three", "[SEP]"}));
  EXPECT_EQ(e.truncated, 3u);
  options.max_length = 1;
  EXPECT_THROW(minilm().encode("x", options), InvalidArgument);
}

TEST(Tokenizer, TruncatesPairsLongestFirst) {
  EncodeOptions options;
  options.max_length = 9;  // 6 for the texts after [CLS] [SEP] [SEP]
  auto lengths = [&](const std::string& a, const std::string& b) {
    const Encoding e = minilm().encode(a, b, options);
    std::size_t first = 0;
    for (std::size_t i = 1; i < e.size() && e.type_ids[i] == 0; ++i) ++first;
    return std::pair<std::size_t, std::size_t>{first - 1, e.size() - first - 2};
  };
  // Only the longer one is cut when the shorter fits in half.
  EXPECT_EQ(lengths("a b", "c d e f g h i"), (std::pair<std::size_t, std::size_t>{2, 4}));
  EXPECT_EQ(lengths("c d e f g h i", "a b"), (std::pair<std::size_t, std::size_t>{4, 2}));
  // Both are cut to half each when both are long.
  EXPECT_EQ(lengths("a b c d e f g", "h i j k l m n"), (std::pair<std::size_t, std::size_t>{3, 3}));
}

TEST(Tokenizer, PadsToLongestAndToMaxLength) {
  const std::vector<std::string> texts{"short", "a somewhat longer sentence here"};
  EncodeOptions options;
  options.padding = Padding::kLongest;
  const auto batch = minilm().encode_batch(texts, options);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].size(), batch[1].size());
  EXPECT_EQ(batch[0].ids.back(), 0);
  EXPECT_EQ(batch[0].attention_mask.back(), 0);
  EXPECT_EQ(batch[0].attention_mask[2], 1);
  options.padding = Padding::kMaxLength;
  options.max_length = 16;
  for (const auto& e : minilm().encode_batch(texts, options)) EXPECT_EQ(e.size(), 16u);
  options.pad_to_multiple_of = 12;
  for (const auto& e : minilm().encode_batch(texts, options)) EXPECT_EQ(e.size(), 24u);
}

TEST(Tokenizer, BatchEqualsOneByOneOnAnyThreadCount) {
  std::vector<std::string> texts;
  for (int i = 0; i < 1000; ++i) texts.push_back("sentence number " + std::to_string(i) + " é!");
  const auto batch = minilm().encode_batch(texts, {}, 0);
  const auto single_thread = minilm().encode_batch(texts, {}, 1);
  ASSERT_EQ(batch.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Encoding one = minilm().encode(texts[i]);
    EXPECT_EQ(batch[i].ids, one.ids);
    EXPECT_EQ(batch[i].offsets, one.offsets);
    EXPECT_EQ(single_thread[i].ids, one.ids);
  }
}

TEST(Tokenizer, InvalidUtf8IsAnErrorNamingTheOffset) {
  try {
    minilm().encode("fine \xC3(");
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_STREQ(e.what(), "invalid UTF-8 at byte 5");
  }
  const std::vector<std::string> texts{"ok", "also ok", "bad \xFF"};
  try {
    minilm().encode_batch(texts);
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_STREQ(e.what(), "text 2: invalid UTF-8 at byte 4");
  }
}

TEST(Tokenizer, DecodeJoinsPiecesAndCleansUp) {
  // Hugging Face cleans up each token as it is joined, so " ," and " ?" lose their space but
  // "isn ' t" (three tokens) stays as it is.
  const Encoding e = minilm().encode("A visually stunning rumination , isn't it ?");
  EXPECT_EQ(minilm().decode(e.ids), "a visually stunning rumination, isn ' t it?");
  EXPECT_EQ(minilm().decode(e.ids, false),
            "[CLS] a visually stunning rumination, isn ' t it? [SEP]");
  const Ids bad{5, 999999};
  EXPECT_THROW(minilm().decode(bad), InvalidArgument);
}

TEST(Tokenizer, VocabTxtAloneGivesTheSameTokens) {
  // A folder with only vocab.txt (+ tokenizer_config.json) must tokenize like tokenizer.json.
  const fs::path folder = fs::temp_directory_path() / "bertlite_vocab_only";
  fs::create_directories(folder);
  fs::copy_file(fs::path(test::default_model_folder()) / "vocab.txt", folder / "vocab.txt",
                fs::copy_options::overwrite_existing);
  fs::copy_file(fs::path(test::default_model_folder()) / "tokenizer_config.json",
                folder / "tokenizer_config.json", fs::copy_options::overwrite_existing);
  const Tokenizer from_vocab = Tokenizer::from_folder(folder);
  for (const char* text : {"A, naïve [MASK] AllenNLP sentence.", "Ünïcödé 你好 [SEP] x[CLS]y",
                           "a visually stunning rumination on love"}) {
    const Encoding expected = minilm().encode(text, "second text");
    const Encoding got = from_vocab.encode(text, "second text");
    EXPECT_EQ(got.ids, expected.ids) << text;
    EXPECT_EQ(got.offsets, expected.offsets) << text;
    EXPECT_EQ(got.type_ids, expected.type_ids) << text;
  }
  fs::remove_all(folder);
}

std::string minimal_tokenizer_json(const std::string& normalizer, const std::string& model_type) {
  return R"({"version": "1.0", "added_tokens": [],
    "normalizer": )" +
         normalizer + R"(,
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": null, "decoder": null,
    "model": {"type": ")" +
         model_type + R"(", "unk_token": "[UNK]",
              "vocab": {"[UNK]": 0, "hello": 1}}})";
}

TEST(TokenizerJson, LoadsAMinimalFile) {
  const Tokenizer t = Tokenizer::from_tokenizer_json_text(
      minimal_tokenizer_json(R"({"type": "BertNormalizer", "lowercase": true})", "WordPiece"),
      "t.json");
  EXPECT_EQ(t.encode("Hello there").ids, (Ids{1, 0}));
}

TEST(TokenizerJson, UnsupportedComponentsAreNamed) {
  try {
    Tokenizer::from_tokenizer_json_text(minimal_tokenizer_json(R"({"type": "NFKC"})", "WordPiece"),
                                        "t.json");
    FAIL();
  } catch (const Unsupported& e) {
    EXPECT_STREQ(e.what(),
                 "t.json: normalizer.type: 'NFKC' is not supported (supported: BertNormalizer)");
  }
  try {
    Tokenizer::from_tokenizer_json_text(minimal_tokenizer_json("null", "BPE"), "t.json");
    FAIL();
  } catch (const Unsupported& e) {
    EXPECT_STREQ(e.what(), "t.json: model.type: 'BPE' is not supported (supported: WordPiece)");
  }
}

// A template may name a text twice, or leave the second text out; the encoding is as long as
// the template makes it. Found by tokenizer_json_fuzz: a pair template without $B left the
// second text's slots as zero tokens (id 0, not special, offsets (0, 0)). The expected ids are
// Hugging Face tokenizers 0.23.3's for the same files (fuzz/regressions/tokenizer_json_fuzz/
// pair_template_without_b.json is the first).
std::string template_tokenizer_json(const std::string& single, const std::string& pair) {
  return R"({"version": "1.0", "added_tokens": [],
    "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                   "strip_accents": null, "lowercase": true},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "TemplateProcessing", "single": )" +
         single + R"(, "pair": )" + pair + R"(,
      "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                         "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
    "decoder": null,
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100,
              "vocab": {"[UNK]": 0, "[CLS]": 2, "[SEP]": 3, "a": 5, "b": 6, "c": 7}}})";
}

TEST(TokenizerJson, TemplatesThatNameATextTwiceOrNotAtAll) {
  const std::string cls = R"({"SpecialToken": {"id": "[CLS]", "type_id": 0}})";
  const std::string sep = R"({"SpecialToken": {"id": "[SEP]", "type_id": 0}})";
  const auto a = [](int type) {
    return R"({"Sequence": {"id": "A", "type_id": )" + std::to_string(type) + "}}";
  };
  const std::string b = R"({"Sequence": {"id": "B", "type_id": 1}})";
  const auto list = [](std::initializer_list<std::string> pieces) {
    std::string out = "[";
    for (const std::string& piece : pieces) out += (out.size() > 1 ? ", " : "") + piece;
    return out + "]";
  };

  const Tokenizer without_b = Tokenizer::from_tokenizer_json_text(
      template_tokenizer_json(list({cls, a(0), sep}), list({cls, a(1), sep})), "t.json");
  Encoding e = without_b.encode("a b", "c");
  EXPECT_EQ(e.ids, (Ids{2, 5, 6, 3}));
  EXPECT_EQ(e.type_ids, (Ids{0, 1, 1, 0}));
  EXPECT_EQ(e.special_tokens_mask, (Ids{1, 0, 0, 1}));
  EXPECT_EQ(e.offsets, (std::vector<Offset>{{0, 0}, {0, 1}, {2, 3}, {0, 0}}));

  const Tokenizer a_twice = Tokenizer::from_tokenizer_json_text(
      template_tokenizer_json(list({cls, a(0), sep, a(1)}), list({cls, a(0), b, a(1), sep})),
      "t.json");
  e = a_twice.encode("a b");
  EXPECT_EQ(e.ids, (Ids{2, 5, 6, 3, 5, 6}));
  EXPECT_EQ(e.type_ids, (Ids{0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(e.special_tokens_mask, (Ids{1, 0, 0, 1, 0, 0}));
  e = a_twice.encode("a b", "c");
  EXPECT_EQ(e.ids, (Ids{2, 5, 6, 7, 5, 6, 3}));
  EXPECT_EQ(e.type_ids, (Ids{0, 0, 0, 1, 1, 1, 0}));
  EXPECT_EQ(e.offsets,
            (std::vector<Offset>{{0, 0}, {0, 1}, {2, 3}, {0, 1}, {0, 1}, {2, 3}, {0, 0}}));
}

TEST(TokenizerJson, MalformedFilesAreParseErrors) {
  EXPECT_THROW(Tokenizer::from_tokenizer_json_text("{not json", "t.json"), ParseError);
  EXPECT_THROW(Tokenizer::from_tokenizer_json_text("[]", "t.json"), ParseError);
  EXPECT_THROW(Tokenizer::from_tokenizer_json_text(R"({"model": {"vocab": 3}})", "t.json"),
               ParseError);
  EXPECT_THROW(Tokenizer::from_folder("/nonexistent/model"), IoError);
}

}  // namespace
}  // namespace bertlite
