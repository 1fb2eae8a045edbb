// text/unicode.h - UTF-8 decoding and the character classes BERT tokenization uses.
//
// The classes and mappings are Hugging Face tokenizers' (BertNormalizer and BertPreTokenizer,
// REFERENCE.md section 2), the parity target, on every code point: the classes are tables
// generated from tokenizers itself (hf_unicode_tables.inc, see unicode.cpp for why), the
// mappings are utf8proc's (canonical decomposition, simple case mapping) with the generated
// overrides where tokenizers differs. This file knows nothing of vocabularies or tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/utf8.h"

namespace bertlite::text {

// Validation lives in util (every layer reading outside text needs it).
using util::check_utf8;
using util::find_invalid_utf8;

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

// Unicode White_Space, which holds \t \n \r (Rust's char::is_whitespace, which BERT uses).
bool is_whitespace(char32_t cp);
// The characters BERT's cleaning drops (U+FFFD aside, dropped by name): Cc except \t \n \r, Cf
// and Co as of unicode_categories' Unicode version (about 8.0). Unassigned code points (Cn),
// and format characters assigned since, are kept, as tokenizers keeps them.
bool is_control(char32_t cp);
// Any ASCII punctuation (so $ + < = > ^ ` | ~ count) or a Unicode P* character as of
// unicode_categories' Unicode version (punctuation assigned since is a word character).
bool is_punctuation(char32_t cp);
// The CJK ideograph blocks BERT puts spaces around (Hangul, kana are not among them).
bool is_cjk(char32_t cp);
// General category Mn as of unicode_categories' Unicode version: the marks that accent stripping
// removes after NFD. Defined for the code points that are their own NFD (all that NFD outputs).
bool is_nonspacing_mark(char32_t cp);

// Appends the canonical decomposition (NFD) of one code point, in canonical order, as
// tokenizers' unicode-normalization crate makes it.
void append_nfd(char32_t cp, std::u32string& out);

// Full lowercase mapping of one code point, as Rust's char::to_lowercase: the simple mapping,
// except U+0130, the one code point whose unconditional lowercase is two characters.
void append_lowercase(char32_t cp, std::u32string& out);

}  // namespace bertlite::text
