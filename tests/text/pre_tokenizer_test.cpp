// Stage tests for text/pre_tokenizer.h: whitespace splits and drops, punctuation isolates.
#include "text/pre_tokenizer.h"

#include <gtest/gtest.h>

#include <string>

namespace bertlite::text {
namespace {

std::vector<std::string> words(const std::string& text) {
  std::vector<Span> spans;
  pre_tokenize(text, spans);
  std::vector<std::string> out;
  for (const auto& s : spans) out.push_back(text.substr(s.begin, s.end - s.begin));
  return out;
}

TEST(PreTokenizer, SplitsOnWhitespaceAndPunctuation) {
  EXPECT_EQ(words("hello, world!!"), (std::vector<std::string>{"hello", ",", "world", "!", "!"}));
  EXPECT_EQ(words("  "), std::vector<std::string>{});
  EXPECT_EQ(words(""), std::vector<std::string>{});
  EXPECT_EQ(words("a$b+c"), (std::vector<std::string>{"a", "$", "b", "+", "c"}));
}

TEST(PreTokenizer, UnicodeClasses) {
  // U+3000 ideographic space separates; U+300C (corner bracket, Ps) is punctuation;
  // U+20AC euro sign (Sc) stays inside the word.
  EXPECT_EQ(words("a\xE3\x80\x80"
                  "b\xE3\x80\x8C"
                  "c\xE2\x82\xAC"
                  "d"),
            (std::vector<std::string>{"a", "b", "\xE3\x80\x8C",
                                      "c\xE2\x82\xAC"
                                      "d"}));
}

TEST(PreTokenizer, SpansAreByteOffsets) {
  std::vector<Span> spans;
  pre_tokenize("\xC3\xA9t\xC3\xA9 ok", spans);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].begin, 0u);
  EXPECT_EQ(spans[0].end, 5u);
  EXPECT_EQ(spans[1].begin, 6u);
  EXPECT_EQ(spans[1].end, 8u);
}

}  // namespace
}  // namespace bertlite::text
