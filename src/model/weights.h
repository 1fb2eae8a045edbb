// model/weights.h - the encoder's parameters: one table of Hugging Face names and shapes.
//
// Every tensor the forward pass reads is declared once, with its name (as transformers names
// it in a bare BertModel / DistilBertModel) and its expected shape. Binding the table to a
// checkpoint resolves each name in one place - with or without the task prefix ("bert.",
// "distilbert."), with either LayerNorm spelling (weight/bias or gamma/beta) - and fails by
// name: "encoder.layer.3.attention.self.query.weight: expected [384, 384], found [384, 768]".
// Tensors the file holds but the encoder does not use (task heads, position_ids) are ignored.
// The weights stay views into the TensorFile (zero copy for fp32 safetensors).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/model_config.h"
#include "io/tensor_file.h"

namespace bertlite::model {

// y = x W^T + b with W stored [out, in], as torch.nn.Linear stores it.
struct LinearWeights {
  const float* weight = nullptr;  // [out, in]; null when the file stores it as int8
  const float* bias = nullptr;    // [out]
  // A `bertlite quantize` file stores NAME.weight as int8 [out, in] plus NAME.weight_scale
  // float [out]; the real weight is weight_int8[n, k] * weight_scale[n].
  const std::int8_t* weight_int8 = nullptr;
  const float* weight_scale = nullptr;
  std::int64_t out = 0;
  std::int64_t in = 0;
};

struct LayerNormWeights {
  const float* gamma = nullptr;  // [H]
  const float* beta = nullptr;   // [H]
};

// One post-LN transformer layer, named by role rather than by either model's spelling.
struct LayerWeights {
  LinearWeights query, key, value;  // [H, H] each
  LinearWeights attention_output;   // [H, H]
  LayerNormWeights attention_norm;  // after attention + residual
  LinearWeights ffn_in;             // [I, H]
  LinearWeights ffn_out;            // [H, I]
  LayerNormWeights output_norm;     // after FFN + residual
};

struct EncoderWeights {
  const float* word_embeddings = nullptr;        // [V, H]
  const float* position_embeddings = nullptr;    // [P, H]
  const float* token_type_embeddings = nullptr;  // [T, H]; BERT only
  LayerNormWeights embedding_norm;
  std::vector<LayerWeights> layers;
  LinearWeights pooler;  // [H, H]; BERT only, and optional (weight == nullptr when absent)
};

// One row of the table: the canonical name, expected shape, and where the pointer goes.
struct ParameterSpec {
  std::string name;
  std::vector<std::int64_t> shape;
  const float** slot;
  bool optional = false;
  // Set for a Linear's weight: the only tensors a quantized file may store as int8.
  LinearWeights* linear = nullptr;
};

// The suffix a quantized file adds to a weight's name for its per-row scales.
inline constexpr const char* kWeightScaleSuffix = "_scale";

// The table for `config`, pointing into `weights`.
std::vector<ParameterSpec> parameter_table(const io::ModelConfig& config, EncoderWeights& weights);

// Resolves a canonical name to the name `file` uses (prefix, LayerNorm spelling); "" if absent.
std::string resolve_tensor_name(const io::TensorFile& file, const std::string& canonical);

// Binds every parameter of `config` to tensors of `file`. Throws ParseError naming the first
// missing or mis-shaped tensor, and counting any others.
EncoderWeights bind_weights(const io::ModelConfig& config, const io::TensorFile& file);

}  // namespace bertlite::model
