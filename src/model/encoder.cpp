#include "model/encoder.h"

#include <chrono>
#include <cmath>
#include <future>

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

// The weight as floats: the file's own when stored as float, else dequantized into `storage`.
const float* float_weight(const LinearWeights& w, std::vector<float>& storage) {
  if (w.weight != nullptr) return w.weight;
  storage.resize(static_cast<std::size_t>(w.out * w.in));
  for (std::int64_t n = 0; n < w.out; ++n) {
    for (std::int64_t k = 0; k < w.in; ++k) {
      storage[n * w.in + k] = static_cast<float>(w.weight_int8[n * w.in + k]) * w.weight_scale[n];
    }
  }
  return storage.data();
}

kernels::Linear make_linear(const LinearWeights& w, kernels::Precision precision,
                            kernels::LinearEpilogue epilogue = {}) {
  if (w.weight_int8 != nullptr && precision == kernels::Precision::kInt8) {
    return kernels::Linear(w.weight_int8, w.weight_scale, w.bias, w.out, w.in, epilogue);
  }
  std::vector<float> storage;
  return kernels::Linear(float_weight(w, storage), w.bias, w.out, w.in, epilogue,
                         kernels::LinearPlan::kDefault, precision);
}

// Query, key and value stacked into one [3H, H] Linear.
kernels::Linear make_qkv(const LayerWeights& w, std::int64_t H, kernels::Precision precision) {
  const LinearWeights* parts[] = {&w.query, &w.key, &w.value};
  std::vector<float> bias(static_cast<std::size_t>(3 * H));
  for (int p = 0; p < 3; ++p) std::copy_n(parts[p]->bias, H, bias.begin() + p * H);
  const bool stored_int8 = w.query.weight_int8 != nullptr && w.key.weight_int8 != nullptr &&
                           w.value.weight_int8 != nullptr;
  if (stored_int8 && precision == kernels::Precision::kInt8) {
    std::vector<std::int8_t> weight(static_cast<std::size_t>(3 * H * H));
    std::vector<float> scales(static_cast<std::size_t>(3 * H));
    for (int p = 0; p < 3; ++p) {
      std::copy_n(parts[p]->weight_int8, H * H, weight.begin() + p * H * H);
      std::copy_n(parts[p]->weight_scale, H, scales.begin() + p * H);
    }
    return kernels::Linear(weight.data(), scales.data(), bias.data(), 3 * H, H);
  }
  std::vector<float> weight(static_cast<std::size_t>(3 * H * H)), storage;
  for (int p = 0; p < 3; ++p) {
    std::copy_n(float_weight(*parts[p], storage), H * H, weight.begin() + p * H * H);
  }
  return kernels::Linear(weight.data(), bias.data(), 3 * H, H, {}, kernels::LinearPlan::kDefault,
                         precision);
}

}  // namespace

