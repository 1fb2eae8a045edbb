// util/mmap.cpp - POSIX implementation of MappedFile.
#include "util/mmap.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "bertlite/error.h"

namespace bertlite::util {
namespace {

// Closes a file descriptor on every path out of the constructor; the mapping does not need
// the descriptor once mmap() has returned.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw IoError(path.string() + ": cannot open: " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    throw IoError(path.string() + ": cannot stat: " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) throw IoError(path.string() + ": not a regular file");
  if (info.st_size == 0) return;  // mmap() rejects length 0; an empty span says it all
  const auto length = static_cast<std::size_t>(info.st_size);
  void* address = ::mmap(nullptr, length, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (address == MAP_FAILED) {
    throw IoError(path.string() + ": cannot map " + std::to_string(length) +
                  " bytes: " + std::strerror(errno));
  }
  data_ = static_cast<const std::byte*>(address);
  size_ = length;
}

MappedFile::~MappedFile() {
  unmap();
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MappedFile::unmap() noexcept {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace bertlite::util
