// model/features.cpp - see features.h.
#include "model/features.h"

#include <algorithm>
#include <chrono>
#include <future>
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

FeatureExtractor FeatureExtractor::load(const std::filesystem::path& folder,
                                        std::optional<kernels::Precision> precision) {
  // The tokenizer (mostly parsing tokenizer.json) loads on a second thread while the encoder
  // maps and packs its weights: about a quarter off the time to the first embedding.
  std::future<Tokenizer> loading_tokenizer =
      std::async(std::launch::async, [&folder] { return Tokenizer::from_folder(folder); });
  Encoder encoder = Encoder::load(folder, precision);
  Tokenizer tokenizer = loading_tokenizer.get();
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
  if (resolved.long_text == LongText::kWindow && !resolved.stride) {
    resolved.stride = default_stride(resolved.max_length, tokenizer_.num_special_tokens());
  }
  if (!resolved.row_name) {
    resolved.row_name = [](std::size_t i) { return "text " + std::to_string(i + 1); };
  }
  return resolved;
}

Features FeatureExtractor::extract(std::span<const std::string> texts,
                                   const FeatureOptions& options,
                                   const ProgressCallback& progress) const {
  const io::Pooling pooling = resolve(options).pooling.value();
  return std::move(extract(texts, std::span(&pooling, 1), options, progress).front());
}

std::vector<Features> FeatureExtractor::extract(std::span<const std::string> texts,
                                                std::span<const io::Pooling> poolings,
                                                const FeatureOptions& requested,
                                                const ProgressCallback& progress) const {
  FeatureOptions options = requested;
  if (!poolings.empty()) options.pooling = poolings.front();  // checked by resolve()
  options = resolve(options);
  const std::int64_t H = encoder_.config().hidden;
  std::vector<Features> results(poolings.size());
  for (std::size_t k = 0; k < poolings.size(); ++k) {
    if (poolings[k] == io::Pooling::kPooler && !encoder_.has_pooler()) {
      throw InvalidArgument(folder_.string() +
                            ": the model has no pooler weights; use cls or mean pooling");
    }
    Features& f = results[k];
    f.rows = static_cast<std::int64_t>(texts.size());
    f.cols = H;
    f.data.resize(static_cast<std::size_t>(f.rows * H));
    f.pooling = poolings[k];
    f.normalize = *options.normalize;
    f.max_length = options.max_length;
  }

  const bool windows_on = options.long_text == LongText::kWindow;
  const std::size_t stride = options.stride.value_or(0);  // resolve() set it for windows
  for (Features& f : results) {
    f.long_text = options.long_text;
    f.stride = windows_on ? stride : 0;
    if (options.keep_windows) f.window_begin.assign(1, 0);
  }

  EncodeOptions encode;
  // Truncation cuts while tokenizing; errors and windows need every token.
  encode.max_length = options.long_text == LongText::kTruncate ? options.max_length : 0;

  ForwardOptions forward_options;
  forward_options.cls_rows_only =
      options.cls_rows_only && std::none_of(poolings.begin(), poolings.end(),
                                            [](io::Pooling p) { return p == io::Pooling::kMean; });
  forward_options.profile = options.profile;
  using Clock = std::chrono::steady_clock;
  const auto seconds_since = [](Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };

  std::int64_t tokens = 0, truncated = 0, windowed = 0;
  PackedBatch batch;
  std::vector<float> hidden;
  for (std::size_t chunk = 0; chunk < texts.size(); chunk += kChunkSize) {
    const std::size_t chunk_size = std::min(kChunkSize, texts.size() - chunk);
    const auto tokenize_start = Clock::now();
    std::vector<Encoding> encodings =
        tokenizer_.encode_batch(texts.subspan(chunk, chunk_size), encode, options.threads);
    if (options.profile) options.profile->tokenize_seconds += seconds_since(tokenize_start);

    // Each text that fits as itself; a longer one, with windows on, as its windows.
    Sequences split =
        split_long_texts(std::move(encodings), options.max_length, options.long_text, stride,
                         [&](std::size_t i) { return options.row_name(chunk + i); });
    const std::vector<Encoding>& sequences = split.encodings;
    const std::vector<Window>& sequence_windows = split.windows;
    const std::vector<std::size_t>& first_sequence = split.first;
    const std::size_t count = sequences.size();
    tokens += split.tokens;
    truncated += split.truncated;
    windowed += split.windowed;

    std::vector<std::size_t> order(count);
    std::iota(order.begin(), order.end(), std::size_t{0});
    // Longest first: similar lengths share a batch, so attention work per batch is even.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return sequences[a].size() > sequences[b].size();
    });

    // Every sequence's pooled vector, per pooling: [count, H].
    std::vector<std::vector<float>> pooled_rows(results.size(), std::vector<float>(count * H));
    std::size_t next = 0, reported = 0;
    while (next < count) {
      batch.clear();
      const std::size_t first = next;
      // Fill to the token budget; a single sentence longer than the budget gets its own batch.
      while (next < count &&
             (batch.sequences() == 0 ||
              batch.tokens() + static_cast<std::int64_t>(sequences[order[next]].size()) <=
                  options.batch_tokens)) {
        const Encoding& e = sequences[order[next]];
        batch.add(e.ids, e.type_ids);
        ++next;
      }
      encoder_.forward(batch, hidden, forward_options);
      const auto pool_start = Clock::now();
      for (std::size_t k = 0; k < results.size(); ++k) {
        const Features& f = results[k];
        const std::vector<float> pooled =
            forward_options.cls_rows_only ? encoder_.pool_cls_rows(hidden, f.pooling, f.normalize)
                                          : encoder_.pool(batch, hidden, f.pooling, f.normalize);
        for (std::size_t b = 0; b < next - first; ++b) {
          std::copy_n(pooled.data() + b * H, H, pooled_rows[k].data() + order[first + b] * H);
        }
      }
      if (options.profile) options.profile->pooling_seconds += seconds_since(pool_start);
      // Progress counts texts; with windows, in proportion to the sequences done.
      if (progress) {
        const std::size_t done = next * chunk_size / count;
        progress(static_cast<std::int64_t>(done - reported));
        reported = done;
      }
    }

    const auto pool_start = Clock::now();
    for (std::size_t k = 0; k < results.size(); ++k) {
      Features& f = results[k];
      const std::vector<float>& rows = pooled_rows[k];
      pool_texts(rows, H, first_sequence, sequence_windows, options.window_pooling, f.normalize,
                 std::span(f.data).subspan(chunk * H, chunk_size * H));
      if (options.keep_windows) {
        f.window_data.insert(f.window_data.end(), rows.begin(), rows.end());
        f.windows.insert(f.windows.end(), sequence_windows.begin(), sequence_windows.end());
        const std::size_t base = f.window_begin.back();
        for (std::size_t i = 1; i <= chunk_size; ++i)
          f.window_begin.push_back(base + first_sequence[i]);
      }
    }
    if (options.profile) options.profile->pooling_seconds += seconds_since(pool_start);
  }
  for (Features& f : results) {
    f.tokens = tokens;
    f.truncated = truncated;
    f.windowed = windowed;
  }
  return results;
}

}  // namespace bertlite::model
