// server/service.cpp - see service.h.
#include "server/service.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "io/model_path.h"
#include "learn/classifier_file.h"
#include "model/features.h"
#include "server/errors.h"
#include "train/finetune.h"
#include "train/sequence_classifier.h"
#include "util/utf8.h"

namespace bertlite::server {
namespace {

// Pooled features of an encoder: Encoder::forward and Encoder::pool, as
// FeatureExtractor::extract calls them. Unlike extract, the last layer always runs over every
// token (no ForwardOptions::cls_rows_only): its GEMMs would then have one row per sentence of
// the batch, and oneDNN's rounding for a GEMM of 1 row differs from one of 30 (measured 4e-8),
// so a sentence's [CLS] vector would depend on how many others shared its batch. Over all
// tokens, each row's result is the same whatever the batch: bit for bit where oneDNN's GEMM
// rounds a row alike at every row count (AVX-512 brgemm), within 2e-6 where it does not (the
// AVX2 sgemm blocks K by row count; docs/serve.md).
class EmbedEngine : public Engine {
 public:
  EmbedEngine(const model::Encoder& encoder, io::Pooling pooling, bool normalize)
      : encoder_(encoder), pooling_(pooling), normalize_(normalize) {}
  std::int64_t output_size() const override { return encoder_.config().hidden; }
  void run(const model::PackedBatch& batch, std::vector<float>& out) override {
    encoder_.forward(batch, hidden_, model::ForwardOptions{});
    out = encoder_.pool(batch, hidden_, pooling_, normalize_);
  }

 private:
  const model::Encoder& encoder_;
  io::Pooling pooling_;
  bool normalize_;
  std::vector<float> hidden_;  // worker-only scratch
};

// Logits of a fine-tuned sequence classifier (train::predict_logits' forward pass).
class LogitsEngine : public Engine {
 public:
  explicit LogitsEngine(train::SequenceClassifier& model) : model_(model) {}
  std::int64_t output_size() const override { return model_.num_labels(); }
  void run(const model::PackedBatch& batch, std::vector<float>& out) override {
    out = model_.forward(batch, {});
  }

 private:
  train::SequenceClassifier& model_;
};

// A folder whose config.json names a *ForSequenceClassification architecture holds a trained
// head; any other folder would get a random one, which must never be served.
bool is_sequence_classifier(const std::filesystem::path& folder) {
  std::ifstream in(folder / "config.json");
  if (!in) return false;
  const nlohmann::json config = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object() || !config.contains("architectures")) return false;
  const nlohmann::json& architectures = config["architectures"];
  if (!architectures.is_array()) return false;
  return std::any_of(architectures.begin(), architectures.end(), [](const nlohmann::json& a) {
    return a.is_string() && a.get<std::string>().ends_with("ForSequenceClassification");
  });
}

std::string input_name(std::size_t i) {
  return "inputs[" + std::to_string(i) + "]";
}

void check_text(std::string_view text, std::size_t i) {
  const std::size_t bad = util::find_invalid_utf8(text);
  if (bad != std::string_view::npos) {
    throw RequestError(ErrorKind::kTokenizer,
                       input_name(i) + ": invalid UTF-8 at byte " + std::to_string(bad));
  }
}

// The one place the input length limit is refused; `why` says how the client could get it read.
void check_length(const Encoding& e, std::size_t limit, std::size_t i, std::string_view why) {
  if (e.size() > limit) {
    throw RequestError(ErrorKind::kValidation, input_name(i) + ": " + std::to_string(e.size()) +
                                                   " tokens, more than the limit of " +
                                                   std::to_string(limit) + " (" + std::string(why) +
                                                   ")");
  }
}

// The stride windows of at most `limit` tokens use: checked here, at start-up, rather than by
// plan_windows on the first long request.
std::size_t window_stride(const ServiceOptions& options, std::size_t limit,
                          std::size_t special_tokens) {
  const std::size_t stride = options.stride.value_or(model::default_stride(limit, special_tokens));
  if (options.long_text == model::LongText::kWindow && limit > special_tokens &&
      stride >= limit - special_tokens) {
    throw InvalidArgument("stride " + std::to_string(stride) + " must be less than a window's " +
                          std::to_string(limit - special_tokens) + " text tokens");
  }
  return stride;
}

// A request's inputs as the sequences the queue runs: one per input, or with windows on, one
// per window of an input over the limit.
struct Encoded {
  std::vector<Sequence> sequences;
  std::vector<std::size_t> first;      // input i's sequences are [first[i], first[i + 1])
  std::vector<model::Window> windows;  // per sequence, with windows on: where it reads its text
  std::int64_t tokens = 0;             // in every sequence, special tokens included

