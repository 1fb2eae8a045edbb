// util/utf8.h - UTF-8 validation, shared by every layer that reads text from outside.
#pragma once

#include <cstddef>
#include <string_view>

namespace bertlite::util {

// Byte offset of the first invalid UTF-8 sequence in `bytes`, or npos when all of it is valid.
// Overlong forms, surrogates and code points above U+10FFFF are invalid.
std::size_t find_invalid_utf8(std::string_view bytes);

// Throws ParseError "invalid UTF-8 at byte N" (prefixed by `where`, e.g. "input.txt:12: ")
// when `bytes` is not valid UTF-8.
void check_utf8(std::string_view bytes, std::string_view where = {});

}  // namespace bertlite::util
