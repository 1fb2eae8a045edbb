// util/file.h - whole-file reads, atomic writes, and relative paths a file may name.
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

// Writes `contents` to `path` atomically (temp file PATH.tmp.PID + rename). Throws IoError.
// Temp files of `path` left by writers that were killed (their process gone, the file older
// than a minute) are removed first.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

// Streams output into `path` atomically: `write` fills the stream; if it throws, the
// temporary file is removed and the target is left untouched.
void write_file_atomic(const std::filesystem::path& path,
                       const std::function<void(std::ostream&)>& write);

// Removes what killed writers left in `folder`: entries named PREFIX<pid> whose process is
// gone and that are over a minute old (so a writer on another machine sharing the folder keeps
// its file). SIGKILL and power cuts skip a writer's own cleanup; the next writer does it.
void remove_abandoned_files(const std::filesystem::path& folder, std::string_view prefix);

// Whether `path`, a '/'-separated relative path read from a file (modules.json, a hub
// listing), stays inside the folder it is joined to: not empty, not absolute, no "." or ".."
// component, no backslash or NUL. Symbolic links inside the folder are the folder's business.
bool is_contained_relative_path(std::string_view path);

}  // namespace bertlite::util
