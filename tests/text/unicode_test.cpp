// Stage tests for text/unicode.h: UTF-8 validation and decoding, character classes.
#include "text/unicode.h"

#include <gtest/gtest.h>

#include "bertlite/error.h"

namespace bertlite::text {
namespace {

constexpr auto npos = std::string_view::npos;

TEST(Utf8, AcceptsValidText) {
  EXPECT_EQ(find_invalid_utf8(""), npos);
  EXPECT_EQ(find_invalid_utf8("plain ascii, long enough for the 8-byte path"), npos);
  EXPECT_EQ(find_invalid_utf8("na\xC3\xAFve \xE4\xBD\xA0 \xF0\x9F\x98\x80"), npos);
  EXPECT_EQ(find_invalid_utf8("\xF4\x8F\xBF\xBF"), npos);  // U+10FFFF
}

TEST(Utf8, FindsTheFirstInvalidByte) {
  using namespace std::string_view_literals;
  EXPECT_EQ(find_invalid_utf8("abc\x80"), 3u);           // stray continuation
  EXPECT_EQ(find_invalid_utf8("abcdefghij\xC3"), 10u);   // truncated at the end
  EXPECT_EQ(find_invalid_utf8("a\xC3(b"), 1u);           // bad continuation
  EXPECT_EQ(find_invalid_utf8("\xC0\xAF"), 0u);          // overlong '/'
  EXPECT_EQ(find_invalid_utf8("x\xE0\x80\xAF"), 1u);     // overlong 3-byte
  EXPECT_EQ(find_invalid_utf8("xy\xED\xA0\x80"), 2u);    // surrogate U+D800
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(find_invalid_utf8("\xFF"), 0u);
  EXPECT_EQ(find_invalid_utf8("ok\0ok\xFE"sv), 5u);  // NUL is valid UTF-8
}

TEST(Utf8, CheckThrowsParseErrorNamingTheOffset) {
  try {
    check_utf8("good \xE2\x82", "input.txt:3: ");
    FAIL() << "expected ParseError";
  } catch (const ParseError& error) {
    EXPECT_STREQ(error.what(), "input.txt:3: invalid UTF-8 at byte 5");
  }
}

TEST(Utf8, DecodeAndAppendRoundTrip) {
  for (char32_t cp :
       {char32_t{0x41}, char32_t{0xE9}, char32_t{0x4F60}, char32_t{0x1F600}, char32_t{0x10FFFF}}) {
    std::string bytes;
    append_utf8(cp, bytes);
    std::size_t pos = 0;
    EXPECT_EQ(decode_utf8(bytes, pos), cp);
    EXPECT_EQ(pos, bytes.size());
    EXPECT_EQ(static_cast<std::size_t>(utf8_length(static_cast<unsigned char>(bytes[0]))),
              bytes.size());
  }
  EXPECT_EQ(count_code_points("na\xC3\xAFve"), 5u);
}

TEST(CharClasses, FollowHuggingFace) {
  // Rust's char::is_whitespace: White_Space, including U+0085 (which cleaning drops first).
  for (char32_t c :
       std::initializer_list<char32_t>{0x20u, 0x09u, 0x0Bu, 0x85u, 0xA0u, 0x1680u, 0x2000u, 0x200Au,
                                       0x2028u, 0x202Fu, 0x205Fu, 0x3000u}) {
    EXPECT_TRUE(is_whitespace(c)) << std::hex << static_cast<std::uint32_t>(c);
  }
  for (char32_t c : std::initializer_list<char32_t>{0x200Bu, 0xFEFFu, 0x180Eu, 0x78u})
    EXPECT_FALSE(is_whitespace(c)) << std::hex << static_cast<std::uint32_t>(c);
  // Controls: Cc (not \t\n\r), Cf, Co; surrogates never reach here (invalid UTF-8). Unassigned
  // code points (U+0378) are kept: tokenizers' unicode_categories has no Cn table.
  for (char32_t c : std::initializer_list<char32_t>{0x00u, 0x7Fu, 0x85u, 0xADu, 0x200Bu, 0xFEFFu,
                                                    0xE000u, 0xE0001u}) {
    EXPECT_TRUE(is_control(c)) << std::hex << static_cast<std::uint32_t>(c);
  }
  for (char32_t c :
       std::initializer_list<char32_t>{0x09u, 0x0Au, 0x0Du, 0x61u, 0x3000u, 0x0378u, 0x10FFFFu})
    EXPECT_FALSE(is_control(c)) << std::hex << static_cast<std::uint32_t>(c);
  // Punctuation: every printable non-alphanumeric ASCII character, and Unicode P*.
  for (char c : std::string("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")) {
    EXPECT_TRUE(is_punctuation(static_cast<char32_t>(c))) << c;
  }
  for (char32_t c : std::initializer_list<char32_t>{0xBFu, 0x2014u, 0x3001u, 0x300Cu, 0xFF01u})
    EXPECT_TRUE(is_punctuation(c));
  for (char32_t c :
       std::initializer_list<char32_t>{0x61u, 0x30u, 0x20u, 0x20ACu /* euro sign: Sc */})
    EXPECT_FALSE(is_punctuation(c));
  // CJK: ideographs only; Extension E starts at 0x2B920 in the Rust tokenizer.
  EXPECT_TRUE(is_cjk(0x4E00));
  EXPECT_TRUE(is_cjk(0xF900));
  EXPECT_FALSE(is_cjk(0x3042));  // hiragana
  EXPECT_FALSE(is_cjk(0xAC00));  // hangul
  EXPECT_FALSE(is_cjk(0x2B820));
  EXPECT_TRUE(is_cjk(0x2B920));
}

TEST(CharClasses, UseHuggingFacesOlderUnicodeData) {
  // Each checked against tokenizers 0.23.3: its categories are Unicode 8's, newer than
  // utf8proc's in some places and older in others.
  EXPECT_FALSE(is_control(0x13430));          // Egyptian format control (Cf since Unicode 12): kept
  EXPECT_TRUE(is_nonspacing_mark(0x1734));    // Mn in Unicode 8, Mc since 14: stripped
  EXPECT_FALSE(is_nonspacing_mark(0x1E08F));  // Mn since Unicode 15: not stripped
  EXPECT_TRUE(is_punctuation(0x166D));        // Po in Unicode 8, So since 12
  EXPECT_FALSE(is_punctuation(0x2E5D));       // Pd since Unicode 14: a word character
  std::u32string out;
  append_lowercase(0x1C89, out);  // a Unicode 16 capital, newer than utf8proc
  EXPECT_EQ(out, std::u32string(1, 0x1C8A));
  out.clear();
  append_nfd(0x11938, out);  // utf8proc decomposes it, tokenizers' NFD does not
  EXPECT_EQ(out, std::u32string(1, 0x11938));
}

TEST(CharMappings, DecompositionAndCase) {
  std::u32string out;
  append_nfd(0xE9, out);  // é
  EXPECT_EQ(out, (std::u32string{U'e', 0x301}));
  out.clear();
  append_nfd(0xD55C, out);  // 한 -> three jamo
  EXPECT_EQ(out.size(), 3u);
  out.clear();
  append_nfd(0x1E69, out);  // ṩ: s + dot below + dot above, canonical order
  EXPECT_EQ(out, (std::u32string{U's', 0x323, 0x307}));
  out.clear();
  append_lowercase(0x130, out);
  EXPECT_EQ(out, (std::u32string{U'i', 0x307}));
  out.clear();
  append_lowercase(0x3A3, out);  // Σ -> σ, never the final form
  EXPECT_EQ(out, std::u32string(1, 0x3C3));
}

}  // namespace
}  // namespace bertlite::text
