// model/quantize.cpp - see quantize.h.
#include "model/quantize.h"

#include <cstring>
#include <nlohmann/json.hpp>
#include <system_error>

#include "bertlite/error.h"
#include "io/convert.h"
#include "io/safetensors.h"
#include "model/weights.h"
#include "util/file.h"

namespace bertlite::model {
namespace {

namespace fs = std::filesystem;

std::span<const std::byte> as_bytes(const void* data, std::size_t size) {
  return {static_cast<const std::byte*>(data), size};
}

std::uintmax_t weight_bytes(const fs::path& folder) {
  std::uintmax_t total = 0;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".safetensors") || name.ends_with(".bin")) total += entry.file_size(error);
  }
  return total;
}

}  // namespace

QuantizeReport quantize_model(const fs::path& folder, const fs::path& out,
                              kernels::Precision precision) {
  if (precision == kernels::Precision::kF32) {
    throw InvalidArgument("quantize: choose int8 or bf16 (fp32 is what the model already is)");
  }
  // Refused before the work, not after it (build_folder_atomically checks again at the end).
  if (std::error_code error; fs::exists(out, error)) {
    throw IoError(out.string() + ": already exists; give a new folder to write");
  }
  const io::ModelConfig config = io::read_model_config(folder);
  if (!config.precision.empty()) {
    throw InvalidArgument(folder.string() + ": already quantized (" + config.precision +
                          "); quantize the original model");
  }
  const io::TensorFile file = io::open_checkpoint(folder);
  bind_weights(config, file);  // every tensor present and well-shaped, or a named error
  EncoderWeights unused;
  const std::vector<ParameterSpec> table = parameter_table(config, unused);

  QuantizeReport report;
  // Storage for converted tensors; deque-like stability via reserve (pointers must not move).
  std::vector<std::vector<std::byte>> storage;
  storage.reserve(table.size() * 2);
  std::vector<io::TensorToWrite> tensors;
  for (const ParameterSpec& spec : table) {
    const std::string name = resolve_tensor_name(file, spec.name);
    if (name.empty()) continue;  // an optional tensor the file does not have (the pooler)
    const io::FloatTensor values = file.floats(name);
    const bool gemm_weight = spec.linear != nullptr && !spec.name.starts_with("pooler.");
    if (!gemm_weight) {
      tensors.push_back(io::f32_tensor(spec.name, spec.shape, values.data));
      ++report.kept;
      continue;
    }
    const std::int64_t N = spec.shape[0], K = spec.shape[1];
    if (precision == kernels::Precision::kInt8) {
      std::vector<std::byte>& q = storage.emplace_back(static_cast<std::size_t>(N * K));
      std::vector<std::byte>& scales = storage.emplace_back(static_cast<std::size_t>(N) * 4);
      kernels::quantize_weight_rows(reinterpret_cast<std::int8_t*>(q.data()),
                                    reinterpret_cast<float*>(scales.data()), values.data.data(), N,
                                    K);
      tensors.push_back({spec.name, io::DType::kI8, {N, K}, as_bytes(q.data(), q.size())});
      tensors.push_back({spec.name + kWeightScaleSuffix,
                         io::DType::kF32,
                         {N},
                         as_bytes(scales.data(), scales.size())});
    } else {
      std::vector<std::byte>& bits = storage.emplace_back(static_cast<std::size_t>(N * K) * 2);
      for (std::int64_t i = 0; i < N * K; ++i) {
        const std::uint16_t b = io::f32_to_bf16(values.data[i]);
        std::memcpy(bits.data() + 2 * i, &b, 2);
      }
      tensors.push_back({spec.name, io::DType::kBF16, {N, K}, as_bytes(bits.data(), bits.size())});
    }
    ++report.quantized;
  }

  nlohmann::json config_json = nlohmann::json::parse(util::read_file(folder / "config.json"));
  config_json["bertlite_precision"] = kernels::precision_name(precision);
  const std::string precision_name = kernels::precision_name(precision);
  io::build_folder_atomically(out, [&](const fs::path& staging) {
    io::write_safetensors(staging / "model.safetensors", tensors,
                          {{"format", "pt"},
                           {"bertlite_precision", precision_name},
                           {"bertlite_quantize_version", std::to_string(kQuantizeFormatVersion)}});
    util::write_file_atomic(staging / "config.json", config_json.dump(2) + "\n");
    io::copy_model_files(folder, staging, {"config.json"});
  });
  report.bytes_before = weight_bytes(folder);
  report.bytes_after = weight_bytes(out);
  return report;
}

}  // namespace bertlite::model
