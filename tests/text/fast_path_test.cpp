// tests/text/fast_path_test.cpp - the tokenizer's fast path against its slow twins.
//
// The fused ASCII pass (text/ascii_scan.h, Tokenizer::Impl::tokenize_ascii_segment) must give
// exactly what the general path gives (normalize -> pre-tokenize -> WordPiece, stage by stage),
// and every vector classifier of the scan what the one-byte-at-a-time classifier gives. The
// token table's inline short keys, its table of other keys and its filter must agree with a
// std::map. Inputs are random but seeded, so a failure reproduces.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bertlite/error.h"
#include "bertlite/tokenizer.h"
#include "test_helpers.h"
#include "text/ascii_scan.h"
#include "text/tokenizer_impl.h"
#include "text/vocab.h"

namespace bertlite {
namespace {

// ---------------------------------------------------------------------------------------------
// The ASCII scan.
// ---------------------------------------------------------------------------------------------

struct Items {
  std::vector<std::uint32_t> begins, ends;
  bool operator==(const Items&) const = default;
};

bool is_alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// The items by their definition: each maximal run of letters and digits, and each other byte
// that is not ' ' on its own.
Items expected_items(std::string_view bytes) {
  Items items;
  for (std::size_t i = 0; i < bytes.size();) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == ' ') {
      ++i;
      continue;
    }
    std::size_t end = i + 1;
    if (is_alnum(c)) {
      while (end < bytes.size() && is_alnum(static_cast<unsigned char>(bytes[end]))) ++end;
    }
    items.begins.push_back(static_cast<std::uint32_t>(i));
    items.ends.push_back(static_cast<std::uint32_t>(end));
    i = end;
  }
  return items;
}

Items items_of(const text::AsciiScan& scan) {
  return {std::vector<std::uint32_t>(scan.begins.begin(), scan.begins.begin() + scan.items),
          std::vector<std::uint32_t>(scan.ends.begin(), scan.ends.begin() + scan.items)};
}

using ScanFunction = bool (*)(std::string_view, bool, text::AsciiScan&);

// Every implementation this CPU can run, by name.
std::vector<std::pair<std::string, ScanFunction>> scanners() {
  std::vector<std::pair<std::string, ScanFunction>> all = {{"scan_ascii", text::scan_ascii},
                                                           {"scalar", text::scan_ascii_scalar}};
#if defined(BERTLITE_SCAN_X86)
  all.emplace_back("sse2", text::scan_ascii_sse2);
  if (text::cpu_has_avx2()) all.emplace_back("avx2", text::scan_ascii_avx2);
#endif
  return all;
}

// Random ASCII over an alphabet that hits every class: letters of both cases, digits, ' ',
// punctuation, tab, newline, control characters, NUL and DEL.
std::string random_ascii(std::mt19937& rng, std::size_t length) {
  static const std::string alphabet =
      "aAbBzZmMqQ09 5  ,.!?'-[]$~`\t\n\r\x01\x1f\x7f" + std::string(1, '\0');
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string s(length, ' ');
  for (char& c : s) c = alphabet[pick(rng)];
  return s;
}

TEST(AsciiScan, ItemsAndLoweredBytesMatchTheirDefinitionOnEveryClassifier) {
  std::mt19937 rng(20261125);
  std::vector<std::string> inputs = {"", " ", "a", "A", ",", "ab cd", "  x  ", "word,word"};
  // Lengths around the 64-byte chunks, where carries between chunks matter.
  for (std::size_t length : {1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200, 1000}) {
    for (int k = 0; k < 20; ++k) inputs.push_back(random_ascii(rng, length));
    inputs.push_back(std::string(length, 'x'));  // one word up to or across chunk ends
    inputs.push_back(std::string(length, ','));  // one item per byte
    inputs.push_back(std::string(length, ' '));  // no item at all
  }
  text::AsciiScan scan;
  for (const auto& [name, scan_function] : scanners()) {
    for (const std::string& input : inputs) {
      for (bool lowercase : {false, true}) {
        SCOPED_TRACE(name + " lowercase=" + std::to_string(lowercase) + " on \"" + input + "\"");
        ASSERT_TRUE(scan_function(input, lowercase, scan));
        EXPECT_EQ(items_of(scan), expected_items(input));
        std::string lowered = input;
        if (lowercase) {
          for (char& c : lowered) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
        }
        EXPECT_EQ(std::string_view(scan.lowered.data(), input.size()), lowered);
        EXPECT_EQ(std::string_view(scan.lowered.data() + input.size(), text::AsciiScan::kPadding),
                  std::string(text::AsciiScan::kPadding, '\0'));
      }
    }
  }
}

