// io/model_config.h - what a model folder says about its encoder: config.json, and for
// sentence-transformers folders modules.json + 1_Pooling/config.json (the default pooling).
//
// Both Hugging Face spellings are read into one struct: BERT's hidden_size /
// num_hidden_layers / ... and DistilBERT's dim / n_layers / .... Anything bertlite cannot run
// exactly (another model_type, an unknown activation, relative position embeddings) is an
// Unsupported error that lists what is supported.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace bertlite::io {

enum class Architecture { kBert, kDistilBert };
enum class Activation {
  kGeluErf,   // "gelu": 0.5 x (1 + erf(x / sqrt 2)), what BERT and DistilBERT use
  kGeluTanh,  // "gelu_new", "gelu_pytorch_tanh", "gelu_fast": the tanh approximation
  kRelu,
};
enum class Pooling { kCls, kMean, kPooler };

struct ModelConfig {
  Architecture architecture = Architecture::kBert;
  std::int64_t vocab_size = 0;
  std::int64_t hidden = 0;  // H
  std::int64_t layers = 0;
  std::int64_t heads = 0;            // NH; head size D = H / NH
  std::int64_t intermediate = 0;     // FFN width
  std::int64_t max_positions = 0;    // longest input the position table covers
  std::int64_t type_vocab_size = 0;  // 0 for DistilBERT (no token types)
  double layer_norm_eps = 1e-12;
  Activation activation = Activation::kGeluErf;
  // Defaults for features: sentence-transformers folders name their pooling and whether they
  // L2-normalize; plain Hugging Face folders get [CLS], as the walkthrough uses.
  Pooling pooling = Pooling::kCls;
  bool normalize = false;
  // "int8" or "bf16" for a folder written by `bertlite quantize` (config.json's
  // bertlite_precision): the precision it loads with unless asked otherwise. Empty: float.
  std::string precision;
  std::string source;  // the config.json path, for messages

  std::int64_t head_size() const { return hidden / heads; }
};

// Reads config.json (and sentence-transformers files when present) from a model folder.
// Throws IoError / ParseError naming the file and field, Unsupported for what cannot run.
ModelConfig read_model_config(const std::filesystem::path& folder);

// Same, from config.json's text; `name` is used in messages. No pooling files are read.
ModelConfig parse_model_config(std::string_view json_text, const std::string& name);

const char* architecture_name(Architecture a);
const char* activation_name(Activation a);
const char* pooling_name(Pooling p);
// "cls", "mean", "pooler" -> Pooling; throws InvalidArgument listing the choices.
Pooling parse_pooling(std::string_view name);

}  // namespace bertlite::io
