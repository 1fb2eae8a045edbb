// io/convert.cpp - see convert.h.
#include "io/convert.h"

#include <unistd.h>

#include <cstring>
#include <system_error>

#include "bertlite/error.h"
#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "util/file.h"

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

void build_folder_atomically(const fs::path& out,
                             const std::function<void(const fs::path& staging)>& fill) {
  std::error_code error;
  if (fs::exists(out, error)) {
    throw IoError(out.string() + ": already exists; give a new folder to write");
  }
  // .NAME.partial.PID: two processes writing the same folder each fill their own; the loser's
  // rename fails because the folder then exists. Staging folders of killed runs are removed.
  const std::string staging_prefix = "." + out.filename().string() + ".partial.";
  util::remove_abandoned_files(out.parent_path(), staging_prefix);
  const fs::path staging = out.parent_path() / (staging_prefix + std::to_string(::getpid()));
  fs::remove_all(staging, error);
  try {
    fs::create_directories(staging);
    fill(staging);
    fs::rename(staging, out);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(staging, error);
    throw IoError(out.string() + ": cannot write the model folder: " + e.what());
  } catch (...) {
    fs::remove_all(staging, error);
    throw;
  }
}

std::vector<std::string> copy_model_files(const fs::path& folder, const fs::path& dest,
                                          const std::set<std::string>& skip) {
  std::vector<std::string> copied;
  for (auto it = fs::recursive_directory_iterator(folder); it != fs::end(it); ++it) {
    const fs::path relative = fs::relative(it->path(), folder);
    const bool hidden = relative.begin()->string().starts_with(".");  // .git, .cache
    if (hidden || is_weight_file(relative) || skip.contains(relative.string())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory()) {
      fs::create_directories(dest / relative);
    } else if (it->is_regular_file()) {
      fs::copy_file(it->path(), dest / relative);
      copied.push_back(relative.string());
    }
  }
  return copied;
}

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
  build_folder_atomically(out, [&](const fs::path& staging) {
    write_safetensors(staging / "model.safetensors", tensors, {{"format", "pt"}});
    report.copied = copy_model_files(folder, staging);
  });
  return report;
}

}  // namespace bertlite::io