Encoder Encoder::load(const std::filesystem::path& folder,
                      std::optional<kernels::Precision> requested) {
  Encoder e;
  e.config_ = io::read_model_config(folder);
  const kernels::Precision precision =
      requested ? *requested
                : (e.config_.precision.empty() ? kernels::Precision::kF32
                                               : kernels::parse_precision(e.config_.precision));
  e.precision_ = precision;
  // The float GEMM's code gets written while the weights load (about 20 ms off the first
  // embedding); the future's destructor waits for it when this function returns.
  const std::future<void> gemm_code = precision == kernels::Precision::kF32
                                          ? kernels::prepare_float_gemm_code()
                                          : std::future<void>();
  e.file_ = io::open_checkpoint(folder);
  e.weights_ = bind_weights(e.config_, e.file_);
  const io::ModelConfig& c = e.config_;
  const std::int64_t H = c.hidden;
  for (const LayerWeights& w : e.weights_.layers) {
    e.layers_.push_back(Layer{
        make_qkv(w, H, precision),
        make_linear(w.attention_output, precision),
        make_linear(w.ffn_in, precision, {activation_of(c.activation), false}),
        make_linear(w.ffn_out, precision),
        w.attention_norm,
        w.output_norm,
    });
  }
  if (e.weights_.pooler.weight) {
    e.pooler_ = std::make_unique<kernels::Linear>(
        // The pooler is one [H, H] GEMM over B rows: float costs nothing here.
        make_linear(e.weights_.pooler, kernels::Precision::kF32,
                    {kernels::Activation::kTanh, false}));
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

std::string Encoder::gemm_implementation() const {
  return layers_.empty() ? "none" : layers_.front().qkv.implementation();
}

const char* ForwardProfile::stage_name(int stage) {
  static const char* const names[kStageCount] = {
      "embeddings",          "QKV",           "attention", "attention output",
      "attention LayerNorm", "FFN in + GELU", "FFN out",   "output LayerNorm"};
  return stage >= 0 && stage < kStageCount ? names[stage] : "?";
}

double ForwardProfile::total_seconds() const {
  double sum = 0;
  for (double s : seconds) sum += s;
  return sum;
}

double ForwardProfile::total_flops() const {
  double sum = 0;
  for (double f : flops) sum += f;
  return sum;
}

namespace {

// Times one stage into a profile; does nothing (not even read the clock) without one.
class StageTimer {
 public:
  StageTimer(ForwardProfile* profile, int layer) : profile_(profile), layer_(layer) {
    if (profile_) last_ = std::chrono::steady_clock::now();
  }
  void done(ForwardProfile::Stage stage, double flops) {
    if (!profile_) return;
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    profile_->seconds[stage] += seconds;
    profile_->flops[stage] += flops;
    if (layer_ >= 0) {
      profile_->layer_seconds[layer_] += seconds;
      profile_->layer_flops[layer_] += flops;
    }
  }

 private:
  ForwardProfile* profile_;
  int layer_;
  std::chrono::steady_clock::time_point last_;
};

// Copies the first row of each sequence: x[starts[b]] -> out[b].
void gather_first_rows(float* out, const float* x, const std::vector<std::int64_t>& starts,
                       std::int64_t H) {
  for (std::size_t b = 0; b + 1 < starts.size(); ++b) {
    std::copy_n(x + starts[b] * H, H, out + static_cast<std::int64_t>(b) * H);
  }
}

}  // namespace

void Encoder::forward(const PackedBatch& batch, std::vector<float>& hidden,
                      const Observer& observer) const {
  ForwardOptions options;
  options.observer = observer;
  forward(batch, hidden, options);
}

void Encoder::forward(const PackedBatch& batch, std::vector<float>& hidden,
                      const ForwardOptions& options) const {
  const io::ModelConfig& c = config_;
  const std::int64_t T = batch.tokens(), B = batch.sequences(), H = c.hidden, I = c.intermediate;
  const auto eps = static_cast<float>(c.layer_norm_eps);
  for (std::int64_t b = 0; b < B; ++b) {
    if (options.cls_rows_only && batch.starts[b + 1] == batch.starts[b]) {
      throw InvalidArgument("forward: sequence " + std::to_string(b) +
                            " is empty, so it has no [CLS] row");
    }
  }
  hidden.resize(static_cast<std::size_t>(T * H));
  if (T == 0) {
    hidden.clear();
    return;
  }
  ForwardProfile* profile = options.profile;
  if (profile) {
    profile->layer_seconds.resize(layers_.size());
    profile->layer_flops.resize(layers_.size());
    ++profile->calls;
    profile->tokens += T;
  }
  float* x = hidden.data();
  auto notify = [&](std::string_view name, int layer, const float* data, std::int64_t rows,
                    std::int64_t cols) {
    if (options.observer) options.observer(name, layer, data, rows, cols);
  };
  // Attention FLOPs: q k^T and p v, each 2 * L * L * H per sequence of length L (or 2 * L * H
  // for a single query row).
  double attention_flops = 0, first_row_attention_flops = 0;
  for (std::int64_t b = 0; b < B; ++b) {
    const double L = static_cast<double>(batch.starts[b + 1] - batch.starts[b]);
    attention_flops += 4.0 * L * L * static_cast<double>(H);
    first_row_attention_flops += 4.0 * L * static_cast<double>(H);
  }

  // Embeddings: word + position (+ token type), then LayerNorm.
  StageTimer embed_timer(profile, -1);
  kernels::embedding_lookup(x, weights_.word_embeddings, batch.ids.data(), T, H, c.vocab_size);
  kernels::embedding_add(x, weights_.position_embeddings, batch.positions.data(), T, H,
                         c.max_positions);
  if (weights_.token_type_embeddings) {
    kernels::embedding_add(x, weights_.token_type_embeddings, batch.type_ids.data(), T, H,
                           c.type_vocab_size);
  }
  kernels::layernorm_forward(x, nullptr, nullptr, x, nullptr, weights_.embedding_norm.gamma,
                             weights_.embedding_norm.beta, T, H, eps);
  embed_timer.done(ForwardProfile::kEmbeddings, 0);
  notify("embeddings", -1, x, T, H);

  std::vector<float> qkv(static_cast<std::size_t>(T * 3 * H));
  std::vector<float> context(static_cast<std::size_t>(T * H));
  std::vector<float> attended(static_cast<std::size_t>(T * H));
  std::vector<float> inner(static_cast<std::size_t>(T * I));
  std::vector<float> residual;  // the last layer's [CLS] inputs, with cls_rows_only
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_size()));
  const double t = static_cast<double>(T), h = static_cast<double>(H);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    const int index = static_cast<int>(l);
    const bool first_rows = options.cls_rows_only && l + 1 == layers_.size();
    // Rows that go on past attention: every token, or one per sequence.
    const std::int64_t R = first_rows ? B : T;
    const double r = static_cast<double>(R);
    StageTimer timer(profile, index);
    layer.qkv.forward(qkv.data(), x, T);
    timer.done(ForwardProfile::kQkv, 2 * t * h * 3 * h);
    notify("qkv", index, qkv.data(), T, 3 * H);
    const float* input = x;  // this layer's input rows, for the residual
    if (first_rows) {
      kernels::attention_forward_packed_first(context.data(), qkv.data(), batch.starts.data(), B,
                                              c.heads, c.head_size(), scale);
      residual.resize(static_cast<std::size_t>(B * H));
      gather_first_rows(residual.data(), x, batch.starts, H);
      input = residual.data();
    } else {
      kernels::attention_forward_packed(context.data(), qkv.data(), batch.starts.data(), B, c.heads,
                                        c.head_size(), scale);
    }
    timer.done(ForwardProfile::kAttention,
               first_rows ? first_row_attention_flops : attention_flops);
    layer.attention_output.forward(attended.data(), context.data(), R);
    timer.done(ForwardProfile::kAttentionOutput, 2 * r * h * h);
    kernels::layernorm_forward(attended.data(), nullptr, nullptr, attended.data(), input,
                               layer.attention_norm.gamma, layer.attention_norm.beta, R, H, eps);
    timer.done(ForwardProfile::kAttentionNorm, 0);
    notify("attention_output", index, attended.data(), R, H);
    layer.ffn_in.forward(inner.data(), attended.data(), R);
    timer.done(ForwardProfile::kFfnIn, 2 * r * h * static_cast<double>(I));
    notify("intermediate", index, inner.data(), R, I);
    layer.ffn_out.forward(x, inner.data(), R);
    timer.done(ForwardProfile::kFfnOut, 2 * r * h * static_cast<double>(I));
    kernels::layernorm_forward(x, nullptr, nullptr, x, attended.data(), layer.output_norm.gamma,
                               layer.output_norm.beta, R, H, eps);
    timer.done(ForwardProfile::kOutputNorm, 0);
    notify("hidden", index, x, R, H);
  }
  if (options.cls_rows_only) hidden.resize(static_cast<std::size_t>(B * H));
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
  finish_pooling(out, B, pooling, normalize);
  return out;
}

