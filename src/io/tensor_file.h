// io/tensor_file.h - the one type every weight reader returns: named tensors as float32 views.
//
// A TensorFile lists each tensor's name, shape and stored dtype, and hands out float32 views
// whose memory stays valid while the TensorFile lives. F32 tensors that are contiguous and
// 4-byte aligned in the file are views straight into the file's memory map (zero copy); F16
// and BF16 tensors, and F32 tensors that are strided or unaligned, are converted once, on
// first request, into an owned 64-byte-aligned buffer. Other dtypes are listed but cannot be
// loaded as float.
//
// open_checkpoint(folder) is the usual first call: it picks model.safetensors, sharded
// safetensors, pytorch_model.bin or sharded pytorch_model.bin, in that order. The format
// readers (io/safetensors.h, io/torch_checkpoint.h) fill a TensorFile through add().
//
// Does not: know model tensor names or expected shapes (the model layer checks those), or
// write files (write_safetensors in io/safetensors.h does).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bertlite::io {

// Element types, in the order the reference safetensors writer ranks them (it lays out the
// largest rank first so every tensor stays aligned to its element size).
enum class DType : std::uint8_t {
  kBool,
  kU8,
  kI8,
  kF8E5M2,
  kF8E4M3,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kC64,
  kF64,
  kI64,
  kU64,
};

// The safetensors spelling: "F32", "BF16", "I64", ...
std::string_view dtype_name(DType dtype);
// Bytes per element.
std::size_t dtype_size(DType dtype);
// Parses a safetensors dtype name; nullopt if unknown.
std::optional<DType> dtype_from_name(std::string_view name);

// IEEE binary16 and bfloat16 <-> float32. Widening is exact; narrowing rounds to nearest
// even, keeps NaN a NaN and overflows to infinity, as PyTorch's .half()/.bfloat16() do.
float f16_to_f32(std::uint16_t bits);
float bf16_to_f32(std::uint16_t bits);
std::uint16_t f32_to_f16(float value);
std::uint16_t f32_to_bf16(float value);

// "[2, 3]"; "[]" for a scalar.
std::string format_shape(std::span<const std::int64_t> shape);

// Element count of `shape`, or nullopt if a dimension is negative or the product overflows
// int64.
std::optional<std::int64_t> checked_element_count(std::span<const std::int64_t> shape);

struct TensorInfo {
  std::string name;
  std::vector<std::int64_t> shape;
  DType source_dtype = DType::kF32;  // as stored in the file
  std::string file;                  // the file it is stored in, for messages

  std::int64_t element_count() const;
};

// A float32 tensor, row-major and contiguous. Both spans point into the TensorFile that
// produced it.
struct FloatTensor {
  std::span<const float> data;
  std::span<const std::int64_t> shape;
};

class TensorFile {
 public:
  // An empty file named `source` (a path, or a folder for sharded checkpoints).
  explicit TensorFile(std::string source = {});
  ~TensorFile();
  TensorFile(TensorFile&&) noexcept;
  TensorFile& operator=(TensorFile&&) noexcept;

  // Where the tensors come from, for messages.
  const std::string& source() const;
  std::size_t size() const;
  // Every tensor, sorted by name.
  std::vector<TensorInfo> tensors() const;
  bool contains(std::string_view name) const;
  // nullptr if there is no tensor `name`.
  const TensorInfo* find(std::string_view name) const;

  // The tensor `name` as float32. Throws InvalidArgument if there is no such tensor and
  // Unsupported (naming the file and tensor) if its dtype is not F32, F16 or BF16. The view
  // stays valid while this TensorFile lives; converting is done once and is thread-safe.
  FloatTensor floats(std::string_view name) const;
  // The integer tensor `name` (I64, I32, I16, I8, U8, U16, U32), row-major, as int64 - for
  // token ids and offsets. Throws InvalidArgument if there is no such tensor, Unsupported for
  // other dtypes.
  std::vector<std::int64_t> integers(std::string_view name) const;
  // The stored bytes of a contiguous tensor, in its source dtype (little-endian): for int8
  // weights of quantized models. Throws Unsupported for a strided tensor.
  std::span<const std::byte> bytes(std::string_view name) const;
  // True when floats(name) is, or will be, a view into the file's bytes rather than a copy.
  bool is_zero_copy(std::string_view name) const;

  // ---- For format readers. ----

  // How a reader hands over a tensor: its first element and, for strided tensors, the stride
  // of each dimension in elements. The reader has already checked that every element the
  // shape and strides reach lies inside memory that `keep_alive` owners keep valid.
  struct Source {
    TensorInfo info;
    const std::byte* data = nullptr;
    std::vector<std::int64_t> strides;  // empty: contiguous row-major
  };
  // Adds a tensor. Throws ParseError if the name is already present.
  void add(Source source);
  // Keeps `owner` (a memory map, a byte buffer) alive as long as this TensorFile.
  void keep_alive(std::shared_ptr<const void> owner);
  // Moves every tensor and owner of `other` into this one. Throws ParseError on a name that
  // both hold.
  void merge(TensorFile&& other);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Opens the weights in a model folder: model.safetensors, else model.safetensors.index.json
// (sharded), else pytorch_model.bin, else pytorch_model.bin.index.json. Throws IoError
// listing the names it looked for when there is none.
TensorFile open_checkpoint(const std::filesystem::path& folder);

// Opens a sharded checkpoint from its index (a JSON object whose "weight_map" maps tensor
// name -> shard file in the same folder), reading each shard with `open_shard`. Every tensor
// the index names must be in its shard. Throws ParseError naming the index for a malformed
// one.
TensorFile open_sharded(const std::filesystem::path& index_path,
                        TensorFile (*open_shard)(const std::filesystem::path& shard));

}  // namespace bertlite::io
