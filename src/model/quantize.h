// model/quantize.h - `bertlite quantize`: a model folder whose GEMM weights are stored in the
// precision they run in, so loading it neither re-quantizes nor holds float copies.
//
// The format (a normal Hugging Face folder that bertlite reads; transformers does not):
//   config.json         the original, plus "bertlite_precision": "int8" or "bf16"
//   model.safetensors   every tensor the encoder uses, under its canonical name (no task
//                       prefix; LayerNorm as weight/bias). The weight of each layer's query, key,
//                       value, attention output and both FFN Linears is
//                         int8: NAME.weight I8 [out, in] in [-127, 127] plus
//                               NAME.weight_scale F32 [out]; real weight = I8 * scale per row
//                         bf16: NAME.weight BF16 [out, in]
//                       Embeddings, LayerNorms, biases and the pooler stay F32.
//                       Metadata: format=pt, bertlite_precision, bertlite_quantize_version=1.
//   everything else     copied (tokenizer files, sentence-transformers modules)
#pragma once

#include <filesystem>
#include <string>

#include "kernels/linear.h"

namespace bertlite::model {

inline constexpr int kQuantizeFormatVersion = 1;

struct QuantizeReport {
  std::size_t quantized = 0;                         // weights converted
  std::size_t kept = 0;                              // tensors kept in float
  std::uintmax_t bytes_before = 0, bytes_after = 0;  // weight file sizes
};

// Writes `out` (which must not exist) from the model folder `folder`. `precision` is kInt8 or
// kBF16; kF32 is an InvalidArgument. Throws as Encoder::load for a broken model.
QuantizeReport quantize_model(const std::filesystem::path& folder, const std::filesystem::path& out,
                              kernels::Precision precision);

}  // namespace bertlite::model
