// text/unicode.cpp - character classes and mappings, with Hugging Face tokenizers' data.
//
// Parity with Hugging Face tokenizers is the target, and tokenizers does not use one Unicode
// version: BertNormalizer's cleaning (which characters are "other"), its accent stripping
// (nonspacing marks) and BertPreTokenizer's punctuation come from the unicode_categories crate,
// frozen at about Unicode 8 (unassigned code points are not "other" there, so they are kept);
// whitespace and lowercase come from Rust's std (Unicode 16), NFD from the
// unicode-normalization crate. utf8proc (Unicode 15 here) agrees with none of them exactly.
// So the four classes are looked up in ranges, and lowercase and NFD apply a short list of
// overrides before asking utf8proc, all in hf_unicode_tables.inc, which
// tools/make_unicode_tables.py generates by asking the reference itself, code point by code
// point (rerun it when tokenizers or utf8proc changes; tests/python/test_unicode_tables.py
// fails until then, tests/text/golden_test.cpp checks every code point). ASCII never reaches
// the tables: callers' hot paths keep their own 128-entry tables, and each function here tests
// ASCII by rule first.
#include "text/unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>

namespace bertlite::text {

void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::size_t count_code_points(std::string_view bytes) {
  std::size_t count = 0;
  for (unsigned char c : bytes) count += (c & 0xC0) != 0x80;
  return count;
}

namespace {

// An inclusive range of code points.
struct CodePointRange {
  char32_t first, last;
};

// One code point's whole mapping; unused slots of `to` are 0 (no mapping produces U+0000).
struct CodePointMapping {
  char32_t from;
  char32_t to[4];
};

#include "text/hf_unicode_tables.inc"

constexpr bool sorted_and_disjoint(std::span<const CodePointRange> ranges) {
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].last < ranges[i].first) return false;
    if (i > 0 && ranges[i].first <= ranges[i - 1].last) return false;
  }
  return !ranges.empty();
}

constexpr bool sorted_and_unique(std::span<const CodePointMapping> mappings) {
  for (std::size_t i = 0; i < mappings.size(); ++i) {
    if (mappings[i].to[0] == 0) return false;
    if (i > 0 && mappings[i].from <= mappings[i - 1].from) return false;
  }
  return !mappings.empty();
}

// The binary searches below rely on these; a hand-edited table fails to compile.
static_assert(sorted_and_disjoint(kControl) && sorted_and_disjoint(kWhitespace) &&
              sorted_and_disjoint(kNonspacingMark) && sorted_and_disjoint(kPunctuation));
static_assert(sorted_and_unique(kLowercase) && sorted_and_unique(kNfd));

// A class as a bitmap over the Basic Multilingual Plane (8 KB, built at compile time): nearly
// all text is there, and a bit test is one load where a binary search is a chain of
// mispredicted branches. The supplementary planes, rarer, keep the binary search.
struct CodePointClass {
  std::span<const CodePointRange> ranges;
  std::array<std::uint64_t, 0x10000 / 64> bmp{};

  constexpr explicit CodePointClass(std::span<const CodePointRange> r) : ranges(r) {
    for (const CodePointRange& range : ranges) {
      for (char32_t cp = range.first; cp <= range.last && cp < 0x10000; ++cp) {
        bmp[cp >> 6] |= std::uint64_t{1} << (cp & 63);
      }
    }
  }

  bool contains(char32_t cp) const {
    if (cp < 0x10000) return (bmp[cp >> 6] >> (cp & 63)) & 1;
    // The first range starting after cp; the one before it is the only one that can hold cp.
    const auto after =
        std::upper_bound(ranges.begin(), ranges.end(), cp,
                         [](char32_t c, const CodePointRange& range) { return c < range.first; });
    return after != ranges.begin() && cp <= std::prev(after)->last;
  }
};