  bool windowed() const { return sequences.size() + 1 != first.size(); }
};

Sequence to_sequence(Encoding&& e) {
  return {std::move(e.ids), std::move(e.type_ids)};
}

std::vector<LabelScore> ranked(const std::vector<std::string>& labels, const double* scores,
                               std::optional<std::size_t> top_k) {
  std::vector<LabelScore> row;
  for (std::size_t c = 0; c < labels.size(); ++c) row.push_back({labels[c], scores[c]});
  // Stable: equal scores keep class order, as a stable argsort would.
  std::stable_sort(row.begin(), row.end(),
                   [](const LabelScore& a, const LabelScore& b) { return a.score > b.score; });
  if (top_k && *top_k < row.size()) row.resize(*top_k);
  return row;
}

void apply_sigmoid(std::vector<double>& scores) {
  for (double& s : scores) s = 1 / (1 + std::exp(-s));
}

}  // namespace

struct Service::State {
  ServiceOptions options;
  ModelInfo info;
  std::unique_ptr<model::FeatureExtractor> extractor;
  std::size_t max_length = 0;  // embeddings' limit
  std::size_t stride = 0;      // long_text kWindow: the stride of each limit's windows
  std::unique_ptr<EmbedEngine> embed_normalized;
  std::unique_ptr<EmbedEngine> embed_raw;
  // A `bertlite train` classifier: its features' engine and limit.
  std::optional<learn::SavedClassifier> classifier;
  std::unique_ptr<EmbedEngine> classifier_features;
  std::size_t classifier_max_length = 0;
  std::size_t classifier_stride = 0;
  // A fine-tuned folder's own head.
  std::unique_ptr<train::SequenceClassifier> sequence_classifier;
  std::unique_ptr<LogitsEngine> logits;
  std::size_t sequence_max_length = 0;
  std::size_t sequence_stride = 0;
  // Last: destroyed first, so the worker stops before the engines it runs go.
  std::unique_ptr<Batcher> batcher;

  void check_count(std::size_t n) const {
    if (n == 0) throw RequestError(ErrorKind::kEmpty, "`inputs` cannot be empty");
    if (static_cast<std::int64_t>(n) > options.max_client_batch_size) {
      throw RequestError(ErrorKind::kTooLarge, "batch size " + std::to_string(n) +
                                                   " > maximum allowed batch size " +
                                                   std::to_string(options.max_client_batch_size) +
                                                   " (--max-client-batch-size)");
    }
  }
  // Tokenizes input i (a text or a pair) with the options given.
  using Tokenize = std::function<Encoding(std::size_t i, const EncodeOptions&)>;

