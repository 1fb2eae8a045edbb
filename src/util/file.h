// util/file.h - whole-file reads and atomic writes.
//
// Every write goes to a temporary file beside the target and is renamed over it only when
// complete, so a crash or an error never leaves a half-written output behind.
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

namespace bertlite::util {

// Reads a whole file into memory. Throws IoError naming the path.
std::string read_file(const std::filesystem::path& path);

// Writes `contents` to `path` atomically (temp file + rename). Throws IoError.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

// Streams output into `path` atomically: `write` fills the stream; if it throws, the
// temporary file is removed and the target is left untouched.
void write_file_atomic(const std::filesystem::path& path,
                       const std::function<void(std::ostream&)>& write);

}  // namespace bertlite::util
