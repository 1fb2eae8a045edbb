#include "text/normalizer.h"

#include "text/unicode.h"

namespace bertlite::text {

Normalizer::Normalizer(NormalizerOptions options) : options_(options) {
  // ASCII never decomposes, has no CJK and no marks, so each byte maps to at most one byte;
  // the table lets the common case skip all Unicode look-ups.
  for (int c = 0; c < 128; ++c) {
    std::int16_t mapped = static_cast<std::int16_t>(c);
    if (options_.clean_text) {
      if (c == 0 || is_control(static_cast<char32_t>(c))) {
        mapped = kDropped;
      } else if (is_whitespace(static_cast<char32_t>(c))) {
        mapped = ' ';
      }
    }
    if (options_.lowercase && c >= 'A' && c <= 'Z')
      mapped = static_cast<std::int16_t>(c - 'A' + 'a');
    ascii_map_[c] = mapped;
  }
}

void Normalizer::normalize(std::string_view input, std::uint32_t base_offset,
                           NormalizedText& out) const {
  out.text.reserve(out.text.size() + input.size());
  out.origin.reserve(out.origin.size() + input.size());
  std::size_t pos = 0;
  while (pos < input.size()) {
    const auto byte = static_cast<unsigned char>(input[pos]);
    if (byte < 0x80) {
      const std::int16_t mapped = ascii_map_[byte];
      if (mapped != kDropped) {
        out.text.push_back(static_cast<char>(mapped));
        out.origin.push_back(base_offset + static_cast<std::uint32_t>(pos));
      }
      ++pos;
      continue;
    }
    const auto origin = base_offset + static_cast<std::uint32_t>(pos);
    const char32_t cp = decode_utf8(input, pos);
    normalize_code_point(cp, origin, out);
  }
}

void Normalizer::normalize_code_point(char32_t cp, std::uint32_t origin,
                                      NormalizedText& out) const {
  if (options_.clean_text) {
    if (cp == 0xFFFD || is_control(cp)) return;
    if (is_whitespace(cp)) cp = ' ';
  }
  const bool spaced = options_.handle_chinese_chars && is_cjk(cp);
  // Each step turns one character into zero or more; two small buffers carry them through.
  std::u32string chars(1, cp), next;
  if (options_.strip_accents) {
    for (char32_t c : chars) append_nfd(c, next);
    chars.clear();
    for (char32_t c : next) {
      if (!is_nonspacing_mark(c)) chars.push_back(c);
    }
    next.clear();
  }
  if (options_.lowercase) {
    for (char32_t c : chars) append_lowercase(c, next);
    chars.swap(next);
  }
  auto emit = [&](char32_t c) {
    const std::size_t before = out.text.size();
    append_utf8(c, out.text);
    out.origin.insert(out.origin.end(), out.text.size() - before, origin);
  };
  if (spaced) emit(U' ');
  for (char32_t c : chars) emit(c);
  if (spaced) emit(U' ');
}

}  // namespace bertlite::text
