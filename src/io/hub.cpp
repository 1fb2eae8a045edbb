// io/hub.cpp - the Hugging Face Hub cache: lookups, downloads, and the files a model needs.
//
// Mirrors huggingface_hub 2.4.0 (file_download.py: hf_hub_download, _get_metadata_or_catch_error,
// get_hf_file_metadata, try_to_load_from_cache, _create_symlink, _cache_commit_hash_for_specific_
// revision) so either tool reads what the other wrote. Differences, each on purpose: a partial
// download is kept as blobs/<etag>.incomplete and resumed with Range (huggingface_hub 2.x
// discards it); an LFS blob is checked against its sha256 before it is renamed into place;
// a model whose files are all settled in the cache is used without a request.
#include "io/hub.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "bertlite/error.h"
#include "io/http.h"
#include "util/file.h"

namespace bertlite::io {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kConfigFile = "config.json";

// Same text huggingface_hub writes, so backup tools skip the cache whoever created it.
constexpr std::string_view kCacheDirTag =
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by huggingface_hub.\n"
    "# For information about cache directory tags, see:\n"
    "#\thttps://bford.info/cachedir/\n";

// ---------------------------------------------------------------------------------------------
// Environment

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// huggingface_hub's _is_true: "1", "ON", "YES", "TRUE" in any case.
bool env_true(const std::string& value) {
  std::string upper = value;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper == "1" || upper == "ON" || upper == "YES" || upper == "TRUE";
}

fs::path home_folder() {
  if (std::string home = env("HOME"); !home.empty()) return home;
  if (const passwd* entry = ::getpwuid(::getuid()); entry && entry->pw_dir) return entry->pw_dir;
  return fs::current_path();
}

fs::path expand_user(const std::string& path) {
  if (path == "~") return home_folder();
  if (path.rfind("~/", 0) == 0) return home_folder() / path.substr(2);
  return path;
}

int env_seconds(const char* name, int fallback) {
  const std::string text = env(name);
  if (text.empty()) return fallback;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || value <= 0 || value > 86400) {
    throw InvalidArgument(std::string(name) + "='" + text + "': expected whole seconds, 1..86400");
  }
  return static_cast<int>(value);
}

// huggingface_hub's _clean_token: no line breaks, no surrounding blanks.
std::string clean_token(std::string token) {
  std::erase(token, '\r');
  std::erase(token, '\n');
  const auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!token.empty() && blank(token.back())) token.pop_back();
  std::size_t start = 0;
  while (start < token.size() && blank(token[start])) ++start;
  return token.substr(start);
}

// ---------------------------------------------------------------------------------------------
// Names that become paths: validated, because they come from users and from servers.

bool word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// One part of a repo id: 1..96 of [A-Za-z0-9_.-], starting and ending with [A-Za-z0-9_].
bool valid_repo_part(std::string_view part) {
  if (part.empty() || part.size() > 96) return false;
  if (!word_char(part.front()) || !word_char(part.back())) return false;
  return std::all_of(part.begin(), part.end(),
                     [](char c) { return word_char(c) || c == '-' || c == '.'; });
}

std::string repo_id_problem(std::string_view repo_id) {
  const std::size_t slash = repo_id.find('/');
  if (slash != std::string_view::npos && repo_id.find('/', slash + 1) != std::string_view::npos) {
    return "expected 'name' or 'org/name'";
  }
  const bool parts_ok =
      slash == std::string_view::npos
          ? valid_repo_part(repo_id)
          : valid_repo_part(repo_id.substr(0, slash)) && valid_repo_part(repo_id.substr(slash + 1));
  if (!parts_ok) {
    return "use letters, digits, '-', '_' or '.', not starting or ending with '-' or '.', at "
           "most 96 characters per part";
  }
  if (repo_id.find("--") != std::string_view::npos ||
      repo_id.find("..") != std::string_view::npos) {
    return "'--' and '..' are not allowed";
  }
  if (repo_id.size() >= 4 && repo_id.substr(repo_id.size() - 4) == ".git") {
    return "cannot end with '.git'";
  }
  return "";
}

// A single file or folder name from a response header (a commit hash, an ETag).
bool safe_component(std::string_view name) {
  return !name.empty() && name.size() <= 255 && name.front() != '.' &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return word_char(c) || c == '-' || c == '.' || c == '+' || c == '=';
         });
}