  // Inputs over `limit` are cut, refused or windowed (options.long_text); `pairs[i]` marks
  // input i as a text pair, never windowed (its [SEP] would land inside a window), refused when
  // long. `pairs` may be empty: no pairs.
  Encoded encode(std::size_t count, const Tokenize& tokenize, const std::vector<bool>& pairs,
                 std::size_t limit, std::size_t stride,
                 const std::optional<bool>& requested) const {
    const bool window = options.long_text == model::LongText::kWindow;
    const bool cut = options.long_text == model::LongText::kTruncate &&
                     requested.value_or(options.auto_truncate);
    const std::string_view why = window ? "a text pair is not read in windows"
                                 : options.long_text == model::LongText::kError
                                     ? "the server runs with --long-text error"
                                     : "send \"truncate\": true to cut it";
    EncodeOptions encode_options;
    encode_options.max_length = cut ? limit : 0;  // windows and errors need every token
    std::vector<Encoding> encodings;
    encodings.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      Encoding e = tokenize(i, encode_options);
      if (!window || (!pairs.empty() && pairs[i])) check_length(e, limit, i, why);
      encodings.push_back(std::move(e));
    }
    Encoded out;
    if (!window) {
      for (Encoding& e : encodings) {
        out.first.push_back(out.sequences.size());
        out.tokens += static_cast<std::int64_t>(e.size());
        out.sequences.push_back(to_sequence(std::move(e)));
      }
      out.first.push_back(out.sequences.size());
      return out;
    }
    // Exactly FeatureExtractor's windows; every input over the limit was checked above or is
    // a single text, so split_long_texts does not throw for length.
    model::Sequences split = model::split_long_texts(std::move(encodings), limit,
                                                     model::LongText::kWindow, stride, input_name);
    out.first = std::move(split.first);
    out.tokens = split.tokens;
    out.windows = std::move(split.windows);
    for (std::size_t s = 0; s < split.encodings.size(); ++s) {
      out.sequences.push_back(to_sequence(std::move(split.encodings[s])));
    }
    return out;
  }

  // Text i's tokens: the single-text tokenizer.
  Tokenize text_tokenizer(const std::vector<std::string>& texts) const {
    return [this, &texts](std::size_t i, const EncodeOptions& encode_options) {
      check_text(texts[i], i);
      return extractor->tokenizer().encode(texts[i], encode_options);
    };
  }
};

Service::Service(std::unique_ptr<State> state) : state_(std::move(state)) {}
Service::~Service() {
  stop();
}

std::unique_ptr<Service> Service::load(const ServiceOptions& options) {
  auto s = std::make_unique<State>();
  s->options = options;
  if (options.max_client_batch_size <= 0) {
    throw InvalidArgument("max client batch size must be positive");
  }
  if (options.auto_truncate && options.long_text != model::LongText::kTruncate) {
    throw InvalidArgument(
        "--auto-truncate cuts long inputs, so it needs --long-text truncate (not " +
        std::string(model::long_text_name(options.long_text)) + ")");
  }
  if (!options.classifier.empty()) s->classifier = learn::load_classifier(options.classifier);
  std::string model = options.model;
  if (model.empty()) model = s->classifier ? s->classifier->encoder.model : io::kDefaultModel;
  const std::filesystem::path folder = io::resolve_model(model);
  s->extractor = std::make_unique<model::FeatureExtractor>(
      model::FeatureExtractor::load(folder, options.precision));
  const model::FeatureExtractor& extractor = *s->extractor;
  const model::Encoder& encoder = extractor.encoder();

  model::FeatureOptions feature_options;
  feature_options.pooling = options.pooling;
  feature_options.max_length = options.max_input_length;
  const model::FeatureOptions resolved = extractor.resolve(feature_options);
  s->max_length = resolved.max_length;
  const std::size_t specials = extractor.tokenizer().num_special_tokens();
  s->stride = window_stride(options, s->max_length, specials);
  s->embed_normalized = std::make_unique<EmbedEngine>(encoder, *resolved.pooling, true);
  s->embed_raw = std::make_unique<EmbedEngine>(encoder, *resolved.pooling, false);

  ModelInfo& info = s->info;
  info.model_id = model;
  info.folder = folder.string();
  info.precision = kernels::precision_name(encoder.precision());
  info.pooling = io::pooling_name(*resolved.pooling);
  info.normalize_default = true;
  info.hidden = encoder.config().hidden;
  info.max_input_length = s->max_length;
  info.long_text = model::long_text_name(options.long_text);
  if (options.long_text == model::LongText::kWindow) {
    info.stride = s->stride;
    info.window_pooling = model::window_pooling_name(options.window_pooling);
  }

  if (s->classifier) {
    const learn::SavedClassifier& saved = *s->classifier;
    // As `bertlite predict`: the features must be the ones it was trained on.
    if (encoder.config().hidden != saved.model.n_features()) {
      throw InvalidArgument(options.classifier + ": the classifier expects " +
                            std::to_string(saved.model.n_features()) + " features, the model '" +
                            model + "' gives " + std::to_string(encoder.config().hidden));
    }
    model::FeatureOptions classifier_options;
    classifier_options.pooling = io::parse_pooling(saved.encoder.pooling);
    classifier_options.normalize = saved.encoder.normalize;
    classifier_options.max_length = static_cast<std::size_t>(saved.encoder.max_length);
    const model::FeatureOptions c = extractor.resolve(classifier_options);
    s->classifier_max_length = c.max_length;
    s->classifier_stride = window_stride(options, c.max_length, specials);
    s->classifier_features = std::make_unique<EmbedEngine>(encoder, *c.pooling, *c.normalize);
    info.classifier_kind = "classifier";
    info.labels = learn::class_names(saved);
  } else if (is_sequence_classifier(folder)) {
    s->sequence_classifier =
        std::make_unique<train::SequenceClassifier>(train::SequenceClassifier::load(folder));
    // As `bertlite predict --model DIR`.
    s->sequence_max_length = std::min<std::size_t>(
        extractor.tokenizer().info().model_max_length,
        static_cast<std::size_t>(s->sequence_classifier->config().max_positions));
    if (options.max_input_length > 0) {
      s->sequence_max_length = std::min(s->sequence_max_length, options.max_input_length);
    }
    s->sequence_stride = window_stride(options, s->sequence_max_length, specials);
    s->logits = std::make_unique<LogitsEngine>(*s->sequence_classifier);
    info.classifier_kind = "sequence-classification";
    info.labels = s->sequence_classifier->labels();
  }

  BatcherOptions batcher_options;
  batcher_options.max_batch_tokens = options.max_batch_tokens;
  batcher_options.max_batch_sequences = options.max_batch_requests;
  batcher_options.max_queued_requests = options.max_concurrent_requests;
  s->batcher = std::make_unique<Batcher>(batcher_options, options.on_batch);
  return std::unique_ptr<Service>(new Service(std::move(s)));
}

