#include "text/pre_tokenizer.h"

#include <array>

#include "text/unicode.h"

namespace bertlite::text {
namespace {

enum class CharClass : std::uint8_t { kWord, kSpace, kPunct };

// ASCII classes, computed once from the same predicates the Unicode path uses.
const std::array<CharClass, 128>& ascii_classes() {
  static const std::array<CharClass, 128> table = [] {
    std::array<CharClass, 128> t{};
    for (char32_t c = 0; c < 128; ++c) {
      t[c] = is_whitespace(c)    ? CharClass::kSpace
             : is_punctuation(c) ? CharClass::kPunct
                                 : CharClass::kWord;
    }
    return t;
  }();
  return table;
}

}  // namespace

void pre_tokenize(std::string_view text, std::vector<Span>& words) {
  const auto& classes = ascii_classes();
  constexpr std::uint32_t kNoWord = UINT32_MAX;
  std::uint32_t word_begin = kNoWord;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto start = static_cast<std::uint32_t>(pos);
    const auto byte = static_cast<unsigned char>(text[pos]);
    CharClass cls;
    if (byte < 0x80) {
      cls = classes[byte];
      ++pos;
    } else {
      const char32_t cp = decode_utf8(text, pos);
      cls = is_whitespace(cp)    ? CharClass::kSpace
            : is_punctuation(cp) ? CharClass::kPunct
                                 : CharClass::kWord;
    }
    if (cls == CharClass::kWord) {
      if (word_begin == kNoWord) word_begin = start;
      continue;
    }
    if (word_begin != kNoWord) {
      words.push_back({word_begin, start});
      word_begin = kNoWord;
    }
    if (cls == CharClass::kPunct) words.push_back({start, static_cast<std::uint32_t>(pos)});
  }
  if (word_begin != kNoWord) words.push_back({word_begin, static_cast<std::uint32_t>(pos)});
}

}  // namespace bertlite::text