bool is_hex(std::string_view text, std::size_t size) {
  return text.size() == size && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_commit_hash(std::string_view revision) {
  return is_hex(revision, 40);
}

void check_filename(std::string_view repo_id, std::string_view filename) {
  if (!util::is_contained_relative_path(filename)) {
    throw InvalidArgument(std::string(repo_id) + ": file name '" + std::string(filename) +
                          "' is not a relative path inside the repository");
  }
}

void check_revision(std::string_view repo_id, std::string_view revision) {
  if (!util::is_contained_relative_path(revision)) {
    throw InvalidArgument(std::string(repo_id) + ": revision '" + std::string(revision) +
                          "' is not a branch, tag or commit name");
  }
}

// huggingface_hub's _normalize_etag: ETag: W/"<value>" or "<value>" -> <value>.
std::string normalize_etag(std::string etag) {
  if (etag.rfind("W/", 0) == 0) etag.erase(0, 2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

// ---------------------------------------------------------------------------------------------
// Small POSIX helpers with RAII.

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string errno_text() {
  return std::strerror(errno);
}

// An exclusive flock() on .locks/models--org--name/<etag>.lock, the lock huggingface_hub's
// filelock takes too, so bertlite and Python never write the same blob at once.
class BlobLock {
 public:
  explicit BlobLock(const fs::path& path) : fd_(-1) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0664);
    if (fd_ < 0) throw IoError(path.string() + ": cannot create lock file: " + errno_text());
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const std::string why = errno_text();
        ::close(fd_);
        throw IoError(path.string() + ": cannot lock: " + why);
      }
    }
  }
  BlobLock(const BlobLock&) = delete;
  BlobLock& operator=(const BlobLock&) = delete;
  ~BlobLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

void touch(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) throw IoError(path.string() + ": cannot create: " + errno_text());
}

std::string sha256_of_file(const fs::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw IoError(path.string() + ": cannot open: " + errno_text());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    throw IoError(path.string() + ": cannot start a sha256 digest");
  }
  std::vector<char> buffer(1 << 20);
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw IoError(path.string() + ": read failed: " + errno_text());
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(n));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &size);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

