// model/features.cpp - see features.h.
#include "model/features.h"

#include <algorithm>
#include <numeric>

#include "bertlite/error.h"

namespace bertlite::model {
namespace {

// Tokenizing everything first would hold every encoding in memory; a chunk bounds that while
// still giving the length sort enough sentences to form even batches.
constexpr std::size_t kChunkSize = 8192;

}  // namespace

FeatureExtractor::FeatureExtractor(std::filesystem::path folder, Tokenizer tokenizer,
                                   Encoder encoder)
    : folder_(std::move(folder)), tokenizer_(std::move(tokenizer)), encoder_(std::move(encoder)) {}

FeatureExtractor FeatureExtractor::load(const std::filesystem::path& folder) {
  Encoder encoder = Encoder::load(folder);
  Tokenizer tokenizer = Tokenizer::from_folder(folder);
  if (static_cast<std::int64_t>(tokenizer.info().vocab_size) > encoder.config().vocab_size) {
    throw InvalidArgument(folder.string() + ": the tokenizer has " +
                          std::to_string(tokenizer.info().vocab_size) +
                          " tokens but the model's embedding table only " +
                          std::to_string(encoder.config().vocab_size));
  }
  return FeatureExtractor(folder, std::move(tokenizer), std::move(encoder));
}

FeatureOptions FeatureExtractor::resolve(const FeatureOptions& options) const {
  const io::ModelConfig& config = encoder_.config();
  FeatureOptions resolved = options;
  if (!resolved.pooling) resolved.pooling = config.pooling;
  if (!resolved.normalize) resolved.normalize = config.normalize;
  if (*resolved.pooling == io::Pooling::kPooler && !encoder_.has_pooler()) {
    throw InvalidArgument(folder_.string() +
                          ": the model has no pooler weights; use cls or mean pooling");
  }
  const auto positions = static_cast<std::size_t>(config.max_positions);
  if (resolved.max_length == 0) resolved.max_length = positions;
  if (resolved.max_length > positions) {
    throw InvalidArgument("max length " + std::to_string(resolved.max_length) +
                          " is more than the model's " + std::to_string(positions) + " positions");
  }
  if (resolved.max_length < tokenizer_.num_special_tokens()) {
    throw InvalidArgument("max length " + std::to_string(resolved.max_length) +
                          " leaves no room for the special tokens");
  }
  if (resolved.batch_tokens <= 0) throw InvalidArgument("batch tokens must be positive");
  if (!resolved.row_name) {
    resolved.row_name = [](std::size_t i) { return "text " + std::to_string(i + 1); };
  }
  return resolved;
}

Features FeatureExtractor::extract(std::span<const std::string> texts,
                                   const FeatureOptions& requested,
                                   const ProgressCallback& progress) const {
  const FeatureOptions options = resolve(requested);
  const std::int64_t H = encoder_.config().hidden;
  Features features;
  features.rows = static_cast<std::int64_t>(texts.size());
  features.cols = H;
  features.data.resize(static_cast<std::size_t>(features.rows * H));
  features.pooling = *options.pooling;
  features.normalize = *options.normalize;
  features.max_length = options.max_length;

  EncodeOptions encode;
  // Without truncation, encode in full and reject what does not fit, naming the row.
  encode.max_length = options.truncate ? options.max_length : 0;

  PackedBatch batch;
  std::vector<float> hidden;
  for (std::size_t chunk = 0; chunk < texts.size(); chunk += kChunkSize) {
    const std::size_t chunk_size = std::min(kChunkSize, texts.size() - chunk);
    const std::vector<Encoding> encodings =
        tokenizer_.encode_batch(texts.subspan(chunk, chunk_size), encode, options.threads);

    std::vector<std::size_t> order(chunk_size);
    std::iota(order.begin(), order.end(), std::size_t{0});
    for (std::size_t i = 0; i < chunk_size; ++i) {
      if (encodings[i].size() > options.max_length) {
        throw InvalidArgument(options.row_name(chunk + i) + ": " +
                              std::to_string(encodings[i].size()) +
                              " tokens, more than the limit of " +
                              std::to_string(options.max_length) + " (truncation is off)");
      }
      features.truncated += encodings[i].truncated > 0;
      features.tokens += static_cast<std::int64_t>(encodings[i].size());
    }
    // Longest first: similar lengths share a batch, so attention work per batch is even.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return encodings[a].size() > encodings[b].size();
    });

    std::size_t next = 0;
    while (next < chunk_size) {
      batch.clear();
      const std::size_t first = next;
      // Fill to the token budget; a single sentence longer than the budget gets its own batch.
      while (next < chunk_size &&
             (batch.sequences() == 0 ||
              batch.tokens() + static_cast<std::int64_t>(encodings[order[next]].size()) <=
                  options.batch_tokens)) {
        const Encoding& e = encodings[order[next]];
        batch.add(e.ids, e.type_ids);
        ++next;
      }
      encoder_.forward(batch, hidden);
      const std::vector<float> pooled =
          encoder_.pool(batch, hidden, *options.pooling, *options.normalize);
      for (std::size_t b = 0; b < next - first; ++b) {
        std::copy_n(pooled.data() + b * H, H,
                    features.data.data() + (chunk + order[first + b]) * H);
      }
      if (progress) progress(static_cast<std::int64_t>(next - first));
    }
  }
  return features;
}

}  // namespace bertlite::model
