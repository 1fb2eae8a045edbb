#include "train/sequence_classifier.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numbers>
#include <sstream>

#include "bertlite/error.h"
#include "io/convert.h"
#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "kernels/activations.h"
#include "kernels/gemm.h"
#include "kernels/parallel.h"
#include "kernels/rows.h"
#include "model/weights.h"
#include "train/grad_kernels.h"
#include "util/file.h"
#include "util/random.h"

namespace bertlite::train {

const char* head_kind_name(HeadKind kind) {
  switch (kind) {
    case HeadKind::kBertPooler:
      return "pooler";
    case HeadKind::kDistilBert:
      return "distilbert";
    case HeadKind::kMeanLinear:
      return "mean";
  }
  return "?";
}

HeadKind parse_head_kind(const std::string& name) {
  for (HeadKind kind : {HeadKind::kBertPooler, HeadKind::kDistilBert, HeadKind::kMeanLinear}) {
    if (name == head_kind_name(kind)) return kind;
  }
  throw InvalidArgument("unknown head '" + name + "' (choose pooler, distilbert or mean)");
}

namespace {

using json = nlohmann::json;
using Shape = std::vector<std::int64_t>;

// The bertlite-only key config.json carries for the mean head, which transformers has no name
// for.
constexpr const char* kHeadKey = "bertlite_head";

std::int64_t element_count(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

// The indices of one layer's parameters in State::params.
struct LayerParams {
  std::size_t qkv_w, qkv_b, out_w, out_b, norm1_w, norm1_b, ffn_in_w, ffn_in_b, ffn_out_w,
      ffn_out_b, norm2_w, norm2_b;
};

// What one layer's forward keeps for its backward. The GELU output is not kept: the backward
// recomputes it from the pre-activation (cheap, and it saves I floats per token).
struct LayerActivations {
  std::vector<float> input;  // [T, H] the layer's input x
  std::vector<float> qkv;    // [T, 3H]
  std::vector<float> probs;  // [P]
  std::vector<uint8_t> prob_mask;
  std::vector<float> context;           // [T, H]
  std::vector<uint8_t> attention_mask;  // [T, H] dropout after the output dense (BERT)
  std::vector<float> xhat1, rstd1;      // attention LayerNorm
  std::vector<float> attended;          // [T, H] a
  std::vector<float> pre_gelu;          // [T, I]
  std::vector<uint8_t> ffn_mask;        // [T, H]
  std::vector<float> xhat2, rstd2;      // output LayerNorm
};

kernels::GeluKind gelu_kind(io::Activation a) {
  if (a == io::Activation::kGeluTanh) return kernels::GeluKind::kTanh;
  if (a == io::Activation::kGeluErf) return kernels::GeluKind::kErf;
  throw Unsupported("fine-tuning supports gelu and gelu_new activations, not relu");
}

// Box-Muller over splitmix64: the same normal numbers on every platform and standard library.
class NormalSampler {
 public:
  explicit NormalSampler(std::uint64_t seed) : bits_(seed) {}
  double next() {
    // (0, 1]: log(u1) is finite.
    const double u1 = (static_cast<double>(bits_.next() >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = bits_.uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  util::SplitMix64 bits_;
};

float json_float(const json& config, const char* key, float fallback) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return fallback;
  if (!it->is_number()) throw ParseError(std::string("config.json: ") + key + " is not a number");
  return it->get<float>();
}

// y[M, N] = x[M, K] W[N, K]^T + b.
void linear_forward(float* y, const float* x, const float* w, const float* b, std::int64_t M,
                    std::int64_t N, std::int64_t K) {
  kernels::gemm(false, true, M, N, K, 1.0f, x, K, w, K, 0.0f, y, N);
  if (b) kernels::add_bias(y, b, M, N);
}

// From dy[M, N]: dW += dy^T x, db += sum dy, and dx = dy W (beta 1: dx += dy W), dx may be null.
void linear_backward(float* dx, float dx_beta, float* dw, float* db, const float* dy,
                     const float* x, const float* w, std::int64_t M, std::int64_t N,
                     std::int64_t K) {
  kernels::gemm(true, false, N, K, M, 1.0f, dy, N, x, K, 1.0f, dw, K);
  if (db) bias_backward(db, dy, M, N);
  if (dx) kernels::gemm(false, false, M, K, N, 1.0f, dy, N, w, K, dx_beta, dx, K);
}

}  // namespace

struct SequenceClassifier::State {
  std::filesystem::path source;
  json config_json;
  io::ModelConfig config;
  HeadKind head = HeadKind::kBertPooler;
  std::vector<std::string> labels;
  float hidden_dropout = 0, attention_dropout = 0, classifier_dropout = 0;
  std::int32_t pad_token_id = 0;
  std::string prefix;  // "bert." or "distilbert."

  std::vector<Parameter> params;
  std::size_t word = 0, position = 0, token_type = 0, emb_norm_w = 0, emb_norm_b = 0;
  bool has_token_types = false;
  std::vector<LayerParams> layers;
  // Head: `dense` is BERT's pooler or DistilBERT's pre_classifier (absent for kMeanLinear).
  std::size_t dense_w = 0, dense_b = 0, classifier_w = 0, classifier_b = 0;

  // ---- The last forward. ----
  model::PackedBatch batch;
  ForwardMode mode;
  bool kept = false;  // activations kept (training forward)
  std::vector<float> embed_xhat, embed_rstd;
  std::vector<uint8_t> embed_mask;
  std::vector<LayerActivations> acts;
  std::vector<float> hidden;        // [T, H] the last layer's output
  std::vector<float> head_input;    // [B, H] the [CLS] rows or the means
  std::vector<float> head_dense;    // [B, H] the pooler / pre_classifier output (after tanh;
                                    // before ReLU for DistilBERT)
  std::vector<uint8_t> head_mask;   // [B, H]
  std::vector<float> head_dropped;  // [B, H] what the classifier reads
  std::vector<float> logits;        // [B, K]
  double flops = 0;

  std::size_t add(const std::string& name, Shape shape, bool decay) {
    Parameter p;
    p.shape = shape;
    p.value.assign(static_cast<std::size_t>(element_count(shape)), 0.0f);
    p.grad.assign(p.value.size(), 0.0f);
    p.parts.push_back({name, 0, shape});
    p.decay = decay;
    params.push_back(std::move(p));
    return params.size() - 1;
  }
  // A parameter made of three [rows, ...] parts stacked along dimension 0.
  std::size_t add_stacked(const std::vector<std::string>& names, Shape part_shape, bool decay) {
    Shape shape = part_shape;
    shape[0] *= static_cast<std::int64_t>(names.size());
    const std::size_t index = add(names[0], shape, decay);
    Parameter& p = params[index];
    p.parts.clear();
    for (std::size_t i = 0; i < names.size(); ++i) {
      p.parts.push_back(
          {names[i], static_cast<std::int64_t>(i) * element_count(part_shape), part_shape});
    }
    return index;
  }
  float* value(std::size_t i) { return params[i].value.data(); }
  float* grad(std::size_t i) { return params[i].grad.data(); }
};

SequenceClassifier::SequenceClassifier() : s_(std::make_unique<State>()) {}
SequenceClassifier::SequenceClassifier(SequenceClassifier&&) noexcept = default;
SequenceClassifier& SequenceClassifier::operator=(SequenceClassifier&&) noexcept = default;
SequenceClassifier::~SequenceClassifier() = default;

const io::ModelConfig& SequenceClassifier::config() const {
  return s_->config;
}
HeadKind SequenceClassifier::head() const {
  return s_->head;
}
const std::vector<std::string>& SequenceClassifier::labels() const {
  return s_->labels;
}
float SequenceClassifier::hidden_dropout() const {
  return s_->hidden_dropout;
}
float SequenceClassifier::attention_dropout() const {
  return s_->attention_dropout;
}
float SequenceClassifier::classifier_dropout() const {
  return s_->classifier_dropout;
}
std::vector<Parameter>& SequenceClassifier::parameters() {
  return s_->params;
}
const std::vector<Parameter>& SequenceClassifier::parameters() const {
  return s_->params;
}

std::int64_t SequenceClassifier::parameter_count() const {
  std::int64_t n = 0;
  for (const Parameter& p : s_->params) n += p.size();
  return n;
}

void SequenceClassifier::zero_grad() {
  // 90 MB for MiniLM, every step: split over the threads, as the AdamW update that reads it is.
  for (Parameter& p : s_->params) {
    float* grad = p.grad.data();
    kernels::detail::parallel_chunks(p.size(), 1 << 16, [&](std::int64_t begin, std::int64_t end) {
      std::fill(grad + begin, grad + end, 0.0f);
    });
  }
}

namespace {

// The labels a folder's config.json names (id2label), in id order; empty when it has none.
std::vector<std::string> folder_labels(const json& config) {
  std::vector<std::string> labels;
  auto it = config.find("id2label");
  if (it == config.end() || !it->is_object()) return labels;
  labels.resize(it->size());
  for (const auto& [key, value] : it->items()) {
    std::size_t id = 0;
    try {
      id = std::stoul(key);
    } catch (const std::exception&) {
      throw ParseError("config.json: id2label key '" + key + "' is not a number");
    }
    if (id >= labels.size() || !value.is_string()) {
      throw ParseError("config.json: id2label is not a list of names for ids 0.." +
                       std::to_string(labels.size() - 1));
    }
    labels[id] = value.get<std::string>();
  }
  return labels;
}

}  // namespace

SequenceClassifier SequenceClassifier::load(const std::filesystem::path& folder,
                                            const ClassifierOptions& options) {
  SequenceClassifier model;
  State& s = *model.s_;
  s.source = folder;
  s.config = io::read_model_config(folder);
  {
    const std::filesystem::path path = folder / "config.json";
    try {
      s.config_json = json::parse(util::read_file(path));
    } catch (const json::exception& e) {
      throw ParseError(path.string() + ": " + e.what());
    }
  }
  const io::ModelConfig& c = s.config;
  const json& cj = s.config_json;
  const bool bert = c.architecture == io::Architecture::kBert;
  s.prefix = bert ? "bert." : "distilbert.";
  gelu_kind(c.activation);  // rejects what the backward cannot do, before reading weights
  s.pad_token_id = static_cast<std::int32_t>(cj.value("pad_token_id", 0));

  const io::TensorFile file = io::open_checkpoint(folder);
  auto has = [&](const std::string& name) { return file.contains(name); };
  // The folder's head, if its weights hold one.
  std::optional<HeadKind> stored_head;
  if (has("classifier.weight")) {
    if (cj.value(kHeadKey, std::string()) == "mean") {
      stored_head = HeadKind::kMeanLinear;
    } else {
      stored_head = bert ? HeadKind::kBertPooler : HeadKind::kDistilBert;
    }
  }
  // A new head, by default: the mean for a sentence-transformers model trained on the mean
  // (all-MiniLM-L6-v2: 0.901 on SST-2 dev where BERT's pooler reached 0.892, same run
  // otherwise), else the architecture's own.
  const HeadKind new_head = c.pooling == io::Pooling::kMean ? HeadKind::kMeanLinear
                            : bert                          ? HeadKind::kBertPooler
                                                            : HeadKind::kDistilBert;
  s.head = options.head ? *options.head : (stored_head ? *stored_head : new_head);
  if (s.head == HeadKind::kBertPooler && !bert) {
    throw InvalidArgument(folder.string() + ": the pooler head is BERT's; DistilBERT has none");
  }
  if (s.head == HeadKind::kDistilBert && bert) {
    throw InvalidArgument(folder.string() + ": the distilbert head needs a DistilBERT model");
  }
  const bool reuse_head = stored_head && *stored_head == s.head;
  const std::vector<std::string> stored_labels = folder_labels(cj);
  if (!options.labels.empty()) {
    s.labels = options.labels;
  } else if (reuse_head && !stored_labels.empty()) {
    s.labels = stored_labels;
  } else {
    throw InvalidArgument(folder.string() +
                          ": the model has no classification head; name the labels to train one");
  }
  const auto K = static_cast<std::int64_t>(s.labels.size());
  if (K < 2) throw InvalidArgument("a classifier needs at least 2 labels");

  if (bert) {
    s.hidden_dropout = json_float(cj, "hidden_dropout_prob", 0.1f);
    s.attention_dropout = json_float(cj, "attention_probs_dropout_prob", 0.1f);
    s.classifier_dropout = json_float(cj, "classifier_dropout", s.hidden_dropout);
  } else {
    s.hidden_dropout = json_float(cj, "dropout", 0.1f);
    s.attention_dropout = json_float(cj, "attention_dropout", 0.1f);
    s.classifier_dropout = json_float(cj, "seq_classif_dropout", 0.2f);
  }
  if (options.hidden_dropout) s.hidden_dropout = *options.hidden_dropout;
  if (options.attention_dropout) s.attention_dropout = *options.attention_dropout;
  if (options.classifier_dropout) s.classifier_dropout = *options.classifier_dropout;
  for (float p : {s.hidden_dropout, s.attention_dropout, s.classifier_dropout}) {
    if (!(p >= 0 && p < 1)) throw InvalidArgument("dropout probabilities must be in [0, 1)");
  }

  // The encoder's tensors, through the same table (and name resolution) as model::Encoder.
  model::EncoderWeights bound = model::bind_weights(c, file);
  const std::int64_t H = c.hidden, I = c.intermediate;
  auto hf_name = [&](const std::string& canonical) { return s.prefix + canonical; };
  auto copy_in = [&](std::size_t index, std::int64_t offset, const float* from, std::int64_t n) {
    std::copy_n(from, n, s.params[index].value.begin() + offset);
  };
  // AdamW decays weight matrices and embeddings, not biases or LayerNorm weights.
  s.word = s.add(hf_name("embeddings.word_embeddings.weight"), {c.vocab_size, H}, true);
  copy_in(s.word, 0, bound.word_embeddings, c.vocab_size * H);
  s.position = s.add(hf_name("embeddings.position_embeddings.weight"), {c.max_positions, H}, true);
  copy_in(s.position, 0, bound.position_embeddings, c.max_positions * H);
  if (bound.token_type_embeddings) {
    s.has_token_types = true;
    s.token_type =
        s.add(hf_name("embeddings.token_type_embeddings.weight"), {c.type_vocab_size, H}, true);
    copy_in(s.token_type, 0, bound.token_type_embeddings, c.type_vocab_size * H);
  }
  // LayerNorm parameters keep the file's spelling: an old checkpoint's LayerNorm.gamma/beta
  // stay gamma/beta in named_tensors() and in saved folders, as transformers 5 itself re-saves
  // such a checkpoint (it renames them to weight/bias on load and back on save; it loads
  // either spelling). Renaming them would make a saved folder's tensors differ from its source.
  auto norm_name = [&](const std::string& canonical) {
    const std::string name = hf_name(canonical);
    const std::string stored = model::resolve_tensor_name(file, canonical);
    if (stored.ends_with(".gamma")) return name.substr(0, name.size() - 6) + "gamma";
    if (stored.ends_with(".beta")) return name.substr(0, name.size() - 4) + "beta";
    return name;
  };
  s.emb_norm_w = s.add(norm_name("embeddings.LayerNorm.weight"), {H}, false);
  copy_in(s.emb_norm_w, 0, bound.embedding_norm.gamma, H);
  s.emb_norm_b = s.add(norm_name("embeddings.LayerNorm.bias"), {H}, false);
  copy_in(s.emb_norm_b, 0, bound.embedding_norm.beta, H);

  for (std::int64_t l = 0; l < c.layers; ++l) {
    const model::LayerWeights& w = bound.layers[static_cast<std::size_t>(l)];
    const std::string p =
        (bert ? "encoder.layer." : "transformer.layer.") + std::to_string(l) + ".";
    const char* q = bert ? "attention.self.query" : "attention.q_lin";
    const char* k = bert ? "attention.self.key" : "attention.k_lin";
    const char* v = bert ? "attention.self.value" : "attention.v_lin";
    const char* o = bert ? "attention.output.dense" : "attention.out_lin";
    const char* n1 = bert ? "attention.output.LayerNorm" : "sa_layer_norm";
    const char* f1 = bert ? "intermediate.dense" : "ffn.lin1";
    const char* f2 = bert ? "output.dense" : "ffn.lin2";
    const char* n2 = bert ? "output.LayerNorm" : "output_layer_norm";
    auto with = [&](const char* base, const char* suffix) { return hf_name(p + base) + suffix; };
    LayerParams lp{};
    lp.qkv_w =
        s.add_stacked({with(q, ".weight"), with(k, ".weight"), with(v, ".weight")}, {H, H}, true);
    lp.qkv_b = s.add_stacked({with(q, ".bias"), with(k, ".bias"), with(v, ".bias")}, {H}, false);
    const model::LinearWeights* qkv[] = {&w.query, &w.key, &w.value};
    for (int i = 0; i < 3; ++i) {
      if (qkv[i]->weight == nullptr) {
        throw Unsupported(file.source() +
                          ": an int8 checkpoint cannot be fine-tuned; use the "
                          "float model it was quantized from");
      }
      copy_in(lp.qkv_w, i * H * H, qkv[i]->weight, H * H);
      copy_in(lp.qkv_b, i * H, qkv[i]->bias, H);
    }
    auto linear = [&](const char* base, const model::LinearWeights& lw, std::int64_t out,
                      std::int64_t in, std::size_t& wi, std::size_t& bi) {
      if (lw.weight == nullptr) {
        throw Unsupported(file.source() + ": an int8 checkpoint cannot be fine-tuned");
      }
      wi = s.add(with(base, ".weight"), {out, in}, true);
      copy_in(wi, 0, lw.weight, out * in);
      bi = s.add(with(base, ".bias"), {out}, false);
      copy_in(bi, 0, lw.bias, out);
    };
    auto norm = [&](const char* base, const model::LayerNormWeights& nw, std::size_t& wi,
                    std::size_t& bi) {
      wi = s.add(norm_name(p + base + ".weight"), {H}, false);
      copy_in(wi, 0, nw.gamma, H);
      bi = s.add(norm_name(p + base + ".bias"), {H}, false);
      copy_in(bi, 0, nw.beta, H);
    };
    linear(o, w.attention_output, H, H, lp.out_w, lp.out_b);
    norm(n1, w.attention_norm, lp.norm1_w, lp.norm1_b);
    linear(f1, w.ffn_in, I, H, lp.ffn_in_w, lp.ffn_in_b);
    linear(f2, w.ffn_out, H, I, lp.ffn_out_w, lp.ffn_out_b);
    norm(n2, w.output_norm, lp.norm2_w, lp.norm2_b);
    s.layers.push_back(lp);
  }

  // The head. New weights: normal(0, initializer_range), zero biases, as transformers'
  // _init_weights; an existing pooler is kept (BERT's is pre-trained).
  const float init_std = json_float(cj, "initializer_range", 0.02f);
  NormalSampler normal(options.init_seed * 0x9E3779B97F4A7C15ull + 12345);
  auto init = [&](std::size_t index) {
    for (float& x : s.params[index].value) x = static_cast<float>(normal.next() * init_std);
  };
  auto read_or_init = [&](std::size_t index, const std::string& name, bool reuse) {
    const Parameter& p = s.params[index];
    const io::TensorInfo* info = reuse ? file.find(name) : nullptr;
    if (info == nullptr) {
      if (p.shape.size() == 2) init(index);
      return;
    }
    if (info->shape != p.shape) {
      throw ParseError(file.source() + ": " + name + ": expected " + io::format_shape(p.shape) +
                       ", found " + io::format_shape(info->shape));
    }
    copy_in(index, 0, file.floats(name).data.data(), p.size());
  };
  if (s.head != HeadKind::kMeanLinear) {
    const std::string dense =
        s.head == HeadKind::kBertPooler ? "bert.pooler.dense" : "pre_classifier";
    s.dense_w = s.add(dense + ".weight", {H, H}, true);
    s.dense_b = s.add(dense + ".bias", {H}, false);
    if (s.head == HeadKind::kBertPooler && bound.pooler.weight) {
      copy_in(s.dense_w, 0, bound.pooler.weight, H * H);
      copy_in(s.dense_b, 0, bound.pooler.bias, H);
    } else {
      read_or_init(s.dense_w, dense + ".weight", reuse_head);
      read_or_init(s.dense_b, dense + ".bias", reuse_head);
    }
  }
  s.classifier_w = s.add("classifier.weight", {K, H}, true);
  s.classifier_b = s.add("classifier.bias", {K}, false);
  const bool same_classes = reuse_head && file.find("classifier.weight") &&
                            file.find("classifier.weight")->shape == Shape{K, H};
  if (reuse_head && !same_classes) {
    throw InvalidArgument(folder.string() + ": its classifier has " +
                          io::format_shape(file.find("classifier.weight")->shape) +
                          " weights, but " + std::to_string(K) + " labels were given");
  }
  read_or_init(s.classifier_w, "classifier.weight", reuse_head);
  read_or_init(s.classifier_b, "classifier.bias", reuse_head);
  return model;
}

const std::vector<float>& SequenceClassifier::forward(const model::PackedBatch& batch,
                                                      const ForwardMode& mode) {
  State& s = *s_;
  const io::ModelConfig& c = s.config;
  const std::int64_t T = batch.tokens(), B = batch.sequences(), H = c.hidden, I = c.intermediate,
                     NH = c.heads, HD = c.head_size(), K = num_labels();
  const auto eps = static_cast<float>(c.layer_norm_eps);
  const bool bert = c.architecture == io::Architecture::kBert;
  for (std::int64_t b = 0; b < B; ++b) {
    if (batch.starts[b + 1] == batch.starts[b]) {
      throw InvalidArgument("forward: sequence " + std::to_string(b) + " is empty");
    }
  }
  s.batch = batch;
  s.mode = mode;
  s.kept = mode.training;
  // Dropout masks: one seed per (step, site), so a step's masks can be replayed exactly.
  std::uint64_t site = 0;
  auto make_mask = [&](std::vector<uint8_t>& mask, std::int64_t n, float p) -> const uint8_t* {
    ++site;
    if (!mode.training || p == 0) {
      mask.clear();
      return nullptr;
    }
    mask.resize(static_cast<std::size_t>(n));
    dropout_mask(mask.data(), n, p, mode.dropout_seed * 0x100000001B3ull + site);
    return mask.data();
  };
  const float hp = s.hidden_dropout;

  // Embeddings.
  s.acts.resize(static_cast<std::size_t>(c.layers));
  std::vector<float> x(static_cast<std::size_t>(T * H));
  kernels::embedding_lookup(x.data(), s.value(s.word), batch.ids.data(), T, H, c.vocab_size);
  kernels::embedding_add(x.data(), s.value(s.position), batch.positions.data(), T, H,
                         c.max_positions);
  if (s.has_token_types) {
    kernels::embedding_add(x.data(), s.value(s.token_type), batch.type_ids.data(), T, H,
                           c.type_vocab_size);
  }
  s.embed_xhat.resize(static_cast<std::size_t>(T * H));
  s.embed_rstd.resize(static_cast<std::size_t>(T));
  layernorm_forward_train(x.data(), s.embed_xhat.data(), s.embed_rstd.data(), x.data(), nullptr,
                          s.value(s.emb_norm_w), s.value(s.emb_norm_b), T, H, eps);
  if (const uint8_t* m = make_mask(s.embed_mask, T * H, hp)) dropout_apply(x.data(), m, T * H, hp);

  const float scale = 1.0f / std::sqrt(static_cast<float>(HD));
  double flops = 0;
  for (std::size_t l = 0; l < s.layers.size(); ++l) {
    const LayerParams& lp = s.layers[l];
    LayerActivations& a = s.acts[l];
    a.input = std::move(x);
    a.qkv.resize(static_cast<std::size_t>(T * 3 * H));
    linear_forward(a.qkv.data(), a.input.data(), s.value(lp.qkv_w), s.value(lp.qkv_b), T, 3 * H, H);
    a.probs.resize(static_cast<std::size_t>(attention_probs_size(batch.starts.data(), B, NH)));
    const uint8_t* pm =
        make_mask(a.prob_mask, static_cast<std::int64_t>(a.probs.size()), s.attention_dropout);
    a.context.resize(static_cast<std::size_t>(T * H));
    attention_forward_train(a.context.data(), a.probs.data(), a.qkv.data(), batch.starts.data(), B,
                            NH, HD, scale, pm, s.attention_dropout);
    a.attended.resize(static_cast<std::size_t>(T * H));
    linear_forward(a.attended.data(), a.context.data(), s.value(lp.out_w), s.value(lp.out_b), T, H,
                   H);
    // BERT drops the attention output before its residual; DistilBERT does not.
    if (const uint8_t* m = bert ? make_mask(a.attention_mask, T * H, hp) : nullptr) {
      dropout_apply(a.attended.data(), m, T * H, hp);
    } else if (!bert) {
      a.attention_mask.clear();
    }
    a.xhat1.resize(static_cast<std::size_t>(T * H));
    a.rstd1.resize(static_cast<std::size_t>(T));
    layernorm_forward_train(a.attended.data(), a.xhat1.data(), a.rstd1.data(), a.attended.data(),
                            a.input.data(), s.value(lp.norm1_w), s.value(lp.norm1_b), T, H, eps);
    a.pre_gelu.resize(static_cast<std::size_t>(T * I));
    linear_forward(a.pre_gelu.data(), a.attended.data(), s.value(lp.ffn_in_w), s.value(lp.ffn_in_b),
                   T, I, H);
    std::vector<float> activated = a.pre_gelu;
    kernels::gelu_forward(activated.data(), T * I, gelu_kind(c.activation));
    x.resize(static_cast<std::size_t>(T * H));
    linear_forward(x.data(), activated.data(), s.value(lp.ffn_out_w), s.value(lp.ffn_out_b), T, H,
                   I);
    if (const uint8_t* m = make_mask(a.ffn_mask, T * H, hp)) dropout_apply(x.data(), m, T * H, hp);
    a.xhat2.resize(static_cast<std::size_t>(T * H));
    a.rstd2.resize(static_cast<std::size_t>(T));
    layernorm_forward_train(x.data(), a.xhat2.data(), a.rstd2.data(), x.data(), a.attended.data(),
                            s.value(lp.norm2_w), s.value(lp.norm2_b), T, H, eps);
    const double t = static_cast<double>(T), h = static_cast<double>(H);
    flops += 2 * t * h * (4 * h + 2 * static_cast<double>(I));
    for (std::int64_t b = 0; b < B; ++b) {
      const double L = static_cast<double>(batch.starts[b + 1] - batch.starts[b]);
      flops += 4.0 * L * L * h;
    }
  }
  s.hidden = std::move(x);

  // Head.
  s.head_input.assign(static_cast<std::size_t>(B * H), 0.0f);
  if (s.head == HeadKind::kMeanLinear) {
    mean_pool_forward(s.head_input.data(), s.hidden.data(), batch.starts.data(), B, H);
  } else {
    for (std::int64_t b = 0; b < B; ++b) {
      std::copy_n(s.hidden.data() + batch.starts[b] * H, H, s.head_input.data() + b * H);
    }
  }
  if (s.head != HeadKind::kMeanLinear) {
    s.head_dense.resize(static_cast<std::size_t>(B * H));
    linear_forward(s.head_dense.data(), s.head_input.data(), s.value(s.dense_w), s.value(s.dense_b),
                   B, H, H);
    // BERT's pooler keeps tanh's output (its backward reads it); DistilBERT's pre_classifier
    // keeps the pre-activation (ReLU's backward reads that).
    if (s.head == HeadKind::kBertPooler) kernels::tanh_forward(s.head_dense.data(), B * H);
    s.head_dropped = s.head_dense;
    if (s.head == HeadKind::kDistilBert) {
      for (float& v : s.head_dropped) v = std::max(v, 0.0f);
    }
    flops += 2.0 * static_cast<double>(B * H * H);
  } else {
    s.head_dropped = s.head_input;
  }
  if (const uint8_t* m = make_mask(s.head_mask, B * H, s.classifier_dropout)) {
    dropout_apply(s.head_dropped.data(), m, B * H, s.classifier_dropout);
  }
  s.logits.resize(static_cast<std::size_t>(B * K));
  linear_forward(s.logits.data(), s.head_dropped.data(), s.value(s.classifier_w),
                 s.value(s.classifier_b), B, K, H);
  s.flops = flops + 2.0 * static_cast<double>(B * H * K);
  if (!mode.training) s.acts.clear();
  return s.logits;
}

double SequenceClassifier::loss_and_backward(const std::vector<std::int32_t>& labels,
                                             const LossOptions& options) {
  const State& s = *s_;
  const std::int64_t B = s.batch.sequences(), K = num_labels();
  if (static_cast<std::int64_t>(labels.size()) != B) {
    throw InvalidArgument("loss_and_backward: " + std::to_string(labels.size()) +
                          " labels for a batch of " + std::to_string(B));
  }
  if (!options.class_weights.empty() &&
      static_cast<std::int64_t>(options.class_weights.size()) != K) {
    throw InvalidArgument("class weights: " + std::to_string(options.class_weights.size()) +
                          " given for " + std::to_string(K) + " classes");
  }
  std::vector<float> dlogits(static_cast<std::size_t>(B * K));
  const double loss =
      cross_entropy(dlogits.data(), s.logits.data(), labels.data(), B, K,
                    options.class_weights.empty() ? nullptr : options.class_weights.data(),
                    options.label_smoothing);
  if (options.scale != 1) {
    for (float& g : dlogits) g *= options.scale;
  }
  backward(dlogits);
  return loss;
}

void SequenceClassifier::backward(const std::vector<float>& dlogits_in) {
  State& s = *s_;
  if (!s.kept) throw InvalidArgument("backward: the last forward was not a training forward");
  const io::ModelConfig& c = s.config;
  const model::PackedBatch& batch = s.batch;
  const std::int64_t T = batch.tokens(), B = batch.sequences(), H = c.hidden, I = c.intermediate,
                     NH = c.heads, HD = c.head_size(), K = num_labels();
  if (static_cast<std::int64_t>(dlogits_in.size()) != B * K) {
    throw InvalidArgument("backward: dlogits do not match the last batch");
  }
  const float hp = s.hidden_dropout;
  const bool bert = c.architecture == io::Architecture::kBert;

  // Head.
  std::vector<float> dfeatures(static_cast<std::size_t>(B * H));
  linear_backward(dfeatures.data(), 0.0f, s.grad(s.classifier_w), s.grad(s.classifier_b),
                  dlogits_in.data(), s.head_dropped.data(), s.value(s.classifier_w), B, K, H);
  if (!s.head_mask.empty()) {
    dropout_apply(dfeatures.data(), s.head_mask.data(), B * H, s.classifier_dropout);
  }
  std::vector<float> dy(static_cast<std::size_t>(T * H), 0.0f);
  if (s.head == HeadKind::kMeanLinear) {
    mean_pool_backward(dy.data(), dfeatures.data(), batch.starts.data(), B, H);
  } else {
    if (s.head == HeadKind::kBertPooler) {
      tanh_backward(dfeatures.data(), dfeatures.data(), s.head_dense.data(), B * H);
    } else {
      relu_backward(dfeatures.data(), dfeatures.data(), s.head_dense.data(), B * H);
    }
    std::vector<float> dcls(static_cast<std::size_t>(B * H));
    linear_backward(dcls.data(), 0.0f, s.grad(s.dense_w), s.grad(s.dense_b), dfeatures.data(),
                    s.head_input.data(), s.value(s.dense_w), B, H, H);
    first_row_backward(dy.data(), dcls.data(), batch.starts.data(), B, H);
  }

  // Layers, last to first. dy is the gradient of the layer's output; it becomes the input's.
  const float scale = 1.0f / std::sqrt(static_cast<float>(HD));
  std::vector<float> dz(static_cast<std::size_t>(T * H)), dinner(static_cast<std::size_t>(T * I)),
      activated(static_cast<std::size_t>(T * I)), dqkv(static_cast<std::size_t>(T * 3 * H)),
      dctx(static_cast<std::size_t>(T * H));
  const kernels::GeluKind gelu = gelu_kind(c.activation);
  for (std::size_t li = s.layers.size(); li-- > 0;) {
    const LayerParams& lp = s.layers[li];
    const LayerActivations& a = s.acts[li];
    // x = LN2(dropout(ffn) + a): dz reaches both the FFN branch and the residual a.
    layernorm_backward(dz.data(), s.grad(lp.norm2_w), s.grad(lp.norm2_b), dy.data(), a.xhat2.data(),
                       a.rstd2.data(), s.value(lp.norm2_w), T, H);
    std::vector<float>& da = dy;  // reuse: the residual's gradient starts as dz
    std::copy(dz.begin(), dz.end(), da.begin());
    if (!a.ffn_mask.empty()) dropout_apply(dz.data(), a.ffn_mask.data(), T * H, hp);
    std::copy(a.pre_gelu.begin(), a.pre_gelu.end(), activated.begin());
    kernels::gelu_forward(activated.data(), T * I, gelu);
    linear_backward(dinner.data(), 0.0f, s.grad(lp.ffn_out_w), s.grad(lp.ffn_out_b), dz.data(),
                    activated.data(), s.value(lp.ffn_out_w), T, H, I);
    gelu_backward(dinner.data(), dinner.data(), a.pre_gelu.data(), T * I, gelu);
    linear_backward(da.data(), 1.0f, s.grad(lp.ffn_in_w), s.grad(lp.ffn_in_b), dinner.data(),
                    a.attended.data(), s.value(lp.ffn_in_w), T, I, H);
    // a = LN1(dropout(attention dense) + x).
    layernorm_backward(dz.data(), s.grad(lp.norm1_w), s.grad(lp.norm1_b), da.data(), a.xhat1.data(),
                       a.rstd1.data(), s.value(lp.norm1_w), T, H);
    std::vector<float>& dx = dy;
    std::copy(dz.begin(), dz.end(), dx.begin());
    if (bert && !a.attention_mask.empty()) {
      dropout_apply(dz.data(), a.attention_mask.data(), T * H, hp);
    }
    linear_backward(dctx.data(), 0.0f, s.grad(lp.out_w), s.grad(lp.out_b), dz.data(),
                    a.context.data(), s.value(lp.out_w), T, H, H);
    attention_backward(dqkv.data(), dctx.data(), a.qkv.data(), a.probs.data(), batch.starts.data(),
                       B, NH, HD, scale, a.prob_mask.empty() ? nullptr : a.prob_mask.data(),
                       s.attention_dropout);
    linear_backward(dx.data(), 1.0f, s.grad(lp.qkv_w), s.grad(lp.qkv_b), dqkv.data(),
                    a.input.data(), s.value(lp.qkv_w), T, 3 * H, H);
  }

  // Embeddings: dropout, LayerNorm, then the three tables.
  if (!s.embed_mask.empty()) dropout_apply(dy.data(), s.embed_mask.data(), T * H, hp);
  layernorm_backward(dz.data(), s.grad(s.emb_norm_w), s.grad(s.emb_norm_b), dy.data(),
                     s.embed_xhat.data(), s.embed_rstd.data(), s.value(s.emb_norm_w), T, H);
  embedding_backward(s.grad(s.word), batch.ids.data(), dz.data(), T, H);
  // nn.Embedding(padding_idx=pad_token_id) never gives its padding row a gradient.
  if (s.pad_token_id >= 0 && s.pad_token_id < c.vocab_size) {
    std::fill_n(s.grad(s.word) + static_cast<std::int64_t>(s.pad_token_id) * H, H, 0.0f);
  }
  embedding_backward(s.grad(s.position), batch.positions.data(), dz.data(), T, H);
  if (s.has_token_types) {
    embedding_backward(s.grad(s.token_type), batch.type_ids.data(), dz.data(), T, H);
  }
}

std::int64_t SequenceClassifier::activation_floats() const {
  const State& s = *s_;
  std::int64_t n = static_cast<std::int64_t>(s.embed_xhat.size() + s.hidden.size());
  for (const LayerActivations& a : s.acts) {
    n += static_cast<std::int64_t>(a.input.size() + a.qkv.size() + a.probs.size() +
                                   a.context.size() + a.xhat1.size() + a.attended.size() +
                                   a.pre_gelu.size() + a.xhat2.size());
    // Masks are bytes: count them as a quarter float each.
    n += static_cast<std::int64_t>(a.prob_mask.size() + a.attention_mask.size() +
                                   a.ffn_mask.size()) /
         4;
  }
  return n;
}

double SequenceClassifier::forward_flops() const {
  return s_->flops;
}

std::vector<SequenceClassifier::NamedTensor> SequenceClassifier::named_tensors() const {
  std::vector<NamedTensor> out;
  for (const Parameter& p : s_->params) {
    for (const Parameter::Part& part : p.parts) {
      out.push_back({part.name, part.shape, p.value.data() + part.offset,
                     p.grad.data() + part.offset, element_count(part.shape)});
    }
  }
  return out;
}

namespace {

// The mean head is not one of transformers' classes, so a folder holding it carries this
// module and names it in config.json's auto_map: AutoModelForSequenceClassification then loads
// it with trust_remote_code=True (tests/python/test_finetune_cli.py checks the logits).
constexpr const char* kMeanHeadModule = "modeling_bertlite.py";
constexpr const char* kMeanHeadPython =
    R"py("""bertlite's mean-pooling sequence classifiers, for transformers.

Written by `bertlite finetune --head mean` beside the weights. Load with
    AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)
logits = classifier(dropout(mean of the last hidden states over the real tokens)).
"""
import torch
from torch import nn
from transformers import BertModel, BertPreTrainedModel, DistilBertModel, DistilBertPreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


def _mean_over_tokens(hidden, attention_mask):
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def _classify(model, hidden, attention_mask, labels):
    logits = model.classifier(model.dropout(_mean_over_tokens(hidden, attention_mask)))
    loss = None
    if labels is not None:
        loss = nn.functional.cross_entropy(logits.view(-1, model.num_labels), labels.view(-1))
    return SequenceClassifierOutput(loss=loss, logits=logits)


class BertMeanPoolingForSequenceClassification(BertPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        p = config.classifier_dropout
        self.dropout = nn.Dropout(config.hidden_dropout_prob if p is None else p)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None,
                **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).last_hidden_state
        return _classify(self, hidden, attention_mask, labels)


class DistilBertMeanPoolingForSequenceClassification(DistilBertPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.distilbert = DistilBertModel(config)
        self.dropout = nn.Dropout(config.seq_classif_dropout)
        self.classifier = nn.Linear(config.dim, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.distilbert(input_ids=input_ids,
                                 attention_mask=attention_mask).last_hidden_state
        return _classify(self, hidden, attention_mask, labels)
)py";

}  // namespace

void SequenceClassifier::save(const std::filesystem::path& out) const {
  const State& s = *s_;
  json config = s.config_json;
  const bool bert = s.config.architecture == io::Architecture::kBert;
  config["architectures"] =
      json::array({bert ? "BertForSequenceClassification" : "DistilBertForSequenceClassification"});
  json id2label = json::object(), label2id = json::object();
  for (std::size_t i = 0; i < s.labels.size(); ++i) {
    id2label[std::to_string(i)] = s.labels[i];
    label2id[s.labels[i]] = i;
  }
  config["id2label"] = id2label;
  config["label2id"] = label2id;
  config["num_labels"] = s.labels.size();
  config["problem_type"] = "single_label_classification";
  // 0.1f as 0.1, not 0.10000000149011612: the float's shortest decimal form.
  const auto decimal = [](float p) { return std::stod(std::to_string(p)); };
  if (bert) {
    config["hidden_dropout_prob"] = decimal(s.hidden_dropout);
    config["attention_probs_dropout_prob"] = decimal(s.attention_dropout);
    config["classifier_dropout"] = decimal(s.classifier_dropout);
  } else {
    config["dropout"] = decimal(s.hidden_dropout);
    config["attention_dropout"] = decimal(s.attention_dropout);
    config["seq_classif_dropout"] = decimal(s.classifier_dropout);
  }
  const bool mean_head = s.head == HeadKind::kMeanLinear;
  if (mean_head) {
    config[kHeadKey] = "mean";
    const std::string cls = bert ? "BertMeanPoolingForSequenceClassification"
                                 : "DistilBertMeanPoolingForSequenceClassification";
    config["architectures"] = json::array({cls});
    config["auto_map"] = {{"AutoModelForSequenceClassification", "modeling_bertlite." + cls}};
  } else {
    config.erase(kHeadKey);
    config.erase("auto_map");
  }
  config.erase("bertlite_precision");

  std::vector<io::TensorToWrite> tensors;
  for (const NamedTensor& t : named_tensors()) {
    tensors.push_back(io::f32_tensor(t.name, t.shape, std::span<const float>(t.value, t.size)));
  }
  io::build_folder_atomically(out, [&](const std::filesystem::path& staging) {
    // Not the sentence-transformers files: they would make sentence-transformers load the
    // classifier as a sentence encoder. Not the model card either: it describes the source.
    io::copy_model_files(s.source, staging,
                         {"config.json", "modules.json", "sentence_bert_config.json",
                          "config_sentence_transformers.json", "1_Pooling", "2_Normalize",
                          "README.md", kMeanHeadModule});
    util::write_file_atomic(staging / "config.json", config.dump(2) + "\n");
    if (mean_head) util::write_file_atomic(staging / kMeanHeadModule, kMeanHeadPython);
    io::write_safetensors(staging / "model.safetensors", tensors, {{"format", "pt"}});
  });
}

}  // namespace bertlite::train