std::string megabytes(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

// ---------------------------------------------------------------------------------------------
// Progress: a redrawn bar on a terminal, nothing per file otherwise (the caller prints one line).

class ProgressBar {
 public:
  ProgressBar(const HubSettings& settings, std::string label, std::optional<std::uint64_t> total,
              std::uint64_t done)
      : out_(settings.progress_bar ? settings.log : nullptr),
        label_(std::move(label)),
        total_(total),
        start_done_(done),
        done_(done),
        start_(Clock::now()),
        last_draw_(start_) {
    draw();
  }
  ~ProgressBar() {
    if (out_) *out_ << '\n' << std::flush;
  }
  void reset(std::uint64_t done) { done_ = start_done_ = done; }
  void add(std::size_t n) {
    done_ += n;
    // Ten redraws a second is smooth enough and costs nothing next to the transfer.
    if (out_ && Clock::now() - last_draw_ > std::chrono::milliseconds(100)) draw();
  }
  void finish() { draw(); }

 private:
  using Clock = std::chrono::steady_clock;
  void draw() {
    if (!out_) return;
    last_draw_ = Clock::now();
    const double seconds = std::chrono::duration<double>(last_draw_ - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(done_ - start_done_) / seconds / 1e6 : 0;
    std::ostringstream line;
    line << '\r' << label_ << "  ";
    if (total_ && *total_ > 0) {
      constexpr int kWidth = 24;
      const double fraction = std::min(1.0, static_cast<double>(done_) / *total_);
      const int filled = static_cast<int>(fraction * kWidth);
      line << '[' << std::string(filled, '#') << std::string(kWidth - filled, ' ') << "] "
           << static_cast<int>(fraction * 100) << "%  " << megabytes(done_) << " / "
           << megabytes(*total_);
    } else {
      line << megabytes(done_);
    }
    char speed[32];
    std::snprintf(speed, sizeof speed, "  %.1f MB/s   ", rate);
    *out_ << line.str() << speed << std::flush;
  }

  std::ostream* out_;
  std::string label_;
  std::optional<std::uint64_t> total_;
  std::uint64_t start_done_;
  std::uint64_t done_;
  Clock::time_point start_;
  Clock::time_point last_draw_;
};

struct DownloadStats {
  int files = 0;
  std::uint64_t bytes = 0;
};

// ---------------------------------------------------------------------------------------------
// The cache of one repo.

class RepoCache {
 public:
  RepoCache(const HubSettings& settings, std::string_view repo_id)
      : folder_(hub_repo_folder(settings, repo_id)) {}

  const fs::path& folder() const { return folder_; }
  fs::path snapshot(std::string_view commit) const { return folder_ / "snapshots" / commit; }
  fs::path pointer(std::string_view commit, std::string_view file) const {
    return snapshot(commit) / file;
  }
  fs::path blob(std::string_view etag) const { return folder_ / "blobs" / etag; }
  fs::path no_exist(std::string_view commit, std::string_view file) const {
    return folder_ / ".no_exist" / commit / file;
  }
  fs::path ref(std::string_view revision) const { return folder_ / "refs" / revision; }

  // The commit a revision names: itself if it is a hash, else what refs/<revision> holds.
  std::optional<std::string> commit_of(std::string_view revision) const {
    if (is_commit_hash(revision)) return std::string(revision);
    std::error_code ec;
    if (!fs::is_regular_file(ref(revision), ec)) return std::nullopt;
    std::string commit = clean_token(util::read_file(ref(revision)));
    if (!safe_component(commit)) {
      throw IoError(ref(revision).string() + ": not a commit hash: '" + commit + "'");
    }
    return commit;
  }

  enum class State { kPresent, kAbsent, kUnknown };
  State lookup(std::string_view commit, std::string_view file) const {
    std::error_code ec;
    if (fs::is_regular_file(pointer(commit, file), ec)) return State::kPresent;
    if (fs::is_regular_file(no_exist(commit, file), ec)) return State::kAbsent;
    return State::kUnknown;
  }

  // refs/<revision> := commit, atomically, and only if it changed (the cache may be shared
  // read-only, huggingface_hub issue 1216).
  void write_ref(std::string_view revision, std::string_view commit) const {
    if (revision == commit) return;
    const fs::path path = ref(revision);
    std::error_code ec;
    if (fs::is_regular_file(path, ec) && util::read_file(path) == commit) return;
    fs::create_directories(path.parent_path(), ec);
    util::write_file_atomic(path, commit);
  }

  // snapshots/<commit>/<file> -> ../../blobs/<etag>, relative so the cache can move.
  void link(const fs::path& blob_path, const fs::path& pointer_path) const {
    const fs::path from = fs::absolute(pointer_path).lexically_normal().parent_path();
    const fs::path target = fs::absolute(blob_path).lexically_normal().lexically_relative(from);
    std::error_code ec;
    fs::create_directories(pointer_path.parent_path(), ec);
    fs::remove(pointer_path, ec);  // a dangling link left by a deleted blob
    fs::create_symlink(target, pointer_path, ec);
    std::error_code same_ec;
    if (ec && !fs::equivalent(pointer_path, blob_path, same_ec)) {
      throw IoError(pointer_path.string() + ": cannot create symlink to " + target.string() + ": " +
                    ec.message());
    }
  }

 private:
  fs::path folder_;
};

std::string resolve_url(const HubSettings& settings, std::string_view repo_id,
                        std::string_view revision, std::string_view filename) {
  return settings.endpoint + "/" + std::string(repo_id) + "/resolve/" + http::quote(revision, "") +
         "/" + http::quote(filename, "/");
}

http::Headers request_headers(const HubSettings& settings) {
  http::Headers headers;
  if (!settings.token.empty()) headers.emplace_back("Authorization", "Bearer " + settings.token);
  return headers;
}

// What a HEAD on /resolve/ says about a file (huggingface_hub's HfFileMetadata).
struct FileMetadata {
  std::string commit;
  std::string etag;
  std::string location;  // where to GET it: the resolve URL, or the CDN it redirects to
  std::optional<std::uint64_t> size;
};

// Appends `size` bytes to `fd`, whatever the kernel's partial writes.
bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::uint64_t file_size(int fd, const fs::path& path) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) throw IoError(path.string() + ": cannot stat: " + errno_text());
  return static_cast<std::uint64_t>(info.st_size);
}

// Empties the partial file; false (with errno) if the OS refuses.
bool truncate_to_zero(int fd) {
  return ::ftruncate(fd, 0) == 0;
}

