#include "model/weights.h"

#include "bertlite/error.h"

namespace bertlite::model {
namespace {

using Shape = std::vector<std::int64_t>;

void add_linear(std::vector<ParameterSpec>& table, const std::string& name, LinearWeights& linear,
                std::int64_t out, std::int64_t in, bool optional = false) {
  linear.out = out;
  linear.in = in;
  table.push_back({name + ".weight", {out, in}, &linear.weight, optional, &linear});
  table.push_back({name + ".bias", {out}, &linear.bias, optional});
}

void add_norm(std::vector<ParameterSpec>& table, const std::string& name, LayerNormWeights& norm,
              std::int64_t hidden) {
  table.push_back({name + ".weight", {hidden}, &norm.gamma});
  table.push_back({name + ".bias", {hidden}, &norm.beta});
}

}  // namespace

std::vector<ParameterSpec> parameter_table(const io::ModelConfig& c, EncoderWeights& w) {
  const std::int64_t H = c.hidden, I = c.intermediate;
  std::vector<ParameterSpec> table;
  w.layers.assign(static_cast<std::size_t>(c.layers), LayerWeights{});
  table.push_back({"embeddings.word_embeddings.weight", {c.vocab_size, H}, &w.word_embeddings});
  table.push_back(
      {"embeddings.position_embeddings.weight", {c.max_positions, H}, &w.position_embeddings});
  add_norm(table, "embeddings.LayerNorm", w.embedding_norm, H);
  if (c.architecture == io::Architecture::kBert) {
    table.push_back({"embeddings.token_type_embeddings.weight",
                     {c.type_vocab_size, H},
                     &w.token_type_embeddings});
    for (std::int64_t i = 0; i < c.layers; ++i) {
      LayerWeights& l = w.layers[i];
      const std::string p = "encoder.layer." + std::to_string(i) + ".";
      add_linear(table, p + "attention.self.query", l.query, H, H);
      add_linear(table, p + "attention.self.key", l.key, H, H);
      add_linear(table, p + "attention.self.value", l.value, H, H);
      add_linear(table, p + "attention.output.dense", l.attention_output, H, H);
      add_norm(table, p + "attention.output.LayerNorm", l.attention_norm, H);
      add_linear(table, p + "intermediate.dense", l.ffn_in, I, H);
      add_linear(table, p + "output.dense", l.ffn_out, H, I);
      add_norm(table, p + "output.LayerNorm", l.output_norm, H);
    }
    // Sentence-transformers and task exports may drop the pooler; only `pooler` pooling needs it.
    add_linear(table, "pooler.dense", w.pooler, H, H, /*optional=*/true);
  } else {
    for (std::int64_t i = 0; i < c.layers; ++i) {
      LayerWeights& l = w.layers[i];
      const std::string p = "transformer.layer." + std::to_string(i) + ".";
      add_linear(table, p + "attention.q_lin", l.query, H, H);
      add_linear(table, p + "attention.k_lin", l.key, H, H);
      add_linear(table, p + "attention.v_lin", l.value, H, H);
      add_linear(table, p + "attention.out_lin", l.attention_output, H, H);
      add_norm(table, p + "sa_layer_norm", l.attention_norm, H);
      add_linear(table, p + "ffn.lin1", l.ffn_in, I, H);
      add_linear(table, p + "ffn.lin2", l.ffn_out, H, I);
      add_norm(table, p + "output_layer_norm", l.output_norm, H);
    }
  }
  return table;
}

std::string resolve_tensor_name(const io::TensorFile& file, const std::string& canonical) {
  // Old TensorFlow-converted checkpoints (bert-base-uncased) name LayerNorm parameters
  // gamma/beta; task models (…ForSequenceClassification) prefix the encoder's names.
  std::vector<std::string> spellings{canonical};
  const bool layer_norm = canonical.find("LayerNorm.") != std::string::npos ||
                          canonical.find("layer_norm.") != std::string::npos;
  if (layer_norm && canonical.ends_with(".weight")) {
    spellings.push_back(canonical.substr(0, canonical.size() - 6) + "gamma");
  } else if (layer_norm && canonical.ends_with(".bias")) {
    spellings.push_back(canonical.substr(0, canonical.size() - 4) + "beta");
  }
  for (const char* prefix : {"", "bert.", "distilbert."}) {
    for (const std::string& spelling : spellings) {
      const std::string name = prefix + spelling;
      if (file.contains(name)) return name;
    }
  }
  return {};
}

EncoderWeights bind_weights(const io::ModelConfig& config, const io::TensorFile& file) {
  EncoderWeights weights;
  std::vector<ParameterSpec> table = parameter_table(config, weights);
  // The first problem is reported in full; the rest are counted, keeping the error one line.
  std::string first_problem;
  std::size_t more_problems = 0;
  auto problem = [&](const std::string& text) {
    if (first_problem.empty()) {
      first_problem = file.source() + ": " + text;
    } else {
      ++more_problems;
    }
  };
  // Optional tensors come in weight/bias pairs; bind a pair only when both are present.
  for (ParameterSpec& spec : table) {
    const std::string name = resolve_tensor_name(file, spec.name);
    if (name.empty()) {
      if (!spec.optional)
        problem(spec.name + ": missing (expected " + io::format_shape(spec.shape) + ")");
      continue;
    }
    const io::TensorInfo* info = file.find(name);
    if (info->shape != spec.shape) {
      problem(name + ": expected " + io::format_shape(spec.shape) + ", found " +
              io::format_shape(info->shape));
      continue;
    }
    if (spec.linear != nullptr && info->source_dtype == io::DType::kI8) {
      // A quantized weight: int8 values and their per-row scales, used as stored.
      const std::string scale_name = name + kWeightScaleSuffix;
      const io::TensorInfo* scale = file.find(scale_name);
      const std::vector<std::int64_t> scale_shape{spec.shape[0]};
      if (scale == nullptr || scale->shape != scale_shape) {
        problem(scale_name + ": expected " + io::format_shape(scale_shape) + " for the int8 " +
                name +
                (scale == nullptr ? ", missing" : ", found " + io::format_shape(scale->shape)));
        continue;
      }
      spec.linear->weight_int8 = reinterpret_cast<const std::int8_t*>(file.bytes(name).data());
      spec.linear->weight_scale = file.floats(scale_name).data.data();
      continue;
    }
    *spec.slot = file.floats(name).data.data();
  }
  if (!first_problem.empty()) {
    if (more_problems > 0) {
      first_problem += " (and " + std::to_string(more_problems) + " more tensor problems)";
    }
    throw ParseError(first_problem);
  }
  if ((weights.pooler.weight == nullptr) != (weights.pooler.bias == nullptr)) {
    weights.pooler.weight = weights.pooler.bias = nullptr;
  }
  return weights;
}

}  // namespace bertlite::model