EmbedResult Service::embed(const std::vector<std::string>& inputs, const EmbedRequest& request) {
  State& s = *state_;
  s.check_count(inputs.size());
  EmbedResult result;
  Encoded encoded = s.encode(inputs.size(), s.text_tokenizer(inputs), {}, s.max_length, s.stride,
                             request.truncate);
  result.tokens = encoded.tokens;
  Engine& engine = request.normalize ? *s.embed_normalized : *s.embed_raw;
  result.cols = engine.output_size();
  result.rows = static_cast<std::int64_t>(inputs.size());
  const bool windowed = encoded.windowed();
  std::vector<float> rows = s.batcher->submit(engine, std::move(encoded.sequences)).get();
  if (!windowed) {
    result.data = std::move(rows);
    return result;
  }
  // As FeatureExtractor::extract: each window pooled (and normalized) as a text of its own,
  // the windows pooled, the result normalized again; a text in one window is its row as is.
  result.data.resize(inputs.size() * static_cast<std::size_t>(result.cols));
  model::pool_texts(rows, static_cast<std::size_t>(result.cols), encoded.first, encoded.windows,
                    s.options.window_pooling, request.normalize, result.data);
  return result;
}

PredictResult Service::predict(const std::vector<PredictInput>& inputs,
                               const PredictRequest& request) {
  State& s = *state_;
  if (!s.classifier && !s.sequence_classifier) {
    throw RequestError(ErrorKind::kNotFound,
                       "no classifier is loaded: start the server with --classifier FILE (from "
                       "bertlite train) or --model DIR of a fine-tuned classifier");
  }
  s.check_count(inputs.size());
  PredictResult result;
  std::vector<double> scores;      // [sequences, labels]: per window when windows are on
  std::vector<std::size_t> first;  // input i's rows of `scores` are [first[i], first[i + 1])
  bool windowed = false;
  if (s.classifier) {
    std::vector<std::string> texts;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].second) {
        throw RequestError(
            ErrorKind::kValidation,
            input_name(i) + ": a `bertlite train` classifier labels single texts, not pairs");
      }
      texts.push_back(inputs[i].text);
    }
    Encoded encoded = s.encode(texts.size(), s.text_tokenizer(texts), {}, s.classifier_max_length,
                               s.classifier_stride, request.truncate);
    result.tokens = encoded.tokens;
    windowed = encoded.windowed();
    first = std::move(encoded.first);
    const std::int64_t H = s.classifier_features->output_size();
    const auto rows = static_cast<std::int64_t>(encoded.sequences.size());
    const std::vector<float> features =
        s.batcher->submit(*s.classifier_features, std::move(encoded.sequences)).get();
    const learn::MatrixView x{features, rows, H};
    const learn::LogisticRegression& lr = s.classifier->model;
    if (request.function == ScoreFunction::kSoftmax) {
      scores = lr.predict_proba(x);  // exactly `bertlite predict`'s probabilities
    } else {
      scores = lr.decision_function(x);
      if (lr.coef_rows() == 1) {
        // Binary: one score z for the second class; [0, z] are logits whose softmax is
        // predict_proba's [1 - sigmoid(z), sigmoid(z)].
        std::vector<double> two(2 * scores.size());
        for (std::size_t i = 0; i < scores.size(); ++i) two[2 * i + 1] = scores[i];
        scores = std::move(two);
      }
      if (request.function == ScoreFunction::kSigmoid) apply_sigmoid(scores);
    }
  } else {
    const Tokenizer& tokenizer = s.extractor->tokenizer();
    std::vector<bool> pairs;
    for (const PredictInput& input : inputs) pairs.push_back(input.second.has_value());
    const State::Tokenize tokenize = [&](std::size_t i, const EncodeOptions& encode_options) {
      check_text(inputs[i].text, i);
      if (inputs[i].second) check_text(*inputs[i].second, i);
      return inputs[i].second ? tokenizer.encode(inputs[i].text, *inputs[i].second, encode_options)
                              : tokenizer.encode(inputs[i].text, encode_options);
    };
    Encoded encoded = s.encode(inputs.size(), tokenize, pairs, s.sequence_max_length,
                               s.sequence_stride, request.truncate);
    result.tokens = encoded.tokens;
    windowed = encoded.windowed();
    first = std::move(encoded.first);
    const std::vector<float> logits =
        s.batcher->submit(*s.logits, std::move(encoded.sequences)).get();
    if (request.function == ScoreFunction::kSoftmax) {
      scores = train::softmax_rows(logits, s.sequence_classifier->num_labels());
    } else {
      scores.assign(logits.begin(), logits.end());
      if (request.function == ScoreFunction::kSigmoid) apply_sigmoid(scores);
    }
  }
  // As `bertlite predict --long-text window`: a text's scores are the mean of its windows'
  // (probabilities, or raw scores when asked for those); a text in one window keeps its own.
  if (windowed) {
    scores = model::average_windows(scores, s.info.labels.size(), first);
  }
  const std::size_t k = s.info.labels.size();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    result.rows.push_back(ranked(s.info.labels, scores.data() + i * k, request.top_k));
  }
  return result;
}

std::vector<Encoding> Service::tokenize(const std::vector<std::string>& inputs,
                                        bool add_special_tokens) const {
  const State& s = *state_;
  s.check_count(inputs.size());
  EncodeOptions encode_options;
  encode_options.add_special_tokens = add_special_tokens;
  std::vector<Encoding> out;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    check_text(inputs[i], i);
    out.push_back(s.extractor->tokenizer().encode(inputs[i], encode_options));
  }
  return out;
}

std::string_view Service::token(std::int32_t id) const {
  return state_->extractor->tokenizer().token(id);
}

const ModelInfo& Service::info() const {
  return state_->info;
}
const ServiceOptions& Service::options() const {
  return state_->options;
}
BatcherStats Service::queue_stats() const {
  return state_->batcher->stats();
}
void Service::stop() {
  if (state_ && state_->batcher) state_->batcher->stop();
}

}  // namespace bertlite::server