// Downloads `meta.location` into blobs/<etag>: appends to blobs/<etag>.incomplete (resuming
// from its size with a Range request), checks the size and, for LFS files, the sha256, then
// renames it into place. On any error the .incomplete stays for the next attempt, unless its
// bytes are known to be wrong.
void download_blob(const HubSettings& settings, const http::Headers& headers,
                   const FileMetadata& meta, const fs::path& blob_path, const std::string& label,
                   DownloadStats* stats) {
  fs::path incomplete = blob_path;
  incomplete += ".incomplete";
  Fd fd(::open(incomplete.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666));
  if (fd.get() < 0) throw IoError(incomplete.string() + ": cannot create: " + errno_text());
  std::optional<std::uint64_t> expected = meta.size;
  std::uint64_t start = file_size(fd.get(), incomplete);
  if (expected && start > *expected) {
    if (!truncate_to_zero(fd.get())) {
      throw IoError(incomplete.string() + ": cannot truncate: " + errno_text());
    }
    start = 0;
  }
  const http::Timeouts timeouts{settings.etag_timeout_seconds, settings.download_timeout_seconds};
  std::uint64_t transferred = 0;  // this time, for the summary
  // Two rounds at most: the second only after a 416 says the partial file does not fit.
  for (int round = 0; round < 2 && !(expected && start == *expected); ++round) {
    http::Headers get_headers = headers;
    if (start > 0) get_headers.emplace_back("Range", "bytes=" + std::to_string(start) + "-");
    std::string failure;
    bool restart = false;
    ProgressBar bar(settings, label, expected, start);
    // The callbacks run inside cpp-httplib, so they report failures instead of throwing.
    const auto on_response = [&](const http::Response& response) {
      const auto length = http::parse_length(response.header("Content-Length"));
      if (response.status == 416 && start > 0) {
        restart = true;
        return false;
      }
      if (response.status == 200) {
        if (start > 0) {  // the server ignored the Range: start over
          if (!truncate_to_zero(fd.get())) {
            failure = "cannot truncate " + incomplete.string() + ": " + errno_text();
            return false;
          }
          start = 0;
          bar.reset(0);
        }
        if (!expected && length) expected = *length;
        return true;
      }
      if (response.status == 206 && start > 0) {
        const std::string range = response.header("Content-Range").value_or("");
        if (range.rfind("bytes " + std::to_string(start) + "-", 0) != 0) {
          failure = "asked for bytes " + std::to_string(start) + "- but got Content-Range '" +
                    http::printable(range) + "'";
          return false;
        }
        if (!expected) expected = http::parse_length(range.substr(range.find('/') + 1));
        return true;
      }
      failure = "HTTP " + std::to_string(response.status);
      return false;
    };
    const auto on_data = [&](const char* data, std::size_t size) {
      if (!write_all(fd.get(), data, size)) {
        failure = "cannot write " + incomplete.string() + ": " + errno_text();
        return false;
      }
      bar.add(size);
      transferred += size;
      return true;
    };
    try {
      http::get(meta.location, get_headers, timeouts, on_response, on_data);
    } catch (const IoError& error) {
      throw IoError(std::string(error.what()) + "; " + label + ": " +
                    std::to_string(file_size(fd.get(), incomplete)) + " bytes kept in " +
                    incomplete.string() + ", run again to resume");
    }
    bar.finish();
    if (restart) {
      if (!truncate_to_zero(fd.get())) {
        throw IoError(incomplete.string() + ": cannot truncate: " + errno_text());
      }
      start = 0;
      continue;
    }
    if (!failure.empty()) throw IoError("GET " + meta.location + ": " + failure);
    break;
  }
  const std::uint64_t received = file_size(fd.get(), incomplete);
  if (expected && received < *expected) {
    throw IoError("GET " + meta.location + ": transfer ended after " + std::to_string(received) +
                  " of " + std::to_string(*expected) + " bytes; run again to resume");
  }
  if (expected && received > *expected) {
    std::error_code ec;
    fs::remove(incomplete, ec);
    throw IoError("GET " + meta.location + ": received " + std::to_string(received) +
                  " bytes, expected " + std::to_string(*expected));
  }
  if (::fsync(fd.get()) != 0) throw IoError(incomplete.string() + ": fsync: " + errno_text());
  // LFS files are named by their sha256: check it, since a resumed file joins two transfers.
  if (is_hex(meta.etag, 64)) {
    const std::string actual = sha256_of_file(incomplete);
    if (actual != meta.etag) {
      std::error_code ec;
      fs::remove(incomplete, ec);
      throw IoError("GET " + meta.location + ": sha256 " + actual + " does not match " + meta.etag +
                    "; the partial file was removed, run again");
    }
  }
  std::error_code ec;
  fs::rename(incomplete, blob_path, ec);
  if (ec) throw IoError(blob_path.string() + ": cannot rename into place: " + ec.message());
  stats->files += 1;
  stats->bytes += transferred;
}

