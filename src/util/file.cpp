#include "util/file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "bertlite/error.h"

namespace bertlite::util {
namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  // An ifstream opens a directory and reads nothing: say what it is instead.
  if (std::error_code ec; fs::is_directory(path, ec)) {
    throw IoError(path.string() + ": is a directory, not a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path.string() + ": cannot open: " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw IoError(path.string() + ": read failed");
  return std::move(buffer).str();
}

void write_file_atomic(const fs::path& path, const std::function<void(std::ostream&)>& write) {
  // The temporary name carries the pid so two processes writing the same target do not
  // interleave; rename() within one directory is atomic on POSIX.
  fs::path temp = path;
  temp += ".tmp." + std::to_string(::getpid());
  try {
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      if (!out) throw IoError(path.string() + ": cannot write: " + std::strerror(errno));
      write(out);
      out.flush();
      if (!out) throw IoError(path.string() + ": write failed: " + std::strerror(errno));
    }
    std::error_code ec;
    fs::rename(temp, path, ec);
    if (ec) throw IoError(path.string() + ": cannot rename into place: " + ec.message());
  } catch (...) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw;
  }
}

void write_file_atomic(const fs::path& path, std::string_view contents) {
  write_file_atomic(path, [&](std::ostream& out) { out.write(contents.data(), contents.size()); });
}

}  // namespace bertlite::util
