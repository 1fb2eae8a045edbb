// io/tensor_file.cpp - TensorFile (views, lazy float32 conversion), dtype helpers, and the
// checkpoint folder loader that picks a format.
#include "io/tensor_file.h"

#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <set>

#include "bertlite/error.h"
#include "io/safetensors.h"
#include "io/torch_checkpoint.h"
#include "util/file.h"

namespace bertlite::io {
namespace {

namespace fs = std::filesystem;

struct DTypeRow {
  DType dtype;
  std::string_view name;
  std::size_t size;
};

constexpr std::array<DTypeRow, 16> kDTypes{{
    {DType::kBool, "BOOL", 1},
    {DType::kU8, "U8", 1},
    {DType::kI8, "I8", 1},
    {DType::kF8E5M2, "F8_E5M2", 1},
    {DType::kF8E4M3, "F8_E4M3", 1},
    {DType::kI16, "I16", 2},
    {DType::kU16, "U16", 2},
    {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2},
    {DType::kI32, "I32", 4},
    {DType::kU32, "U32", 4},
    {DType::kF32, "F32", 4},
    {DType::kC64, "C64", 8},
    {DType::kF64, "F64", 8},
    {DType::kI64, "I64", 8},
    {DType::kU64, "U64", 8},
}};

const DTypeRow& row(DType dtype) {
  return kDTypes[static_cast<std::size_t>(dtype)];
}

bool loads_as_float(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16;
}

// Row-major strides, in elements, of a contiguous tensor of `shape`. The caller has checked
// that the element count fits in int64, so no product here overflows.
std::vector<std::int64_t> contiguous_strides(std::span<const std::int64_t> shape) {
  std::vector<std::int64_t> strides(shape.size());
  std::int64_t stride = 1;
  for (std::size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= std::max<std::int64_t>(shape[d], 1);
  }
  return strides;
}

// PyTorch's is_contiguous(): a dimension of size 1 may have any stride, and an empty tensor
// is always contiguous.
bool is_contiguous(std::span<const std::int64_t> shape, std::span<const std::int64_t> strides) {
  std::int64_t expected = 1;
  for (std::size_t d = shape.size(); d-- > 0;) {
    if (shape[d] == 0) return true;
    if (shape[d] != 1 && strides[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

// Owned float32 buffers are 64-byte aligned so kernels can use aligned vector loads.
struct AlignedDelete {
  void operator()(float* p) const { ::operator delete[](p, std::align_val_t{64}); }
};
using AlignedFloats = std::unique_ptr<float[], AlignedDelete>;

AlignedFloats allocate_floats(std::size_t count) {
  void* memory =
      ::operator new[](std::max<std::size_t>(count, 1) * sizeof(float), std::align_val_t{64});
  return AlignedFloats(static_cast<float*>(memory));
}

// Copies a (possibly strided) tensor into `out` in row-major order, converting each element
// with `load`. Walks the outer dimensions with an odometer so any rank works.
template <typename Out, typename Load>
void gather(Out* out, const std::byte* base, std::size_t element_size,
            std::span<const std::int64_t> shape, std::span<const std::int64_t> strides,
            std::int64_t count, Load load) {
  if (count == 0) return;
  const std::size_t rank = shape.size();
  if (rank == 0) {
    *out = load(base);
    return;
  }
  const std::int64_t inner = shape[rank - 1];
  const auto inner_step = static_cast<std::ptrdiff_t>(strides[rank - 1] * element_size);
  std::vector<std::int64_t> index(rank, 0);
  std::int64_t offset = 0;  // element offset of the current row
  for (std::int64_t done = 0; done < count; done += inner) {
    const std::byte* p = base + offset * static_cast<std::int64_t>(element_size);
    for (std::int64_t j = 0; j < inner; ++j, p += inner_step) *out++ = load(p);
    for (std::size_t d = rank - 1; d-- > 0;) {
      if (++index[d] < shape[d]) {
        offset += strides[d];
        break;
      }
      offset -= (shape[d] - 1) * strides[d];
      index[d] = 0;
    }
  }
}

template <typename T>
T load_le(const std::byte* p) {
  static_assert(std::endian::native == std::endian::little,
                "model files are little-endian; big-endian hosts need byte swapping here");
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

}  // namespace

std::string_view dtype_name(DType dtype) {
  return row(dtype).name;
}
std::size_t dtype_size(DType dtype) {
  return row(dtype).size;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const DTypeRow& r : kDTypes) {
    if (r.name == name) return r.dtype;
  }
  return std::nullopt;
}

float f16_to_f32(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1Fu;
  std::uint32_t mantissa = bits & 0x3FFu;
  std::uint32_t out;
  if (exponent == 0x1F) {
    out = sign | 0x7F800000u | (mantissa << 13);  // infinity, or NaN keeping its payload
  } else if (exponent != 0) {
    out = sign | ((exponent + 112) << 23) | (mantissa << 13);  // rebias 15 -> 127
  } else if (mantissa == 0) {
    out = sign;
  } else {
    // Subnormal m * 2^-24: shift the leading one up to bit 10 to make it a normal float32.
    std::uint32_t shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    out = sign | ((113 - shift) << 23) | ((mantissa & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(out);
}

float bf16_to_f32(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

std::uint16_t f32_to_f16(float value) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t magnitude = x & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return sign | 0x7E00u;   // NaN: PyTorch's canonical quiet NaN
  if (magnitude >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520 rounds to infinity
  if (magnitude >= 0x38800000u) {                       // normal in binary16 (>= 2^-14)
    std::uint32_t h = (magnitude - 0x38000000u) >> 13;
    const std::uint32_t rest = magnitude & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // nearest even
    return static_cast<std::uint16_t>(sign | h);
  }
  if (magnitude <= 0x33000000u) return sign;  // <= 2^-25 rounds to (signed) zero
  // Subnormal binary16: value * 2^24, rounded to nearest even.
  const std::uint32_t exponent = magnitude >> 23;
  const std::uint32_t mantissa = (magnitude & 0x7FFFFFu) | 0x800000u;
  const std::uint32_t shift = 126 - exponent;
  std::uint32_t h = mantissa >> shift;
  const std::uint32_t rest = mantissa & ((1u << shift) - 1);
  const std::uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (h & 1u))) ++h;
  return static_cast<std::uint16_t>(sign | h);
}

std::uint16_t f32_to_bf16(float value) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0u;        // NaN, as c10::BFloat16 does
  const std::uint32_t rounding = ((x >> 16) & 1u) + 0x7FFFu;  // nearest even
  return static_cast<std::uint16_t>((x + rounding) >> 16);
}

std::string format_shape(std::span<const std::int64_t> shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

std::optional<std::int64_t> checked_element_count(std::span<const std::int64_t> shape) {
  bool empty = false;
  for (std::int64_t dim : shape) {
    if (dim < 0) return std::nullopt;
    empty = empty || dim == 0;
  }
  // A zero dimension makes the tensor empty however large the other dimensions are.
  if (empty) return 0;
  std::int64_t count = 1;
  for (std::int64_t dim : shape) {
    if (count > std::numeric_limits<std::int64_t>::max() / dim) return std::nullopt;
    count *= dim;
  }
  return count;
}

std::int64_t TensorInfo::element_count() const {
  return checked_element_count(shape).value_or(0);
}

// ---- TensorFile ----

namespace {

struct Entry {
  TensorInfo info;
  const std::byte* data = nullptr;
  std::vector<std::int64_t> strides;  // always filled, in elements
  bool zero_copy = false;
  // The float32 copy, made on first request; guarded by State::mutex.
  mutable AlignedFloats converted;
  mutable bool is_converted = false;
};

}  // namespace

struct TensorFile::State {
  std::string source;
  std::map<std::string, Entry, std::less<>> entries;
  std::vector<std::shared_ptr<const void>> owners;
  std::mutex mutex;

  const Entry& at(std::string_view name) const {
    auto it = entries.find(name);
    if (it == entries.end()) {
      throw InvalidArgument(source + ": no tensor named '" + std::string(name) + "'");
    }
    return it->second;
  }
};

TensorFile::TensorFile(std::string source) : state_(std::make_unique<State>()) {
  state_->source = std::move(source);
}
TensorFile::~TensorFile() = default;
TensorFile::TensorFile(TensorFile&&) noexcept = default;
TensorFile& TensorFile::operator=(TensorFile&&) noexcept = default;

const std::string& TensorFile::source() const {
  return state_->source;
}
std::size_t TensorFile::size() const {
  return state_->entries.size();
}

std::vector<TensorInfo> TensorFile::tensors() const {
  std::vector<TensorInfo> out;
  out.reserve(state_->entries.size());
  for (const auto& [name, entry] : state_->entries) out.push_back(entry.info);
  return out;
}

bool TensorFile::contains(std::string_view name) const {
  return find(name) != nullptr;
}

const TensorInfo* TensorFile::find(std::string_view name) const {
  auto it = state_->entries.find(name);
  return it == state_->entries.end() ? nullptr : &it->second.info;
}

std::span<const std::byte> TensorFile::bytes(std::string_view name) const {
  const Entry& entry = state_->at(name);
  const TensorInfo& info = entry.info;
  // Row-major contiguous: the last stride is 1 and each outer stride spans the dims inside it.
  std::int64_t expected = 1;
  for (std::size_t d = info.shape.size(); d-- > 0;) {
    if (info.shape[d] > 1 && entry.strides[d] != expected) {
      throw Unsupported(info.file + ": tensor '" + info.name +
                        "' is strided; only contiguous tensors are read as raw bytes");
    }
    expected *= info.shape[d];
  }
  return {entry.data,
          static_cast<std::size_t>(info.element_count()) * dtype_size(info.source_dtype)};
}

bool TensorFile::is_zero_copy(std::string_view name) const {
  return state_->at(name).zero_copy;
}

FloatTensor TensorFile::floats(std::string_view name) const {
  const Entry& entry = state_->at(name);
  const TensorInfo& info = entry.info;
  if (!loads_as_float(info.source_dtype)) {
    throw Unsupported(info.file + ": tensor '" + info.name + "' is " +
                      std::string(dtype_name(info.source_dtype)) +
                      "; only F32, F16 and BF16 tensors load as float32");
  }
  const std::int64_t count = info.element_count();
  if (entry.zero_copy) {
    return {{reinterpret_cast<const float*>(entry.data), static_cast<std::size_t>(count)},
            info.shape};
  }
  std::lock_guard lock(state_->mutex);
  if (!entry.is_converted) {
    AlignedFloats buffer = allocate_floats(static_cast<std::size_t>(count));
    const std::size_t size = dtype_size(info.source_dtype);
    switch (info.source_dtype) {
      case DType::kF32:
        gather(buffer.get(), entry.data, size, info.shape, entry.strides, count,
               [](const std::byte* p) { return load_le<float>(p); });
        break;
      case DType::kF16:
        gather(buffer.get(), entry.data, size, info.shape, entry.strides, count,
               [](const std::byte* p) { return f16_to_f32(load_le<std::uint16_t>(p)); });
        break;
      default:  // BF16; loads_as_float() excluded everything else
        gather(buffer.get(), entry.data, size, info.shape, entry.strides, count,
               [](const std::byte* p) { return bf16_to_f32(load_le<std::uint16_t>(p)); });
        break;
    }
    entry.converted = std::move(buffer);
    entry.is_converted = true;
  }
  return {{entry.converted.get(), static_cast<std::size_t>(count)}, info.shape};
}

std::vector<std::int64_t> TensorFile::integers(std::string_view name) const {
  const Entry& entry = state_->at(name);
  const TensorInfo& info = entry.info;
  std::vector<std::int64_t> out(static_cast<std::size_t>(info.element_count()));
  const std::size_t size = dtype_size(info.source_dtype);
  const auto load_as = [&]<typename T>(T) {
    gather(out.data(), entry.data, size, info.shape, entry.strides, info.element_count(),
           [](const std::byte* p) { return static_cast<std::int64_t>(load_le<T>(p)); });
  };
  switch (info.source_dtype) {
    case DType::kI64:
      load_as(std::int64_t{});
      break;
    case DType::kI32:
      load_as(std::int32_t{});
      break;
    case DType::kI16:
      load_as(std::int16_t{});
      break;
    case DType::kI8:
      load_as(std::int8_t{});
      break;
    case DType::kU8:
      load_as(std::uint8_t{});
      break;
    case DType::kU16:
      load_as(std::uint16_t{});
      break;
    case DType::kU32:
      load_as(std::uint32_t{});
      break;
    default:
      throw Unsupported(info.file + ": tensor '" + info.name + "' is " +
                        std::string(dtype_name(info.source_dtype)) +
                        "; only signed integers up to 64 bits and unsigned up to 32 load as "
                        "integers");
  }
  return out;
}

void TensorFile::add(Source source) {
  TensorInfo& info = source.info;
  if (!checked_element_count(info.shape)) {
    // Readers check this with a file-specific message first; this guards the invariant.
    throw ParseError(info.file + ": tensor '" + info.name + "': invalid shape " +
                     format_shape(info.shape));
  }
  if (auto it = state_->entries.find(info.name); it != state_->entries.end()) {
    throw ParseError(info.file + ": tensor '" + info.name + "' is also in " + it->second.info.file);
  }
  if (!source.strides.empty() && source.strides.size() != info.shape.size()) {
    throw ParseError(info.file + ": tensor '" + info.name +
                     "': " + std::to_string(source.strides.size()) + " strides for shape " +
                     format_shape(info.shape));
  }
  Entry entry;
  entry.data = source.data;
  if (source.strides.empty() || is_contiguous(info.shape, source.strides)) {
    entry.strides = contiguous_strides(info.shape);
    entry.zero_copy = info.source_dtype == DType::kF32 &&
                      reinterpret_cast<std::uintptr_t>(source.data) % alignof(float) == 0;
  } else {
    entry.strides = std::move(source.strides);
  }
  std::string name = info.name;
  entry.info = std::move(info);
  state_->entries.emplace(std::move(name), std::move(entry));
}

void TensorFile::keep_alive(std::shared_ptr<const void> owner) {
  state_->owners.push_back(std::move(owner));
}

void TensorFile::merge(TensorFile&& other) {
  for (const auto& [name, entry] : other.state_->entries) {
    if (auto it = state_->entries.find(name); it != state_->entries.end()) {
      throw ParseError(entry.info.file + ": tensor '" + name + "' is also in " +
                       it->second.info.file);
    }
  }
  state_->entries.merge(other.state_->entries);
  for (auto& owner : other.state_->owners) state_->owners.push_back(std::move(owner));
  other.state_->owners.clear();
}

// ---- Folders and shards ----

TensorFile open_sharded(const fs::path& index_path,
                        TensorFile (*open_shard)(const fs::path& shard)) {
  using nlohmann::json;
  const std::string index_name = index_path.string();
  json index;
  try {
    index = json::parse(util::read_file(index_path));
  } catch (const json::exception& e) {
    throw ParseError(index_name + ": not valid JSON: " + e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    throw ParseError(index_name + ": expected an object with a \"weight_map\" object");
  }
  // shard file -> the tensors the index says it holds; ordered so shards open in name order.
  std::map<std::string, std::vector<std::string>> shards;
  for (const auto& [tensor, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) {
      throw ParseError(index_name + ": weight_map['" + tensor + "']: expected a file name");
    }
    const std::string file = shard.get<std::string>();
    // The index is input too: a shard must be a plain file beside it, never a path that
    // escapes the model folder.
    if (file.empty() || file == "." || file == ".." ||
        file.find_first_of("/\\") != std::string::npos) {
      throw ParseError(index_name + ": weight_map['" + tensor + "']: shard '" + file +
                       "' is not a file name in the same folder");
    }
    shards[file].push_back(tensor);
  }
  if (shards.empty()) throw ParseError(index_name + ": weight_map is empty");
  TensorFile result(index_name);
  for (const auto& [file, names] : shards) {
    TensorFile shard = open_shard(index_path.parent_path() / file);
    for (const std::string& name : names) {
      if (!shard.contains(name)) {
        throw ParseError(index_name + ": tensor '" + name + "' is not in its shard " +
                         shard.source());
      }
    }
    result.merge(std::move(shard));
  }
  return result;
}

TensorFile open_checkpoint(const fs::path& folder) {
  if (!fs::is_directory(folder)) throw IoError(folder.string() + ": not a folder");
  struct Candidate {
    const char* file;
    TensorFile (*open)(const fs::path&);
    bool sharded;
  };
  const std::array<Candidate, 4> candidates{{
      {"model.safetensors", &open_safetensors, false},
      {"model.safetensors.index.json", &open_safetensors, true},
      {"pytorch_model.bin", &open_torch_checkpoint, false},
      {"pytorch_model.bin.index.json", &open_torch_checkpoint, true},
  }};
  std::string looked_for;
  for (const Candidate& candidate : candidates) {
    const fs::path path = folder / candidate.file;
    if (fs::is_regular_file(path)) {
      return candidate.sharded ? open_sharded(path, candidate.open) : candidate.open(path);
    }
    looked_for += (looked_for.empty() ? "" : ", ") + std::string(candidate.file);
  }
  std::string hint;
  for (const char* other : {"tf_model.h5", "flax_model.msgpack", "model.onnx"}) {
    if (fs::exists(folder / other)) {
      hint += std::string("; found ") + other + ", a format bertlite does not read";
    }
  }
  throw IoError(folder.string() + ": no model weights: looked for " + looked_for + hint);
}

}  // namespace bertlite::io