// Settles one file: its path in the cache, or nullopt if the hub says it does not exist.
// Every branch mirrors _hf_hub_download_to_cache_dir.
std::optional<fs::path> fetch_file(const HubSettings& settings, std::string_view repo_id,
                                   std::string_view filename, std::string_view revision,
                                   DownloadStats* stats) {
  if (const std::string problem = repo_id_problem(repo_id); !problem.empty()) {
    throw InvalidArgument("model name '" + std::string(repo_id) + "': " + problem);
  }
  check_filename(repo_id, filename);
  check_revision(repo_id, revision);
  const RepoCache cache(settings, repo_id);
  const std::string name(repo_id);

  // A commit never changes: what the cache knows about it is final.
  if (is_commit_hash(revision)) {
    switch (cache.lookup(revision, filename)) {
      case RepoCache::State::kPresent:
        return cache.pointer(revision, filename);
      case RepoCache::State::kAbsent:
        return std::nullopt;
      case RepoCache::State::kUnknown:
        break;
    }
  }
  const auto from_cache = [&]() -> std::optional<std::optional<fs::path>> {
    const auto commit = cache.commit_of(revision);
    if (!commit) return std::nullopt;
    switch (cache.lookup(*commit, filename)) {
      case RepoCache::State::kPresent:
        return std::optional<fs::path>(cache.pointer(*commit, filename));
      case RepoCache::State::kAbsent:
        return std::optional<fs::path>();
      case RepoCache::State::kUnknown:
        break;
    }
    return std::nullopt;
  };
  if (settings.offline) {
    if (auto cached = from_cache()) return *cached;
    throw IoError(name + ": " + std::string(filename) + "@" + std::string(revision) +
                  " is not in the Hugging Face cache " + settings.cache_dir.string() +
                  " and HF_HUB_OFFLINE=1 forbids downloading it");
  }

  const std::string url = resolve_url(settings, repo_id, revision, filename);
  http::Headers headers = request_headers(settings);
  http::Response head;
  try {
    head = http::head(url, headers, {settings.etag_timeout_seconds, settings.etag_timeout_seconds});
  } catch (const IoError& error) {
    // No connection: fall back to the cache, as huggingface_hub does.
    if (auto cached = from_cache()) return *cached;
    throw IoError(std::string(error.what()) + " (" + name + ": " + std::string(filename) +
                  " is not in the cache either; HF_HUB_OFFLINE=1 uses cached files only)");
  }
  const std::string status = std::to_string(head.status);
  const std::string error_code = head.header("X-Error-Code").value_or("");
  if (head.status == 404 && error_code != "RevisionNotFound" && error_code != "RepoNotFound") {
    // Remember the absence under the commit, so the next resolution need not ask again.
    if (const auto commit = head.header("X-Repo-Commit"); commit && is_commit_hash(*commit)) {
      try {
        touch(cache.no_exist(*commit, filename));
        cache.write_ref(revision, *commit);
      } catch (const IoError&) {
        // A read-only cache still answers the question; only the memo is lost.
      }
    }
    return std::nullopt;
  }
  if (head.status == 404) {
    throw IoError(name + ": " +
                  (error_code == "RevisionNotFound" ? "revision '" + std::string(revision) + "'"
                                                    : std::string("repository")) +
                  " not found on " + url + ": 404");
  }
  if (head.status == 401 || head.status == 403) {
    throw IoError(name + ": " + std::string(filename) + " on " + url + ": " + status +
                  " (the repository does not exist, or is private or gated: set HF_TOKEN to a "
                  "token with access)");
  }
  if (head.status >= 500 || head.status == 429) {
    if (auto cached = from_cache()) return *cached;
  }
  if (!(head.status >= 200 && head.status < 300) &&
      !(head.is_redirect() && head.header("Location"))) {
    throw IoError(name + ": " + std::string(filename) + " on " + url + ": HTTP " + status);
  }

  FileMetadata meta;
  meta.commit = head.header("X-Repo-Commit").value_or("");
  if (meta.commit.empty()) {
    throw IoError(url + ": response has no X-Repo-Commit header; is HF_ENDPOINT (" +
                  settings.endpoint + ") a Hugging Face Hub?");
  }
  meta.etag =
      normalize_etag(head.header("X-Linked-Etag").value_or(head.header("ETag").value_or("")));
  // The hub's commits are git SHA-1s; anything else would name a snapshot folder at will
  // (".incomplete", found by hub_http_fuzz).
  if (!is_commit_hash(meta.commit) || !safe_component(meta.etag)) {
    throw IoError(url + ": unusable X-Repo-Commit '" + http::printable(meta.commit) +
                  "' or ETag '" + http::printable(meta.etag) + "'");
  }
  meta.size = http::parse_length(head.header("X-Linked-Size"));
  if (!meta.size && !head.is_redirect())
    meta.size = http::parse_length(head.header("Content-Length"));
  meta.location = head.url;
  if (head.is_redirect()) {
    meta.location = http::Url::parse(head.url).resolve(*head.header("Location")).str();
    // A signed CDN URL needs no token, and must not see it.
    if (http::Url::parse(meta.location).origin() != http::Url::parse(url).origin()) {
      std::erase_if(headers, [](const auto& h) { return h.first == "Authorization"; });
    }
  }

  const fs::path pointer = cache.pointer(meta.commit, filename);
  std::error_code ec;
  if (fs::is_regular_file(pointer, ec)) {
    try {
      cache.write_ref(revision, meta.commit);
    } catch (const IoError&) {
      // Best effort, like huggingface_hub: the file itself is there.
    }
    return pointer;
  }
  fs::create_directories(cache.folder() / "blobs", ec);
  if (ec) throw IoError((cache.folder() / "blobs").string() + ": cannot create: " + ec.message());
  if (!fs::exists(settings.cache_dir / "CACHEDIR.TAG", ec)) {
    try {
      util::write_file_atomic(settings.cache_dir / "CACHEDIR.TAG", kCacheDirTag);
    } catch (const IoError&) {
      // Only a hint for backup tools.
    }
  }
  cache.write_ref(revision, meta.commit);

  const fs::path blob = cache.blob(meta.etag);
  const BlobLock lock(settings.cache_dir / ".locks" / cache.folder().filename() /
                      (meta.etag + ".lock"));
  if (!fs::is_regular_file(blob, ec)) {
    download_blob(settings, headers, meta, blob, name + ": " + std::string(filename), stats);
  }
  cache.link(blob, pointer);
  return pointer;
}

