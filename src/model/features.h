// model/features.h - sentences in, one feature vector per sentence out: the walkthrough's
// "run the encoder and keep the [CLS] row", as one call.
//
//   auto extractor =
//   bertlite::model::FeatureExtractor::load(io::resolve_model("all-MiniLM-L6-v2"));
//   bertlite::model::Features f = extractor.extract(sentences, {});   // f.data is [rows, cols]
//
// Sentences are tokenized in chunks, sorted by length inside a chunk and packed into batches of
// about `batch_tokens` real tokens (no padding anywhere), then pooled and put back in input
// order. Because a sentence's output does not depend on its batch, sorting changes speed only.
//
// Inputs longer than the model's position table are truncated (and counted) unless
// `truncate` is false, which makes them an InvalidArgument naming the row.
#pragma once

#include <bertlite/tokenizer.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/model_config.h"
#include "model/encoder.h"

namespace bertlite::model {

struct FeatureOptions {
  // Unset: the model folder's default (sentence-transformers pooling config, else [CLS]).
  std::optional<io::Pooling> pooling;
  std::optional<bool> normalize;
  // Longest input in tokens, special tokens included; 0 = the model's max positions. A value
  // above the model's max positions is an InvalidArgument.
  std::size_t max_length = 0;
  // false: an input longer than max_length is an error instead of being cut.
  bool truncate = true;
  // Real tokens per forward pass: larger batches make larger GEMMs, up to a point.
  std::int64_t batch_tokens = 4096;
  // Threads for tokenizing (0 = all available). The encoder's kernels use
  // util::compute_threads(), set once by the caller with util::set_compute_threads.
  int threads = 0;
  // When every pooling needs only [CLS] rows (cls, pooler), skip the other rows' work in the
  // last layer (ForwardOptions::cls_rows_only). Off only to measure or check the saving.
  bool cls_rows_only = true;
  // Accumulates time per stage when set (`bertlite embed --profile`).
  ForwardProfile* profile = nullptr;
  // Names row i in error messages ("train.tsv:12"); default "text i+1".
  std::function<std::string(std::size_t)> row_name;
};

struct Features {
  std::vector<float> data;  // [rows, cols], row i for input i
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t tokens = 0;     // real tokens encoded, special tokens included
  std::int64_t truncated = 0;  // inputs cut to max_length
  io::Pooling pooling = io::Pooling::kCls;
  bool normalize = false;
  std::size_t max_length = 0;  // the limit that was applied
};

// Called after each batch with the number of inputs it finished.
using ProgressCallback = std::function<void(std::int64_t finished)>;

class FeatureExtractor {
 public:
  // The tokenizer and encoder of a model folder (see io::resolve_model for names).
  // `precision`: see Encoder::load (unset: the folder's, normally fp32).
  static FeatureExtractor load(const std::filesystem::path& folder,
                               std::optional<kernels::Precision> precision = std::nullopt);

  const Tokenizer& tokenizer() const { return tokenizer_; }
  const Encoder& encoder() const { return encoder_; }
  const std::filesystem::path& folder() const { return folder_; }

  // The options with the model's defaults filled in and checked (pooling available, max length
  // within the position table). Throws InvalidArgument otherwise.
  FeatureOptions resolve(const FeatureOptions& options) const;

  // Features of every text, in input order.
  Features extract(std::span<const std::string> texts, const FeatureOptions& options,
                   const ProgressCallback& progress = {}) const;
  // The same for several poolings from one encoder pass (options.pooling is ignored): result
  // k is poolings[k].
  std::vector<Features> extract(std::span<const std::string> texts,
                                std::span<const io::Pooling> poolings,
                                const FeatureOptions& options,
                                const ProgressCallback& progress = {}) const;

 private:
  FeatureExtractor(std::filesystem::path folder, Tokenizer tokenizer, Encoder encoder);

  std::filesystem::path folder_;
  Tokenizer tokenizer_;
  Encoder encoder_;
};

}  // namespace bertlite::model
