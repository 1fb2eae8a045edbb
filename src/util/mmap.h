// util/mmap.h - read-only memory maps of whole files, the storage behind zero-copy weights.
//
// A MappedFile owns one mapping and unmaps it when destroyed; tensors that view into it stay
// valid exactly as long as the MappedFile (or a shared_ptr to it) lives. The mapping is
// private and read-only, so nothing bertlite does can write through to the file. As with
// every mmap, a file truncated by another process while mapped makes later reads fault:
// model files are expected to stay put while a model is loaded.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>

namespace bertlite::util {

class MappedFile {
 public:
  // Maps all of `path`. Throws IoError naming the path if it cannot be opened, is not a
  // regular file, or cannot be mapped. An empty file gives an empty (unmapped) span.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // The file's bytes; the first byte is page-aligned.
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void unmap() noexcept;

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace bertlite::util