void print_summary(const HubSettings& settings, const std::string& what, const DownloadStats& stats,
                   double seconds, const fs::path& where) {
  if (!settings.log || settings.progress_bar || stats.files == 0) return;
  char timing[32];
  std::snprintf(timing, sizeof timing, "%.1f s", seconds);
  *settings.log << "bertlite: downloaded " << what << " from " << settings.endpoint << ": "
                << stats.files << (stats.files == 1 ? " file, " : " files, ")
                << megabytes(stats.bytes) << " in " << timing << " -> " << where.string() << '\n'
                << std::flush;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---------------------------------------------------------------------------------------------
// The files of a model.

enum class Need { kRequired, kOptional };

// Returns a file's local path, or nullopt if the repo lacks it (or, offline, if it is unknown
// and optional).
using FetchFn = std::function<std::optional<fs::path>(const std::string& file, Need need)>;

// Thrown by the cache-only walk when a file's fate is unknown: the cache is not enough.
struct CacheIncomplete {};

std::vector<std::string> shards_of(const fs::path& index, const std::string& name) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(util::read_file(index));
  } catch (const nlohmann::json::exception& error) {
    throw ParseError(index.string() + ": " + error.what());
  }
  const auto map = json.find("weight_map");
  if (map == json.end() || !map->is_object()) {
    throw ParseError(index.string() + ": no \"weight_map\" object");
  }
  std::set<std::string> shards;
  for (const auto& [tensor, file] : map->items()) {
    if (!file.is_string() || !util::is_contained_relative_path(file.get<std::string>())) {
      throw ParseError(index.string() + ": weight_map[\"" + tensor +
                       "\"] is not a relative file name");
    }
    shards.insert(file.get<std::string>());
  }
  if (shards.empty()) throw ParseError(index.string() + ": empty weight_map (" + name + ")");
  return {shards.begin(), shards.end()};
}

std::vector<std::string> module_configs(const fs::path& modules) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(util::read_file(modules));
  } catch (const nlohmann::json::exception& error) {
    throw ParseError(modules.string() + ": " + error.what());
  }
  std::vector<std::string> configs;
  if (!json.is_array()) throw ParseError(modules.string() + ": expected a list of modules");
  for (const auto& module : json) {
    if (!module.is_object() || !module.contains("path") || !module["path"].is_string()) continue;
    const std::string path = module["path"].get<std::string>();
    if (path.empty()) continue;  // the transformer itself, at the repo root
    if (!util::is_contained_relative_path(path)) {
      throw ParseError(modules.string() + ": module path '" + path + "' is not relative");
    }
    configs.push_back(path + "/config.json");
  }
  return configs;
}

