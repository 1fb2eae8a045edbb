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
// Inputs longer than max_length are truncated (and counted), an InvalidArgument naming the row,
// or read in overlapping windows whose features are pooled (FeatureOptions::long_text; see
// model/long_text.h).
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
#include "model/long_text.h"

namespace bertlite::model {

struct FeatureOptions {
  // Unset: the model folder's default (sentence-transformers pooling config, else [CLS]).
  std::optional<io::Pooling> pooling;
  std::optional<bool> normalize;
  // Longest input in tokens, special tokens included; 0 = the model's max positions. A value
  // above the model's max positions is an InvalidArgument.
  std::size_t max_length = 0;
  // An input longer than max_length: cut, an error, or windows.
  LongText long_text = LongText::kTruncate;
  // kWindow: tokens shared by consecutive windows (unset: default_stride, filled in by
  // resolve()), how the windows'
  // features combine, and whether to return every window's own features too (for predictions
  // averaged over windows).
  std::optional<std::size_t> stride;
  WindowPooling window_pooling = WindowPooling::kMean;
  bool keep_windows = false;
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
  std::int64_t windowed = 0;   // inputs read in more than one window
  io::Pooling pooling = io::Pooling::kCls;
  bool normalize = false;
  std::size_t max_length = 0;  // the limit that was applied
  LongText long_text = LongText::kTruncate;
  std::size_t stride = 0;  // kWindow: the stride applied

  // With keep_windows: row w of window_data [windows.size(), cols] is window w's own features
  // (pooled and normalized as a text of its own would be), and input i's windows are
  // [window_begin[i], window_begin[i + 1]). An input that fits is one window.
  std::vector<float> window_data;
  std::vector<Window> windows;
  std::vector<std::size_t> window_begin;
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
