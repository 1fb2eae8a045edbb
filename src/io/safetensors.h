// io/safetensors.h - reads and writes the safetensors format (Hugging Face's model.safetensors).
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (plus an optional "__metadata__" object of
// strings), then the tensor data; offsets count from the end of the header.
//
// Reading maps the file and treats the header as hostile input: every length, shape and offset
// is bounds- and overflow-checked before use, and every problem is a ParseError naming the file
// and tensor. F32 tensors become views into the mapping; see io/tensor_file.h.
//
// Writing produces the same bytes as the reference implementation (safetensors' Rust core, used
// by the Python package): tensors laid out by dtype rank (largest first) then name, the header
// padded with spaces to a multiple of 8 bytes so the data starts 8-byte aligned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "io/tensor_file.h"

namespace bertlite::io {

// The reference implementation's header limit; a larger length is rejected before any
// allocation.
inline constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;

// Maps and parses `path`. Throws IoError if it cannot be mapped, ParseError for a malformed file.
TensorFile open_safetensors(const std::filesystem::path& path);

// Parses safetensors bytes held in memory; `name` is used in messages. The TensorFile keeps the
// bytes, so F32 views point into them.
TensorFile read_safetensors(std::string bytes, const std::string& name);

// One tensor to write: `bytes` holds shape's elements, row-major, little-endian, in `dtype`.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape;
  std::span<const std::byte> bytes;
};

// A float32 tensor to write; `values` must outlive the write.
TensorToWrite f32_tensor(std::string name, std::vector<std::int64_t> shape,
                         std::span<const float> values);

using SafetensorsMetadata = std::map<std::string, std::string>;

// Writes `tensors` (and `metadata` as "__metadata__", omitted when empty) to `out`. Throws
// InvalidArgument for a duplicate or reserved name, a negative dimension, bytes that do not
// match the shape, or a name that is not valid UTF-8.
void write_safetensors(std::ostream& out, std::span<const TensorToWrite> tensors,
                       const SafetensorsMetadata& metadata = {});

// Writes to `path` atomically (temporary file + rename). Throws IoError if it cannot.
void write_safetensors(const std::filesystem::path& path, std::span<const TensorToWrite> tensors,
                       const SafetensorsMetadata& metadata = {});

}  // namespace bertlite::io