// Walks the files of a model in order, asking `fetch` for each; `weights_required` makes a
// repo without any weights file an error. Returns config.json's path.
fs::path walk_model(const FetchFn& fetch, const std::string& name, bool weights_required) {
  const auto config = fetch(std::string(kConfigFile), Need::kRequired);
  if (!config) throw IoError(name + ": config.json not found");
  bool have_weights = false;
  for (const char* candidate : {"model.safetensors", "model.safetensors.index.json",
                                "pytorch_model.bin", "pytorch_model.bin.index.json"}) {
    const auto path = fetch(candidate, Need::kOptional);
    if (!path) continue;
    if (std::string_view(candidate).ends_with(".index.json")) {
      for (const std::string& shard : shards_of(*path, name)) fetch(shard, Need::kRequired);
    }
    have_weights = true;
    break;
  }
  if (!have_weights && weights_required) {
    throw IoError(name +
                  ": no weights on the hub (tried model.safetensors, "
                  "model.safetensors.index.json, pytorch_model.bin, "
                  "pytorch_model.bin.index.json)");
  }
  for (const char* file : {"tokenizer.json", "vocab.txt", "tokenizer_config.json",
                           "special_tokens_map.json", "sentence_bert_config.json"}) {
    fetch(file, Need::kOptional);
  }
  if (const auto modules = fetch("modules.json", Need::kOptional)) {
    for (const std::string& file : module_configs(*modules)) fetch(file, Need::kOptional);
  }
  return *config;
}

}  // namespace

HubSettings HubSettings::from_environment() {
  HubSettings settings;
  std::string hf_home = env("HF_HOME");
  if (hf_home.empty()) {
    const std::string xdg = env("XDG_CACHE_HOME");
    hf_home =
        ((xdg.empty() ? home_folder() / ".cache" : expand_user(xdg)) / "huggingface").string();
  }
  const fs::path home = expand_user(hf_home);
  std::string cache = env("HF_HUB_CACHE");
  if (cache.empty()) cache = env("HUGGINGFACE_HUB_CACHE");
  settings.cache_dir = cache.empty() ? home / "hub" : expand_user(cache);

  if (std::string endpoint = env("HF_ENDPOINT"); !endpoint.empty()) {
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    settings.endpoint = endpoint;
  }
  // huggingface_hub reads `HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE`: the first one set wins.
  std::string offline = env("HF_HUB_OFFLINE");
  if (offline.empty()) offline = env("TRANSFORMERS_OFFLINE");
  settings.offline = env_true(offline);

  settings.token = clean_token(env("HF_TOKEN"));
  if (settings.token.empty()) settings.token = clean_token(env("HUGGING_FACE_HUB_TOKEN"));
  if (settings.token.empty()) {
    const std::string token_path = env("HF_TOKEN_PATH");
    const fs::path file = token_path.empty() ? home / "token" : expand_user(token_path);
    std::error_code ec;
    if (fs::is_regular_file(file, ec)) {
      try {
        settings.token = clean_token(util::read_file(file));
      } catch (const IoError&) {
        // An unreadable token file means no token, as in huggingface_hub.
      }
    }
  }
  settings.etag_timeout_seconds = env_seconds("HF_HUB_ETAG_TIMEOUT", 10);
  settings.download_timeout_seconds = env_seconds("HF_HUB_DOWNLOAD_TIMEOUT", 10);
  settings.log = &std::cerr;
  settings.progress_bar =
      ::isatty(STDERR_FILENO) == 1 && !env_true(env("HF_HUB_DISABLE_PROGRESS_BARS"));
  return settings;
}

HubModelName parse_hub_model_name(std::string_view name) {
  HubModelName parsed;
  const std::size_t at = name.find('@');
  parsed.repo_id = std::string(name.substr(0, at));
  if (at != std::string_view::npos) parsed.revision = std::string(name.substr(at + 1));
  if (const std::string problem = repo_id_problem(parsed.repo_id); !problem.empty()) {
    throw InvalidArgument("model name '" + std::string(name) + "': " + problem);
  }
  if (!util::is_contained_relative_path(parsed.revision)) {
    throw InvalidArgument("model name '" + std::string(name) + "': revision '" + parsed.revision +
                          "' is not a branch, tag or commit name");
  }
  return parsed;
}

