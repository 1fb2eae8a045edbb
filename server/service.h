// server/service.h - what `bertlite serve` serves, without HTTP: a model's embeddings,
// tokenization and (optionally) a classifier, behind the request queue.
//
//   auto service = server::Service::load({.model = "all-MiniLM-L6-v2"});
//   server::EmbedResult r = service->embed({"a sentence", "another"}, {.normalize = true});
//   // r.data is [2, 384]
//
// Every call checks its inputs against the limits (ServiceOptions) before anything is queued,
// and throws RequestError naming the input and the limit; the HTTP front (http_server.h) only
// translates JSON and errors. Results equal `bertlite embed` / `bertlite predict` on the same
// sentences: the same tokenizer, encoder and pooling calls, and a sentence's result does not
// depend on what it was batched with. With ServiceOptions::long_text kWindow, a long input's
// windows go through the queue as sequences of their own and are combined as
// `bertlite embed/predict --long-text window` combine them: embeddings pooled over windows
// (then normalized), a classifier's scores averaged over windows.
//
// Classification (/predict) is one of: a classifier file from `bertlite train` (features from
// the encoder setting it was trained with, then its logistic regression), or a fine-tuned
// sequence-classification folder as --model (`bertlite finetune`, or transformers'
// *ForSequenceClassification; its own head). Without either, predict() throws kNotFound.
//
// Thread safety: every method may be called from many threads at once.
#pragma once

#include <bertlite/tokenizer.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/model_config.h"
#include "kernels/linear.h"
#include "model/long_text.h"
#include "server/batcher.h"

namespace bertlite::server {

struct ServiceOptions {
  // Model name or folder (io::resolve_model). Empty: the classifier's model, else the default.
  std::string model;
  // A classifier file from `bertlite train` for predict(); empty: none (or the fine-tuned head).
  std::string classifier;
  std::optional<io::Pooling> pooling;  // embeddings' pooling; unset: the model's
  std::optional<kernels::Precision> precision;
  // Longest input in tokens, special tokens included; 0: the model's position table.
  std::size_t max_input_length = 0;
  std::int64_t max_batch_tokens = 16384;
  std::int64_t max_batch_requests = 0;  // sequences per forward pass; 0: tokens decide
  std::int64_t max_concurrent_requests = 512;
  std::int64_t max_client_batch_size = 32;
  // What `truncate` means when a request does not say: TEI's --auto-truncate.
  bool auto_truncate = false;
  // Inputs over the limit: kTruncate is TEI's rule (the request's `truncate`, else
  // auto_truncate, decides between cutting and a 422); kError always refuses them; kWindow reads
  // them in overlapping windows (model/long_text.h) and ignores `truncate`, so that a client
  // cannot ask for less than the whole text. auto_truncate is only valid with kTruncate.
  model::LongText long_text = model::LongText::kTruncate;
  std::optional<std::size_t> stride;  // kWindow; unset: model::default_stride of each limit
  model::WindowPooling window_pooling = model::WindowPooling::kMean;  // kWindow embeddings
  // Called after each forward pass (metrics).
  std::function<void(const BatchRecord&)> on_batch;
};

struct EmbedRequest {
  bool normalize = true;
  std::optional<bool> truncate;  // unset: ServiceOptions::auto_truncate; see long_text
};

struct EmbedResult {
  std::vector<float> data;  // [rows, cols]
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t tokens = 0;  // special tokens included, after truncation, in every window
};

// One text, or a pair (text, second) for a sequence-classification model.
struct PredictInput {
  std::string text;
  std::optional<std::string> second;
};

enum class ScoreFunction { kSoftmax, kSigmoid, kNone };

struct PredictRequest {
  ScoreFunction function = ScoreFunction::kSoftmax;  // kNone: raw scores (logits)
  std::optional<bool> truncate;
  std::optional<std::size_t> top_k;  // unset: every label
};

struct LabelScore {
  std::string label;
  double score = 0;
};

struct PredictResult {
  std::vector<std::vector<LabelScore>> rows;  // per input, best first
  std::int64_t tokens = 0;
};

struct ModelInfo {
  std::string model_id;
  std::string folder;
  std::string precision;
  std::string pooling;
  bool normalize_default = true;
  std::int64_t hidden = 0;
  std::size_t max_input_length = 0;
  std::string long_text;       // truncate, window or error
  std::size_t stride = 0;      // window: the embeddings' stride
  std::string window_pooling;  // window: how the embeddings' windows combine
  // Non-empty when predict() is served; "classifier" (a `bertlite train` file) or
  // "sequence-classification" (a fine-tuned folder).
  std::string classifier_kind;
  std::vector<std::string> labels;
};

class Service {
 public:
  // Loads the model (and classifier) and starts the queue's worker. Throws bertlite::Error.
  static std::unique_ptr<Service> load(const ServiceOptions& options);
  ~Service();

  EmbedResult embed(const std::vector<std::string>& inputs, const EmbedRequest& request);
  PredictResult predict(const std::vector<PredictInput>& inputs, const PredictRequest& request);
  // Tokens with byte offsets into each input; no queue (tokenizing does not touch the encoder).
  std::vector<Encoding> tokenize(const std::vector<std::string>& inputs,
                                 bool add_special_tokens) const;
  // The token string of an id (for /tokenize's special tokens).
  std::string_view token(std::int32_t id) const;

  const ModelInfo& info() const;
  const ServiceOptions& options() const;
  BatcherStats queue_stats() const;
  // Finishes queued work and refuses more (kUnhealthy). Called by the destructor too.
  void stop();

  struct State;

 private:
  explicit Service(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace bertlite::server