constexpr CodePointClass kControlClass(kControl);
constexpr CodePointClass kWhitespaceClass(kWhitespace);
constexpr CodePointClass kNonspacingMarkClass(kNonspacingMark);
constexpr CodePointClass kPunctuationClass(kPunctuation);

// Overrides with a filter of the 256-code-point blocks that hold any (544 bytes), so the
// binary search runs only for the few blocks where tokenizers and utf8proc differ.
struct Overrides {
  std::span<const CodePointMapping> mappings;
  std::array<std::uint64_t, 0x110000 / 256 / 64> blocks{};

  constexpr explicit Overrides(std::span<const CodePointMapping> m) : mappings(m) {
    for (const CodePointMapping& mapping : mappings) {
      blocks[mapping.from >> 14] |= std::uint64_t{1} << ((mapping.from >> 8) & 63);
    }
  }

  // The override for cp, or nullptr when utf8proc's answer stands.
  const CodePointMapping* find(char32_t cp) const {
    if (cp >= 0x110000 || !((blocks[cp >> 14] >> ((cp >> 8) & 63)) & 1)) return nullptr;
    const auto it = std::lower_bound(
        mappings.begin(), mappings.end(), cp,
        [](const CodePointMapping& mapping, char32_t c) { return mapping.from < c; });
    return it != mappings.end() && it->from == cp ? &*it : nullptr;
  }
};

constexpr Overrides kLowercaseOverrides(kLowercase);
constexpr Overrides kNfdOverrides(kNfd);

void append_mapping(const CodePointMapping& mapping, std::u32string& out) {
  for (char32_t c : mapping.to) {
    if (c == 0) break;
    out.push_back(c);
  }
}

}  // namespace

bool is_whitespace(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= '\t' && cp <= '\r');
  return kWhitespaceClass.contains(cp);
}

bool is_control(char32_t cp) {
  if (cp < 0x80) return (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0x7F;
  return kControlClass.contains(cp);
}

bool is_punctuation(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
           (cp >= 123 && cp <= 126);
  }
  return kPunctuationClass.contains(cp);
}

bool is_cjk(char32_t cp) {
  // Hugging Face tokenizers' ranges (bert.rs); the Python tokenizer starts the Extension E
  // range at 0x2B820, the Rust one - our parity target - at 0x2B920.
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool is_nonspacing_mark(char32_t cp) {
  if (cp < 0x80) return false;
  return kNonspacingMarkClass.contains(cp);
}

void append_nfd(char32_t cp, std::u32string& out) {
  if (cp < 0x80) {
    out.push_back(cp);
    return;
  }
  if (const CodePointMapping* mapping = kNfdOverrides.find(cp)) {
    append_mapping(*mapping, out);
    return;
  }
  // utf8proc_decompose_char writes the full (recursive) canonical decomposition; Hangul
  // syllables decompose algorithmically. A single character's decomposition is already in
  // canonical order, so no reordering pass is needed - and tokenizers decomposes character by
  // character, never reordering marks across characters.
  utf8proc_int32_t buffer[8];
  int last_boundclass = 0;
  const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buffer, 8,
                                                     UTF8PROC_DECOMPOSE, &last_boundclass);
  if (n <= 0 || n > 8) {  // cannot happen for valid code points; keep the character as is
    out.push_back(cp);
    return;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out.push_back(static_cast<char32_t>(buffer[i]));
}

void append_lowercase(char32_t cp, std::u32string& out) {
  if (cp < 0x80) {
    out.push_back(cp >= 'A' && cp <= 'Z' ? cp + ('a' - 'A') : cp);
    return;
  }
  // The overrides hold U+0130 (the one code point whose lowercase is two characters, i and
  // U+0307) and the letters utf8proc's Unicode version does not know yet.
  if (const CodePointMapping* mapping = kLowercaseOverrides.find(cp)) {
    append_mapping(*mapping, out);
    return;
  }
  out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
}

}  // namespace bertlite::text
