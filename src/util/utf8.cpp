#include "util/utf8.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "bertlite/error.h"

namespace bertlite::util {

std::size_t find_invalid_utf8(std::string_view bytes) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII fast path: eight bytes at a time while none has its top bit set.
    while (i + 8 <= n) {
      std::uint64_t word;
      std::memcpy(&word, s + i, 8);
      if (word & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int length;
    char32_t min_value;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2, min_value = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3, min_value = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4, min_value = 0x10000;
    } else {
      return i;  // continuation byte without a lead, C0/C1 overlong lead, or F5..FF
    }
    if (i + length > n) return i;
    char32_t cp = c & (0xFF >> (length + 1));
    for (int k = 1; k < length; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min_value || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += length;
  }
  return std::string_view::npos;
}

void check_utf8(std::string_view bytes, std::string_view where) {
  if (std::size_t bad = find_invalid_utf8(bytes); bad != std::string_view::npos) {
    throw ParseError(std::string(where) + "invalid UTF-8 at byte " + std::to_string(bad));
  }
}

}  // namespace bertlite::util