std::vector<float> Encoder::pool_cls_rows(const std::vector<float>& hidden_cls, io::Pooling pooling,
                                          bool normalize) const {
  if (pooling == io::Pooling::kMean) {
    throw InvalidArgument("pool_cls_rows: mean pooling needs every token's row");
  }
  std::vector<float> out = hidden_cls;
  finish_pooling(out, static_cast<std::int64_t>(out.size()) / config_.hidden, pooling, normalize);
  return out;
}

void Encoder::finish_pooling(std::vector<float>& rows, std::int64_t B, io::Pooling pooling,
                             bool normalize) const {
  if (pooling == io::Pooling::kPooler) {
    if (!pooler_) {
      throw InvalidArgument(config_.source +
                            ": the model has no pooler weights; use cls or mean pooling");
    }
    const std::vector<float> cls = rows;
    pooler_->forward(rows.data(), cls.data(), B);
  }
  if (normalize) kernels::l2_normalize_rows(rows.data(), rows.data(), B, config_.hidden);
}

std::vector<std::vector<float>> Encoder::attention_probabilities(
    std::span<const std::int32_t> ids, std::span<const std::int32_t> type_ids) const {
  PackedBatch batch;
  batch.add(ids, type_ids);
  const std::int64_t NH = config_.heads, HD = config_.head_size();
  const float scale = 1.0f / std::sqrt(static_cast<float>(HD));
  std::vector<std::vector<float>> out;
  // The probabilities are recomputed from each layer's Q and K rather than kept by the fast
  // kernel, which never materializes them.
  const Observer keep = [&](std::string_view name, int, const float* data, std::int64_t rows,
                            std::int64_t) {
    if (name != "qkv") return;
    std::vector<float>& p = out.emplace_back(static_cast<std::size_t>(NH * rows * rows));
    kernels::attention_probabilities(p.data(), data, rows, NH, HD, scale);
  };
  std::vector<float> hidden;
  forward(batch, hidden, keep);
  return out;
}

}  // namespace bertlite::model
