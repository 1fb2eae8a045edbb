// Ported public test suites, same inputs and expected outputs:
//   transformers tests/models/bert/test_tokenization_bert.py        (Transformers*)
//   google-research/bert tokenization_test.py                        (GoogleBert*)
//   tokenizers bindings/python/tests/bindings/test_normalizers.py    (TokenizersNormalizer*)
//   tokenizers tokenizers/src/pre_tokenizers/bert.rs                  (TokenizersPreTokenizer*)
// Slow-tokenizer-only behaviour (remove_control_chars=False, never_split) is ported as what the
// fast tokenizer, our parity target, does with the same input.
#include <gtest/gtest.h>

#include <memory>

#include "bertlite/tokenizer.h"
#include "test_helpers.h"
#include "text/unicode.h"
#include "text/wordpiece.h"

namespace bertlite {
namespace {

using test::basic_tokenize;
using Words = std::vector<std::string>;

text::NormalizerOptions lower(bool lowercase, bool strip_accents) {
  text::NormalizerOptions o;
  o.lowercase = lowercase;
  o.strip_accents = strip_accents;
  return o;
}

// The vocabulary of transformers' BertTokenizationTest.setUp.
std::vector<std::string> transformers_vocab() {
  return {"[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "want", "##want", "##ed",
          "wa",    "un",    "runn",  "##ing", ",",      "low",  "lowest"};
}

std::vector<std::string> words_of(const Tokenizer& tokenizer, const std::string& text) {
  EncodeOptions options;
  options.add_special_tokens = false;
  return tokenizer.tokens(tokenizer.encode(text, options).ids);
}

std::vector<std::string> wordpiece(const std::vector<std::string>& vocab_tokens,
                                   const std::string& text) {
  auto vocab = std::make_shared<const text::Vocab>(std::vector<std::string>(vocab_tokens));
  const text::WordPiece model(vocab);
  std::vector<std::string> out;
  for (const std::string& word : basic_tokenize(text, lower(false, false))) {
    std::vector<text::Piece> pieces;
    model.tokenize(word, pieces);
    for (const auto& piece : pieces) out.emplace_back(vocab->token(piece.id));
  }
  return out;
}

TEST(TransformersBert, FullTokenizer) {
  const Tokenizer tokenizer = Tokenizer::from_tokens(transformers_vocab());
  const Encoding e = tokenizer.encode("UNwant\u00E9d,running", {.add_special_tokens = false});
  EXPECT_EQ(tokenizer.tokens(e.ids), (Words{"un", "##want", "##ed", ",", "runn", "##ing"}));
  EXPECT_EQ(e.ids, (std::vector<std::int32_t>{9, 6, 7, 12, 10, 11}));
  // With special tokens: [CLS] ... [SEP] from the vocabulary (ids 1 and 2 here, not 101/102).
  EXPECT_EQ(tokenizer.encode("UNwant\u00E9d,running").ids,
            (std::vector<std::int32_t>{1, 9, 6, 7, 12, 10, 11, 2}));
}

TEST(TransformersBert, Chinese) {
  EXPECT_EQ(basic_tokenize("ah\u535A\u63A8zz"), (Words{"ah", "\u535A", "\u63A8", "zz"}));
}

TEST(TransformersBert, BasicTokenizerLower) {
  EXPECT_EQ(basic_tokenize(" \tHeLLo!how  \n Are yoU?  "),
            (Words{"hello", "!", "how", "are", "you", "?"}));
  EXPECT_EQ(basic_tokenize("H\u00E9llo"), (Words{"hello"}));
}

TEST(TransformersBert, BasicTokenizerLowerStripAccentsFalse) {
  EXPECT_EQ(basic_tokenize(" \tHäLLo!how  \n Are yoU?  ", lower(true, false)),
            (Words{"hällo", "!", "how", "are", "you", "?"}));
  EXPECT_EQ(basic_tokenize("H\u00E9llo", lower(true, false)), (Words{"h\u00E9llo"}));
}

TEST(TransformersBert, BasicTokenizerLowerStripAccentsTrue) {
  EXPECT_EQ(basic_tokenize(" \tHäLLo!how  \n Are yoU?  ", lower(true, true)),
            (Words{"hallo", "!", "how", "are", "you", "?"}));
  EXPECT_EQ(basic_tokenize("H\u00E9llo", lower(true, true)), (Words{"hello"}));
}

TEST(TransformersBert, BasicTokenizerLowerStripAccentsDefault) {
  // strip_accents unset follows lowercase.
  EXPECT_EQ(basic_tokenize(" \tHäLLo!how  \n Are yoU?  "),
            (Words{"hallo", "!", "how", "are", "you", "?"}));
}

TEST(TransformersBert, BasicTokenizerNoLower) {
  EXPECT_EQ(basic_tokenize(" \tHeLLo!how  \n Are yoU?  ", lower(false, false)),
            (Words{"HeLLo", "!", "how", "Are", "yoU", "?"}));
}

TEST(TransformersBert, BasicTokenizerNoLowerStripAccentsFalse) {
  EXPECT_EQ(basic_tokenize(" \tHäLLo!how  \n Are yoU?  ", lower(false, false)),
            (Words{"HäLLo", "!", "how", "Are", "yoU", "?"}));
}

TEST(TransformersBert, BasicTokenizerNoLowerStripAccentsTrue) {
  EXPECT_EQ(basic_tokenize(" \tHäLLo!how  \n Are yoU?  ", lower(false, true)),
            (Words{"HaLLo", "!", "how", "Are", "yoU", "?"}));
}

TEST(TransformersBert, RespectsNeverSplitTokens) {
  // The fast tokenizer's equivalent of never_split: "[UNK]" is an added token kept whole.
  const Tokenizer tokenizer = Tokenizer::from_tokens(transformers_vocab(), false, false);
  const Words tokens = words_of(tokenizer, " \tHeLLo!how  \n Are yoU? [UNK]");
  ASSERT_FALSE(tokens.empty());
  EXPECT_EQ(tokens.back(), "[UNK]");
  EXPECT_EQ(basic_tokenize(" \tHeLLo!how  \n Are yoU?", lower(false, false)),
            (Words{"HeLLo", "!", "how", "Are", "yoU", "?"}));
}

TEST(TransformersBert, SplitsOnPunctuation) {
  EXPECT_EQ(
      basic_tokenize("a\n'll !!to?'d of, can't."),
      (Words{"a", "'", "ll", "!", "!", "to", "?", "'", "d", "of", ",", "can", "'", "t", "."}));
}

TEST(TransformersBert, RemovesControlChars) {
  // U+200E / U+200F (left-to-right / right-to-left marks) are format characters: dropped.
  EXPECT_EQ(basic_tokenize("\u200E\u200F"), Words{});
}

TEST(TransformersBert, WordpieceTokenizer) {
  const std::vector<std::string> vocab{"[UNK]", "[CLS]", "[SEP]", "want", "##want",
                                       "##ed",  "wa",    "un",    "runn", "##ing"};
  EXPECT_EQ(wordpiece(vocab, ""), Words{});
  EXPECT_EQ(wordpiece(vocab, "unwanted running"), (Words{"un", "##want", "##ed", "runn", "##ing"}));
  EXPECT_EQ(wordpiece(vocab, "unwantedX running"), (Words{"[UNK]", "runn", "##ing"}));
}

TEST(TransformersBert, IsWhitespace) {
  for (char32_t c : {U' ', U'\t', U'\r', U'\n', char32_t{0xA0}})
    EXPECT_TRUE(text::is_whitespace(c));
  EXPECT_FALSE(text::is_whitespace(U'A'));
  EXPECT_FALSE(text::is_whitespace(U'-'));
}

TEST(TransformersBert, IsControl) {
  EXPECT_TRUE(text::is_control(0x05));
  for (char32_t c : {U'A', U' ', U'\t', U'\r'}) EXPECT_FALSE(text::is_control(c));
}

TEST(TransformersBert, IsPunctuation) {
  for (char32_t c : {U'-', U'$', U'`', U'.'}) EXPECT_TRUE(text::is_punctuation(c));
  EXPECT_FALSE(text::is_punctuation(U'A'));
  EXPECT_FALSE(text::is_punctuation(U' '));
}

TEST(TransformersBert, CleanText) {
  const Tokenizer tokenizer = Tokenizer::from_tokens(transformers_vocab());
  EXPECT_EQ(words_of(tokenizer, "Test"), Words{"[UNK]"});
  EXPECT_EQ(words_of(tokenizer, "\xC2\xAD"), Words{});  // soft hyphen alone -> nothing
  EXPECT_EQ(words_of(tokenizer, "test"), Words{"[UNK]"});
}

TEST(TransformersBert, SequenceBuilders) {
  const Tokenizer tokenizer = Tokenizer::from_folder(test::default_model_folder());
  EncodeOptions plain;
  plain.add_special_tokens = false;
  const auto a = tokenizer.encode("sequence builders", plain).ids;
  const auto b = tokenizer.encode("multi-sequence build", plain).ids;
  std::vector<std::int32_t> single{101};
  single.insert(single.end(), a.begin(), a.end());
  single.push_back(102);
  EXPECT_EQ(tokenizer.encode("sequence builders").ids, single);
  std::vector<std::int32_t> pair = single;
  pair.insert(pair.end(), b.begin(), b.end());
  pair.push_back(102);
  EXPECT_EQ(tokenizer.encode("sequence builders", "multi-sequence build").ids, pair);
}

TEST(TransformersBert, OffsetsWithSpecialCharacters) {
  const Tokenizer tokenizer = Tokenizer::from_folder(test::default_model_folder());
  const std::string sentence = "A, naïve [MASK] AllenNLP sentence.";
  const Encoding e = tokenizer.encode(sentence);
  EXPECT_EQ(tokenizer.tokens(e.ids), (Words{"[CLS]", "a", ",", "naive", "[MASK]", "allen", "##nl",
                                            "##p", "sentence", ".", "[SEP]"}));
  // Hugging Face's expected offsets are in characters; "ï" is two bytes in UTF-8, so every
  // offset after it is one more in bytes.
  const std::vector<Offset> expected_chars{{0, 0},   {0, 1},   {1, 2},   {3, 8},
                                           {9, 15},  {16, 21}, {21, 23}, {23, 24},
                                           {25, 33}, {33, 34}, {0, 0}};
  ASSERT_EQ(e.offsets.size(), expected_chars.size());
  for (std::size_t i = 0; i < e.offsets.size(); ++i) {
    const Offset bytes = e.offsets[i];
    const Offset chars{
        static_cast<std::uint32_t>(text::count_code_points(sentence.substr(0, bytes.begin))),
        static_cast<std::uint32_t>(text::count_code_points(sentence.substr(0, bytes.end)))};
    EXPECT_EQ(chars, expected_chars[i]) << "token " << i;
  }
}

TEST(TransformersBert, ChangeTokenizeChineseChars) {
  const std::vector<std::string> vocab{"[UNK]", "的", "人", "有", "##的", "##人", "##有"};
  auto shared = std::make_shared<const text::Vocab>(std::vector<std::string>(vocab));
  const text::WordPiece model(shared);
  auto tokenize = [&](bool handle_chinese_chars) {
    text::NormalizerOptions options;
    options.handle_chinese_chars = handle_chinese_chars;
    Words out;
    for (const std::string& word : basic_tokenize("的人有", options)) {
      std::vector<text::Piece> pieces;
      model.tokenize(word, pieces);
      for (const auto& piece : pieces) out.emplace_back(shared->token(piece.id));
    }
    return out;
  };
  EXPECT_EQ(tokenize(true), (Words{"的", "人", "有"}));
  EXPECT_EQ(tokenize(false), (Words{"的", "##人", "##有"}));
}

// google-research/bert tokenization_test.py
TEST(GoogleBert, FullTokenizer) {
  const Tokenizer tokenizer = Tokenizer::from_tokens(
      {"[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn", "##ing", ","});
  const Encoding e = tokenizer.encode("UNwant\u00E9d,running", {.add_special_tokens = false});
  EXPECT_EQ(tokenizer.tokens(e.ids), (Words{"un", "##want", "##ed", ",", "runn", "##ing"}));
  EXPECT_EQ(e.ids, (std::vector<std::int32_t>{7, 4, 5, 10, 8, 9}));
}

TEST(GoogleBert, Chinese) {
  EXPECT_EQ(basic_tokenize("ah\u535A\u63A8zz"), (Words{"ah", "\u535A", "\u63A8", "zz"}));
}

TEST(GoogleBert, BasicTokenizerLowerAndNoLower) {
  EXPECT_EQ(basic_tokenize(" \tHeLLo!how  \n Are yoU?  "),
            (Words{"hello", "!", "how", "are", "you", "?"}));
  EXPECT_EQ(basic_tokenize("H\u00E9llo"), (Words{"hello"}));
  EXPECT_EQ(basic_tokenize(" \tHeLLo!how  \n Are yoU?  ", lower(false, false)),
            (Words{"HeLLo", "!", "how", "Are", "yoU", "?"}));
}

TEST(GoogleBert, WordpieceTokenizerAndIds) {
  const std::vector<std::string> vocab{"[UNK]", "[CLS]", "[SEP]", "want", "##want",
                                       "##ed",  "wa",    "un",    "runn", "##ing"};
  EXPECT_EQ(wordpiece(vocab, ""), Words{});
  EXPECT_EQ(wordpiece(vocab, "unwanted running"), (Words{"un", "##want", "##ed", "runn", "##ing"}));
  EXPECT_EQ(wordpiece(vocab, "unwantedX running"), (Words{"[UNK]", "runn", "##ing"}));
  const text::Vocab v{std::vector<std::string>(vocab)};
  std::vector<std::int32_t> ids;
  for (const char* token : {"un", "##want", "##ed", "runn", "##ing"}) ids.push_back(v.find(token));
  EXPECT_EQ(ids, (std::vector<std::int32_t>{7, 4, 5, 8, 9}));
}

// tokenizers bindings/python/tests/bindings/test_normalizers.py, TestBertNormalizer
std::string normalize(const std::string& input, bool clean, bool chinese, bool strip,
                      bool lowercase) {
  return text::Normalizer({clean, chinese, strip, lowercase}).normalize(input).text;
}

TEST(TokenizersNormalizer, StripAccents) {
  EXPECT_EQ(normalize("Héllò", false, false, true, false), "Hello");
}
TEST(TokenizersNormalizer, HandleChineseChars) {
  EXPECT_EQ(normalize("你好", false, true, false, false), " 你  好 ");
}
TEST(TokenizersNormalizer, CleanText) {
  EXPECT_EQ(normalize("\uFEFFHello", true, false, false, false), "Hello");
}
TEST(TokenizersNormalizer, Lowercase) {
  EXPECT_EQ(normalize("Héllò", false, false, false, true), "héllò");
}

// tokenizers tokenizers/src/pre_tokenizers/bert.rs
std::vector<std::pair<std::string, Offset>> splits(const std::string& input) {
  const text::NormalizedText n = text::Normalizer({false, true, false, false}).normalize(input);
  std::vector<text::Span> spans;
  text::pre_tokenize(n.text, spans);
  std::vector<std::pair<std::string, Offset>> out;
  for (const auto& s : spans) {
    const std::uint32_t last = n.origin[s.end - 1];
    out.push_back(
        {n.text.substr(s.begin, s.end - s.begin),
         {n.origin[s.begin], last + static_cast<std::uint32_t>(text::utf8_length(input[last]))}});
  }
  return out;
}

TEST(TokenizersPreTokenizer, Basic) {
  const std::vector<std::pair<std::string, Offset>> expected{
      {"Hey", {0, 3}},   {"friend", {4, 10}}, {"!", {10, 11}}, {"How", {16, 19}}, {"are", {20, 23}},
      {"you", {24, 27}}, {"?", {27, 28}},     {"!", {28, 29}}, {"?", {29, 30}}};
  EXPECT_EQ(splits("Hey friend!     How are you?!?"), expected);
}

TEST(TokenizersPreTokenizer, ChineseChars) {
  const std::vector<std::pair<std::string, Offset>> expected{
      {"野", {0, 3}},  {"口", {3, 6}},        {"里", {6, 9}},
      {"佳", {9, 12}}, {"Noguchi", {13, 20}}, {"Rika", {21, 25}}};
  EXPECT_EQ(splits("野口里佳 Noguchi Rika"), expected);
}

}  // namespace
}  // namespace bertlite
