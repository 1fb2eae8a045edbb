#include "util/file.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
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

void remove_abandoned_files(const fs::path& folder, std::string_view prefix) {
  std::error_code ec;
  for (fs::directory_iterator it(folder.empty() ? fs::path(".") : folder, ec), end;
       !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const std::string pid_text = name.substr(prefix.size());
    if (pid_text.empty() || pid_text.size() > 9 ||
        !std::all_of(pid_text.begin(), pid_text.end(),
                     [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code time_error;
    const auto age = fs::file_time_type::clock::now() - fs::last_write_time(it->path(), time_error);
    if (time_error || age < std::chrono::minutes(1)) continue;
    std::error_code ignored;
    fs::remove_all(it->path(), ignored);
  }
}

void write_file_atomic(const fs::path& path, const std::function<void(std::ostream&)>& write) {
  remove_abandoned_files(path.parent_path(), path.filename().string() + ".tmp.");
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

bool is_contained_relative_path(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.back() == '/') return false;
  if (path.find('\\') != std::string_view::npos || path.find('\0') != std::string_view::npos) {
    return false;
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

}  // namespace bertlite::util
