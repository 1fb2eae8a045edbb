#include "model/encoder.h"

#include <cmath>

#include "bertlite/error.h"
#include "kernels/attention.h"
#include "kernels/layernorm.h"
#include "kernels/rows.h"

namespace bertlite::model {

void PackedBatch::add(std::span<const std::int32_t> sequence_ids,
                      std::span<const std::int32_t> sequence_type_ids) {
  ids.insert(ids.end(), sequence_ids.begin(), sequence_ids.end());
  if (sequence_type_ids.size() == sequence_ids.size()) {
    type_ids.insert(type_ids.end(), sequence_type_ids.begin(), sequence_type_ids.end());
  } else {
    type_ids.insert(type_ids.end(), sequence_ids.size(), 0);
  }
  for (std::size_t i = 0; i < sequence_ids.size(); ++i)
    positions.push_back(static_cast<std::int32_t>(i));
  starts.push_back(static_cast<std::int64_t>(ids.size()));
}

void PackedBatch::clear() {
  ids.clear();
  type_ids.clear();
  positions.clear();
  starts.assign(1, 0);
}

// The GEMMs of one layer, prepacked at load. The query, key and value weights are stacked into
// one [3H, H] matrix so a single GEMM produces all three.
struct Encoder::Layer {
  kernels::Linear qkv;
  kernels::Linear attention_output;
  kernels::Linear ffn_in;  // activation fused
  kernels::Linear ffn_out;
  LayerNormWeights attention_norm;
  LayerNormWeights output_norm;
};

Encoder::Encoder(Encoder&&) noexcept = default;
Encoder& Encoder::operator=(Encoder&&) noexcept = default;
Encoder::~Encoder() = default;

namespace {

kernels::Activation activation_of(io::Activation a) {
  switch (a) {
    case io::Activation::kGeluErf:
      return kernels::Activation::kGeluErf;
    case io::Activation::kGeluTanh:
      return kernels::Activation::kGeluTanh;
    case io::Activation::kRelu:
      break;
  }
  throw Unsupported("the relu activation is not implemented by the kernels yet");
}

kernels::Linear make_linear(const LinearWeights& w, kernels::LinearEpilogue epilogue = {}) {
  return kernels::Linear(w.weight, w.bias, w.out, w.in, epilogue);
}

}  // namespace

Encoder Encoder::load(const std::filesystem::path& folder) {
  Encoder e;
  e.config_ = io::read_model_config(folder);
  e.file_ = io::open_checkpoint(folder);
  e.weights_ = bind_weights(e.config_, e.file_);
  const io::ModelConfig& c = e.config_;
  const std::int64_t H = c.hidden;
  std::vector<float> qkv_weight(static_cast<std::size_t>(3 * H * H));
  std::vector<float> qkv_bias(static_cast<std::size_t>(3 * H));
  for (const LayerWeights& w : e.weights_.layers) {
    const LinearWeights* parts[] = {&w.query, &w.key, &w.value};
    for (int p = 0; p < 3; ++p) {
      std::copy_n(parts[p]->weight, H * H, qkv_weight.begin() + p * H * H);
      std::copy_n(parts[p]->bias, H, qkv_bias.begin() + p * H);
    }
    e.layers_.push_back(Layer{
        kernels::Linear(qkv_weight.data(), qkv_bias.data(), 3 * H, H),
        make_linear(w.attention_output),
        make_linear(w.ffn_in, {activation_of(c.activation), false}),
        make_linear(w.ffn_out),
        w.attention_norm,
        w.output_norm,
    });
  }
  if (e.weights_.pooler.weight) {
    e.pooler_ = std::make_unique<kernels::Linear>(
        make_linear(e.weights_.pooler, {kernels::Activation::kTanh, false}));
  }
  EncoderWeights counted;
  for (const ParameterSpec& spec : parameter_table(c, counted)) {
    if (spec.optional && !e.pooler_) continue;
    std::int64_t n = 1;
    for (std::int64_t d : spec.shape) n *= d;
    e.parameter_count_ += n;
  }
  return e;
}

void Encoder::forward(const PackedBatch& batch, std::vector<float>& hidden,
                      const Observer& observer) const {
  const io::ModelConfig& c = config_;
  const std::int64_t T = batch.tokens(), H = c.hidden, I = c.intermediate;
  const auto eps = static_cast<float>(c.layer_norm_eps);
  hidden.resize(static_cast<std::size_t>(T * H));
  if (T == 0) return;
  float* x = hidden.data();
  auto notify = [&](std::string_view name, int layer, const float* data, std::int64_t cols) {
    if (observer) observer(name, layer, data, T, cols);
  };

  // Embeddings: word + position (+ token type), then LayerNorm.
  kernels::embedding_lookup(x, weights_.word_embeddings, batch.ids.data(), T, H, c.vocab_size);
  kernels::embedding_add(x, weights_.position_embeddings, batch.positions.data(), T, H,
                         c.max_positions);
  if (weights_.token_type_embeddings) {
    kernels::embedding_add(x, weights_.token_type_embeddings, batch.type_ids.data(), T, H,
                           c.type_vocab_size);
  }
  kernels::layernorm_forward(x, nullptr, nullptr, x, nullptr, weights_.embedding_norm.gamma,
                             weights_.embedding_norm.beta, T, H, eps);
  notify("embeddings", -1, x, H);

  std::vector<float> qkv(static_cast<std::size_t>(T * 3 * H));
  std::vector<float> context(static_cast<std::size_t>(T * H));
  std::vector<float> attended(static_cast<std::size_t>(T * H));
  std::vector<float> inner(static_cast<std::size_t>(T * I));
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_size()));
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    const int index = static_cast<int>(l);
    layer.qkv.forward(qkv.data(), x, T);
    kernels::attention_forward_packed(context.data(), qkv.data(), batch.starts.data(),
                                      batch.sequences(), c.heads, c.head_size(), scale);
    layer.attention_output.forward(attended.data(), context.data(), T);
    kernels::layernorm_forward(attended.data(), nullptr, nullptr, attended.data(), x,
                               layer.attention_norm.gamma, layer.attention_norm.beta, T, H, eps);
    notify("attention_output", index, attended.data(), H);
    layer.ffn_in.forward(inner.data(), attended.data(), T);
    notify("intermediate", index, inner.data(), I);
    layer.ffn_out.forward(x, inner.data(), T);
    kernels::layernorm_forward(x, nullptr, nullptr, x, attended.data(), layer.output_norm.gamma,
                               layer.output_norm.beta, T, H, eps);
    notify("hidden", index, x, H);
  }
}

std::vector<float> Encoder::pool(const PackedBatch& batch, const std::vector<float>& hidden,
                                 io::Pooling pooling, bool normalize) const {
  const std::int64_t B = batch.sequences(), H = config_.hidden;
  if (static_cast<std::int64_t>(hidden.size()) != batch.tokens() * H) {
    throw InvalidArgument("pool: hidden states do not match the batch");
  }
  std::vector<float> out(static_cast<std::size_t>(B * H));
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t begin = batch.starts[b], length = batch.starts[b + 1] - begin;
    const float* rows = hidden.data() + begin * H;
    if (pooling == io::Pooling::kMean) {
      if (length > 0) kernels::mean_pool(out.data() + b * H, rows, length, H);
    } else if (length > 0) {
      std::copy_n(rows, H, out.data() + b * H);  // the [CLS] row
    }
  }
  if (pooling == io::Pooling::kPooler) {
    if (!pooler_) {
      throw InvalidArgument(config_.source +
                            ": the model has no pooler weights; use cls or mean pooling");
    }
    std::vector<float> cls = out;
    pooler_->forward(out.data(), cls.data(), B);
  }
  if (normalize) kernels::l2_normalize_rows(out.data(), out.data(), B, H);
  return out;
}

}  // namespace bertlite::model
