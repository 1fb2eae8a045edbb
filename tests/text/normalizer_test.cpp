// Stage tests for text/normalizer.h: each step, and the map back to original offsets.
#include "text/normalizer.h"

#include <gtest/gtest.h>

namespace bertlite::text {
namespace {

TEST(Normalizer, AsciiCleanAndLowercase) {
  const Normalizer normalizer;
  const NormalizedText n = normalizer.normalize(
      "A\tB\x01"
      "C\r\nD");
  EXPECT_EQ(n.text,
            "a b"
            "c  d");
  EXPECT_EQ(n.origin, (std::vector<std::uint32_t>{0, 1, 2, 4, 5, 6, 7}));
}

TEST(Normalizer, DropsNulReplacementCharAndFormatChars) {
  using namespace std::string_literals;
  const NormalizedText n = Normalizer().normalize(
      "a\0b\xEF\xBF\xBD"
      "c\xE2\x80\x8B"
      "d"s);
  EXPECT_EQ(n.text, "abcd");
  EXPECT_EQ(n.origin, (std::vector<std::uint32_t>{0, 2, 6, 10}));
}

TEST(Normalizer, UnicodeSpacesBecomeSpaces) {
  EXPECT_EQ(Normalizer()
                .normalize("a\xC2\xA0"
                           "b\xE3\x80\x80"
                           "c")
                .text,
            "a b c");
}

TEST(Normalizer, StripsAccentsKeepingOrigins) {
  // "é" (2 bytes) -> "e"; both the precomposed and the decomposed form map to its start.
  const NormalizedText precomposed = Normalizer().normalize("caf\xC3\xA9!");
  EXPECT_EQ(precomposed.text, "cafe!");
  EXPECT_EQ(precomposed.origin, (std::vector<std::uint32_t>{0, 1, 2, 3, 5}));
  const NormalizedText decomposed = Normalizer().normalize("cafe\xCC\x81!");
  EXPECT_EQ(decomposed.text, "cafe!");
  EXPECT_EQ(decomposed.origin, (std::vector<std::uint32_t>{0, 1, 2, 3, 6}));
}

TEST(Normalizer, CjkCharactersGetSpacesMappedToThemselves) {
  const NormalizedText n = Normalizer().normalize(
      "a\xE4\xBD\xA0"
      "b");  // a你b
  EXPECT_EQ(n.text, "a \xE4\xBD\xA0 b");
  EXPECT_EQ(n.origin, (std::vector<std::uint32_t>{0, 1, 1, 1, 1, 1, 4}));
}

TEST(Normalizer, LowercaseIsPerCharacterWithoutFinalSigma) {
  EXPECT_EQ(Normalizer().normalize("ΟΔΟΣ").text, "οδοσ");
  // U+0130 decomposes (I + dot above), the dot is stripped, then I lowercases.
  EXPECT_EQ(Normalizer().normalize("\xC4\xB0").text, "i");
  // Without accent stripping, U+0130 lowercases to two characters, both from one origin.
  const NormalizedText kept = Normalizer({true, true, false, true}).normalize("\xC4\xB0");
  EXPECT_EQ(kept.text, "i\xCC\x87");
  EXPECT_EQ(kept.origin, (std::vector<std::uint32_t>{0, 0, 0}));
}

TEST(Normalizer, HangulDecomposesIntoJamo) {
  EXPECT_EQ(Normalizer().normalize("\xED\x95\x9C").text, "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB");
}

TEST(Normalizer, OptionsOff) {
  const Normalizer off({false, false, false, false});
  EXPECT_EQ(off.normalize("A\x01\xC3\xA9\xE4\xBD\xA0").text, "A\x01\xC3\xA9\xE4\xBD\xA0");
}

TEST(Normalizer, BaseOffsetShiftsOrigins) {
  NormalizedText n;
  Normalizer().normalize("Ab", 10, n);
  EXPECT_EQ(n.origin, (std::vector<std::uint32_t>{10, 11}));
}

}  // namespace
}  // namespace bertlite::text