bool is_hub_model_name(std::string_view name) {
  try {
    parse_hub_model_name(name);
    return true;
  } catch (const InvalidArgument&) {
    return false;
  }
}

fs::path hub_repo_folder(const HubSettings& settings, std::string_view repo_id) {
  // huggingface_hub's repo_folder_name: "models--" + repo_id with '/' -> "--".
  std::string folder = "models";
  std::size_t start = 0;
  while (start <= repo_id.size()) {
    const std::size_t end = std::min(repo_id.find('/', start), repo_id.size());
    folder += "--" + std::string(repo_id.substr(start, end - start));
    start = end + 1;
  }
  return settings.cache_dir / folder;
}

std::optional<fs::path> hub_cached_file(const HubSettings& settings, std::string_view repo_id,
                                        std::string_view filename, std::string_view revision) {
  if (!repo_id_problem(repo_id).empty() || !util::is_contained_relative_path(filename) ||
      !util::is_contained_relative_path(revision)) {
    return std::nullopt;
  }
  const RepoCache cache(settings, repo_id);
  const auto commit = cache.commit_of(revision);
  if (!commit || cache.lookup(*commit, filename) != RepoCache::State::kPresent) {
    return std::nullopt;
  }
  return cache.pointer(*commit, filename);
}

std::optional<fs::path> hub_try_download(const HubSettings& settings, std::string_view repo_id,
                                         std::string_view filename, std::string_view revision) {
  DownloadStats stats;
  const auto start = std::chrono::steady_clock::now();
  auto path = fetch_file(settings, repo_id, filename, revision, &stats);
  if (path) {
    print_summary(settings, std::string(repo_id) + "/" + std::string(filename), stats,
                  seconds_since(start), *path);
  }
  return path;
}

fs::path hub_download(const HubSettings& settings, std::string_view repo_id,
                      std::string_view filename, std::string_view revision) {
  auto path = hub_try_download(settings, repo_id, filename, revision);
  if (!path) {
    throw IoError(std::string(repo_id) + ": " + std::string(filename) + " not found on " +
                  resolve_url(settings, repo_id, revision, filename) + ": 404");
  }
  return *path;
}

fs::path hub_model_snapshot(const HubSettings& settings, std::string_view name_text) {
  const HubModelName model = parse_hub_model_name(name_text);
  const std::string name(name_text);
  const RepoCache cache(settings, model.repo_id);

  // 1. The cache alone, if it settles every file: no request at all.
  if (const auto commit = cache.commit_of(model.revision)) {
    try {
      const FetchFn from_cache = [&](const std::string& file, Need) -> std::optional<fs::path> {
        switch (cache.lookup(*commit, file)) {
          case RepoCache::State::kPresent:
            return cache.pointer(*commit, file);
          case RepoCache::State::kAbsent:
            return std::nullopt;
          case RepoCache::State::kUnknown:
            break;
        }
        throw CacheIncomplete{};
      };
      return walk_model(from_cache, name, true).parent_path();
    } catch (const CacheIncomplete&) {
      // Some file's fate is unknown: ask the hub below.
    } catch (const Error&) {
      // A missing required file or an unreadable index: let the hub (or offline) say why.
    }
    if (settings.offline) {
      const fs::path snapshot = cache.snapshot(*commit);
      if (cache.lookup(*commit, kConfigFile) == RepoCache::State::kPresent) return snapshot;
    }
  }
  if (settings.offline) {
    throw IoError(name + ": config.json is not in the Hugging Face cache " +
                  cache.folder().string() + " and HF_HUB_OFFLINE=1 forbids downloading it");
  }

  // 2. The hub: config.json by revision pins the commit, then every other file by that commit
  // so a branch that moves meanwhile cannot mix two snapshots.
  DownloadStats stats;
  const auto start = std::chrono::steady_clock::now();
  std::string commit;
  const FetchFn online = [&](const std::string& file, Need need) -> std::optional<fs::path> {
    const std::string revision = commit.empty() ? model.revision : commit;
    auto path = fetch_file(settings, model.repo_id, file, revision, &stats);
    if (!path && need == Need::kRequired) {
      throw IoError(name + ": " + file + " not found on " +
                    resolve_url(settings, model.repo_id, revision, file) + ": 404");
    }
    if (path && file == kConfigFile) commit = path->parent_path().filename().string();
    return path;
  };
  const fs::path snapshot = walk_model(online, name, true).parent_path();
  print_summary(settings, name, stats, seconds_since(start), snapshot);
  return snapshot;
}

}  // namespace bertlite::io