TEST(AsciiScan, RejectsAnyNonAsciiByte) {
  text::AsciiScan scan;
  for (const auto& [name, scan_function] : scanners()) {
    for (std::size_t length : {1, 20, 64, 65, 130}) {
      for (std::size_t at : {std::size_t{0}, length / 2, length - 1}) {
        for (unsigned char byte : {0x80, 0xC3, 0xFF}) {
          std::string input(length, 'a');
          input[at] = static_cast<char>(byte);
          EXPECT_FALSE(scan_function(input, true, scan))
              << name << ": byte " << int{byte} << " at " << at << " of " << length;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The token table.
// ---------------------------------------------------------------------------------------------

TEST(TokenTable, FindsShortAndOtherKeysAndNothingElse) {
  // Short keys (1..12 bytes), other keys (longer, empty, or holding NUL), near misses.
  std::map<std::string, std::int32_t> keys;
  const std::vector<std::string> listed = {"a",
                                           "ab",
                                           "abcdefgh",
                                           "abcdefghi",
                                           "abcdefghijkl",
                                           "abcdefghijklm",
                                           "",
                                           std::string("a\0", 2),
                                           std::string("\0", 1),
                                           std::string("ab\0cd", 5),
                                           "##",
                                           "\xC3\xA9",
                                           "international",
                                           "supercalifragilistic"};
  for (std::size_t i = 0; i < listed.size(); ++i) keys[listed[i]] = static_cast<std::int32_t>(i);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> letter('a', 'z'), length(1, 20);
  // Enough random keys that some buckets overflow into the next.
  while (keys.size() < 6000) {
    std::string key(static_cast<std::size_t>(length(rng)), ' ');
    for (char& c : key) c = static_cast<char>(letter(rng));
    keys.emplace(key, static_cast<std::int32_t>(keys.size()));
  }
  std::vector<std::pair<std::string_view, std::int32_t>> entries(keys.begin(), keys.end());
  text::TokenTable table;
  table.build(entries);
  for (const auto& [key, id] : keys) {
    ASSERT_EQ(table.find(key), id) << "key of " << key.size() << " bytes: " << key;
    if (text::TokenTable::is_short(key)) {
      EXPECT_EQ(table.find_short(text::ShortKey::load_unpadded(key)), id);
      EXPECT_EQ(table.find_short_filtered(text::ShortKey::load_unpadded(key)), id);
    }
  }
  // Absent keys: prefixes and extensions of present ones (a NUL on the end is not padding).
  for (const std::string& absent :
       {std::string("abc"), std::string("abcdefghij"), std::string("abcdefghijk"),
        std::string("abcdefghijklmn"), std::string("a\0\0", 3), std::string("ab\0", 3),
        std::string("\0\0", 2), std::string("#"), std::string("\xC3")}) {
    EXPECT_EQ(table.find(absent), -1) << absent;
    if (text::TokenTable::is_short(absent)) {
      EXPECT_EQ(table.find_short(text::ShortKey::load_unpadded(absent)), -1);
      EXPECT_EQ(table.find_short_filtered(text::ShortKey::load_unpadded(absent)), -1);
    }
  }
  for (int k = 0; k < 20000; ++k) {
    std::string key(static_cast<std::size_t>(length(rng)), ' ');
    for (char& c : key) c = static_cast<char>(letter(rng));
    const auto it = keys.find(key);
    EXPECT_EQ(table.find(key), it == keys.end() ? -1 : it->second) << key;
  }
}

TEST(TokenTable, ARepeatedKeyKeepsTheLaterIdAndAnEmptyTableFindsNothing) {
  text::TokenTable table;
  EXPECT_EQ(table.find("a"), -1);
  EXPECT_EQ(table.find(""), -1);
  EXPECT_EQ(table.find("a long key, not a short one"), -1);
  const std::string long_key = "a long key, not a short one";
  table.build({{"a", 1}, {long_key, 2}, {"a", 3}, {long_key, 4}});
  EXPECT_EQ(table.find("a"), 3);
  EXPECT_EQ(table.find(long_key), 4);
}

TEST(ShortKey, PrefixesAndPaddedLoadsAgreeWithCopies) {
  const std::string padded = std::string("abcdefghijkl") + std::string(16, 'Z');
  for (std::size_t n = 1; n <= text::ShortKey::kMaxBytes; ++n) {
    const text::ShortKey copied = text::ShortKey::load_unpadded(padded.substr(0, n));
    const text::ShortKey in_place = text::ShortKey::load(padded.data(), n);
    const text::ShortKey prefix = text::ShortKey::load(padded.data(), 12).prefix(n);
    EXPECT_EQ(copied.lo, in_place.lo) << n;
    EXPECT_EQ(copied.hi, in_place.hi) << n;
    EXPECT_EQ(copied.lo, prefix.lo) << n;
    EXPECT_EQ(copied.hi, prefix.hi) << n;
  }
}

// ---------------------------------------------------------------------------------------------
// The fused ASCII pass against the general path.
// ---------------------------------------------------------------------------------------------

// Turns the fused pass off for its lifetime.
class GeneralPathOnly {
 public:
  GeneralPathOnly() { text::set_general_path_only(true); }
  ~GeneralPathOnly() { text::set_general_path_only(false); }
};

// A tokenizer.json around the default model's vocabulary, with the given normalizer switches
// and WordPiece character limit.
Tokenizer variant(bool lowercase, bool clean_text, int max_chars) {
  const Tokenizer base = Tokenizer::from_folder(test::default_model_folder());
  std::string vocab;
  for (std::size_t id = 0; id < base.info().vocab_size; ++id) {
    std::string token(base.token(static_cast<std::int32_t>(id)));
    std::string quoted;
    for (char c : token) {
      if (c == '"' || c == '\\') quoted.push_back('\\');
      quoted.push_back(c);
    }
    vocab += (id ? ",\"" : "\"") + quoted + "\":" + std::to_string(id);
  }
  const std::string json = R"({"version": "1.0",
    "added_tokens": [{"id": 101, "content": "[CLS]", "special": true},
                     {"id": 102, "content": "[SEP]", "special": true}],
    "normalizer": {"type": "BertNormalizer", "lowercase": )" +
                           std::string(lowercase ? "true" : "false") + R"(, "clean_text": )" +
                           std::string(clean_text ? "true" : "false") + R"(},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": null, "decoder": null,
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "max_input_chars_per_word": )" +
                           std::to_string(max_chars) + R"(, "vocab": {)" + vocab + "}}}";
  return Tokenizer::from_tokenizer_json_text(json, "variant.json");
}

// Random texts: words of the vocabulary in any case, pieces of words, long words, digits,
// punctuation, literal added tokens, and the odd control character or tab.
std::vector<std::string> random_texts(const Tokenizer& tokenizer, std::size_t count) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<std::int32_t> token_id(999, 30000);
  std::uniform_int_distribution<int> kind(0, 19), small(0, 9);
  const std::vector<std::string> extras = {",",     ".",     "'",        "(",     "$",
                                           "[SEP]", "[CLS]", "\t",       "\n",    "\x01",
                                           "\x7f",  "1930s", "ABCDEFGH", "naïve", "\xc2\xa0"};
  std::vector<std::string> texts;
  for (std::size_t t = 0; t < count; ++t) {
    std::string text;
    const int words = small(rng) * 5;
    for (int w = 0; w < words; ++w) {
      std::string word(tokenizer.token(token_id(rng)));
      if (word.starts_with("##")) word = word.substr(2);
      switch (kind(rng)) {
        case 0:  // upper case
          for (char& c : word) c = c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c;
          break;
        case 1:  // glued to the next word: often not a token, so WordPiece splits it
          text += word;
          word = tokenizer.token(token_id(rng));
          break;
        case 2:  // a long word
          for (int k = 0; k < small(rng); ++k) word += word;
          break;
        case 3:
          word = extras[static_cast<std::size_t>(small(rng)) % extras.size()];
          break;
        case 4:
          word += extras[static_cast<std::size_t>(small(rng) + 5) % extras.size()];
          break;
        default:
          break;
      }
      text += word;
      if (kind(rng) != 0) text += ' ';
    }
    texts.push_back(text);
  }
  return texts;
}

void expect_same_encodings(const Tokenizer& tokenizer, const std::vector<std::string>& texts) {
  EncodeOptions options;
  options.add_special_tokens = false;
  const std::vector<Encoding> fused = tokenizer.encode_batch(texts, options, 1);
  std::vector<Encoding> general;
  {
    GeneralPathOnly general_path_only;
    general = tokenizer.encode_batch(texts, options, 1);
  }
  ASSERT_EQ(fused.size(), general.size());
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < texts.size() && mismatches < 5; ++i) {
    if (fused[i].ids != general[i].ids || fused[i].offsets != general[i].offsets) {
      ++mismatches;
      ADD_FAILURE() << "text " << i << ": \"" << texts[i]
                    << "\"\n  fused:   " << testing::PrintToString(tokenizer.tokens(fused[i].ids))
                    << "\n  general: " << testing::PrintToString(tokenizer.tokens(general[i].ids));
    }
  }
}

TEST(FusedAsciiPass, MatchesTheGeneralPathOnRandomTexts) {
  const Tokenizer tokenizer = Tokenizer::from_folder(test::default_model_folder());
  expect_same_encodings(tokenizer, random_texts(tokenizer, 3000));
}

TEST(FusedAsciiPass, MatchesTheGeneralPathWithOtherNormalizerAndWordPieceOptions) {
  const Tokenizer base = Tokenizer::from_folder(test::default_model_folder());
  const std::vector<std::string> texts = random_texts(base, 600);
  for (bool lowercase : {true, false}) {
    for (bool clean_text : {true, false}) {
      for (int max_chars : {100, 5, 1, 0}) {
        SCOPED_TRACE("lowercase " + std::to_string(lowercase) + " clean_text " +
                     std::to_string(clean_text) + " max_input_chars_per_word " +
                     std::to_string(max_chars));
        expect_same_encodings(variant(lowercase, clean_text, max_chars), texts);
      }
    }
  }
}

TEST(FusedAsciiPass, InvalidUtf8IsStillAnErrorNamingTheOffset) {
  // The fused pass checks UTF-8 only when a segment is not ASCII: the error must not change.
  const Tokenizer tokenizer = Tokenizer::from_folder(test::default_model_folder());
  for (const std::string& text : {std::string("abc [SEP] \xFF"), std::string("\x80"),
                                  std::string("[CLS]\xC3"), std::string("a b c d e f \xE2\x82")}) {
    std::string fused_error, general_error;
    try {
      tokenizer.encode(text);
    } catch (const ParseError& e) {
      fused_error = e.what();
    }
    {
      GeneralPathOnly general_path_only;
      try {
        tokenizer.encode(text);
      } catch (const ParseError& e) {
        general_error = e.what();
      }
    }
    EXPECT_FALSE(fused_error.empty()) << text;
    EXPECT_EQ(fused_error, general_error) << text;
  }
}

}  // namespace
}  // namespace bertlite
