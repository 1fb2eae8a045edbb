// io/convert.cpp - see convert.h.
#include "io/convert.h"

#include <cstring>
#include <system_error>

#include "bertlite/error.h"
#include "io/safetensors.h"
#include "io/tensor_file.h"

namespace bertlite::io {
namespace {

namespace fs = std::filesystem;

// Weight files of any framework: the new folder has model.safetensors instead.
bool is_weight_file(const fs::path& relative) {
  const std::string name = relative.filename().string();
  const std::string first = relative.begin()->string();
  if (first == "onnx" || first == "openvino") return true;  // exports of the old weights
  return name.starts_with("pytorch_model") || name.starts_with("model.safetensors") ||
         name.starts_with("tf_model") || name.starts_with("flax_model") ||
         name == "rust_model.ot" || name.ends_with(".bin") || name.ends_with(".safetensors") ||
         name.ends_with(".h5") || name.ends_with(".msgpack") || name.ends_with(".onnx");
}

// A tensor's values as bytes in its stored dtype (F32, F16 or BF16).
std::vector<std::byte> stored_bytes(const TensorFile& file, const TensorInfo& info) {
  const FloatTensor tensor = file.floats(info.name);
  std::vector<std::byte> bytes;
  if (info.source_dtype == DType::kF32) {
    bytes.resize(tensor.data.size() * sizeof(float));
    std::memcpy(bytes.data(), tensor.data.data(), bytes.size());
    return bytes;
  }
  // Widening to float32 was exact, so narrowing back restores the stored bits.
  bytes.resize(tensor.data.size() * 2);
  for (std::size_t i = 0; i < tensor.data.size(); ++i) {
    const std::uint16_t bits =
        info.source_dtype == DType::kF16 ? f32_to_f16(tensor.data[i]) : f32_to_bf16(tensor.data[i]);
    std::memcpy(bytes.data() + 2 * i, &bits, 2);
  }
  return bytes;
}

}  // namespace

ConversionReport convert_to_safetensors(const fs::path& folder, const fs::path& out) {
  std::error_code error;
  if (fs::exists(out, error)) {
    throw IoError(out.string() + ": already exists; give a new folder to write");
  }
  const TensorFile file = open_checkpoint(folder);
  ConversionReport report;
  report.source = file.source();

  std::vector<std::vector<std::byte>> storage;
  std::vector<TensorToWrite> tensors;
  const std::vector<TensorInfo> infos = file.tensors();
  storage.reserve(infos.size());
  for (const TensorInfo& info : infos) {
    const DType dtype = info.source_dtype;
    if (dtype != DType::kF32 && dtype != DType::kF16 && dtype != DType::kBF16) {
      report.skipped.push_back(info.name + " (" + std::string(dtype_name(dtype)) + ")");
      continue;
    }
    storage.push_back(stored_bytes(file, info));
    tensors.push_back({info.name, dtype, info.shape, storage.back()});
  }
  report.tensors = tensors.size();

  // Build beside the target and rename at the end: an error leaves nothing behind.
  std::string staging_name = ".";
  staging_name += out.filename().string();
  staging_name += ".partial";
  const fs::path staging = out.parent_path() / staging_name;
  fs::remove_all(staging, error);
  try {
    fs::create_directories(staging);
    write_safetensors(staging / "model.safetensors", tensors, {{"format", "pt"}});
    for (auto it = fs::recursive_directory_iterator(folder); it != fs::end(it); ++it) {
      const fs::path relative = fs::relative(it->path(), folder);
      if (relative.begin()->string().starts_with(".")) {  // .git, .cache, .gitattributes
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (is_weight_file(relative)) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_directory()) {
        fs::create_directories(staging / relative);
      } else if (it->is_regular_file()) {
        fs::copy_file(it->path(), staging / relative);
        report.copied.push_back(relative.string());
      }
    }
    fs::rename(staging, out);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(staging, error);
    throw IoError(out.string() + ": cannot write the converted model: " + e.what());
  } catch (...) {
    fs::remove_all(staging, error);
    throw;
  }
  return report;
}

}  // namespace bertlite::io
