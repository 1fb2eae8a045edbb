// text/unicode.h - UTF-8 decoding and the character classes BERT tokenization uses.
//
// Character properties come from utf8proc (Unicode categories, canonical decomposition,
// simple case mapping); the class definitions follow Hugging Face tokenizers' BertNormalizer
// and BertPreTokenizer (REFERENCE.md section 2), which is the parity target. This file knows
// nothing of vocabularies or tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bertlite::text {

// Byte offset of the first invalid UTF-8 sequence in `bytes`, or npos when all of it is valid.
// Overlong forms, surrogates and code points above U+10FFFF are invalid.
std::size_t find_invalid_utf8(std::string_view bytes);

// Throws ParseError "invalid UTF-8 at byte N" (prefixed by `where`, e.g. "input.txt:12: ")
// when `bytes` is not valid UTF-8.
void check_utf8(std::string_view bytes, std::string_view where = {});

// Length in bytes of the UTF-8 sequence that starts with `lead` (1..4). Input must be valid.
inline int utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

// Decodes the code point at bytes[pos] (valid UTF-8 assumed) and advances pos past it.
inline char32_t decode_utf8(std::string_view bytes, std::size_t& pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + pos;
  const int length = utf8_length(p[0]);
  pos += length;
  switch (length) {
    case 1:
      return p[0];
    case 2:
      return (char32_t(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    case 3:
      return (char32_t(p[0] & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    default:
      return (char32_t(p[0] & 0x07) << 18) | (char32_t(p[1] & 0x3F) << 12) |
             (char32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
  }
}

// Appends the UTF-8 encoding of `cp` to `out`.
void append_utf8(char32_t cp, std::string& out);

// Number of code points in valid UTF-8 `bytes`.
std::size_t count_code_points(std::string_view bytes);

// Unicode White_Space, plus \t \n \r (Rust's char::is_whitespace, which BERT uses).
bool is_whitespace(char32_t cp);
// "Other" categories (Cc, Cf, Cn, Co, Cs) except \t \n \r: the characters BERT's cleaning drops.
bool is_control(char32_t cp);
// Any ASCII punctuation (so $ + < = > ^ ` | ~ count) or a Unicode P* category.
bool is_punctuation(char32_t cp);
// The CJK ideograph blocks BERT puts spaces around (Hangul, kana are not among them).
bool is_cjk(char32_t cp);
// General category Mn: the marks that accent stripping removes after NFD.
bool is_nonspacing_mark(char32_t cp);

// Appends the canonical decomposition (NFD) of one code point, in canonical order.
void append_nfd(char32_t cp, std::u32string& out);

// Full lowercase mapping of one code point, as Rust's char::to_lowercase: the simple mapping,
// except U+0130, the one code point whose unconditional lowercase is two characters.
void append_lowercase(char32_t cp, std::u32string& out);

}  // namespace bertlite::text
