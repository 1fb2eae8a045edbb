#include "train/finetune.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <span>
#include <sstream>

#include "bertlite/error.h"
#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "train/optimizer.h"
#include "util/file.h"
#include "util/json_integer.h"
#include "util/random.h"

namespace bertlite::train {

using json = nlohmann::json;

EncodedExamples encode_examples(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                const std::vector<std::string>& pairs,
                                const std::vector<std::int32_t>& labels, std::size_t max_length,
                                int threads) {
  if (labels.size() != texts.size()) {
    throw InvalidArgument("encode_examples: " + std::to_string(texts.size()) + " texts but " +
                          std::to_string(labels.size()) + " labels");
  }
  if (!pairs.empty() && pairs.size() != texts.size()) {
    throw InvalidArgument("encode_examples: " + std::to_string(texts.size()) + " first texts but " +
                          std::to_string(pairs.size()) + " second texts");
  }
  EncodeOptions options;
  options.max_length = max_length != 0 ? max_length : tokenizer.info().model_max_length;
  std::vector<Encoding> encodings;
  if (pairs.empty()) {
    encodings = tokenizer.encode_batch(std::span<const std::string>(texts), options, threads);
  } else {
    std::vector<std::pair<std::string, std::string>> joined(texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) joined[i] = {texts[i], pairs[i]};
    encodings = tokenizer.encode_pair_batch(joined, options, threads);
  }
  EncodedExamples out;
  out.examples.resize(encodings.size());
  for (std::size_t i = 0; i < encodings.size(); ++i) {
    out.examples[i].ids = std::move(encodings[i].ids);
    out.examples[i].type_ids = std::move(encodings[i].type_ids);
    out.examples[i].label = labels[i];
    out.truncated += encodings[i].truncated > 0 ? 1 : 0;
    out.tokens += static_cast<std::int64_t>(out.examples[i].ids.size());
  }
  return out;
}

// ---- Batching ---------------------------------------------------------------------------------

std::vector<std::vector<std::int64_t>> make_batches(const std::vector<std::int64_t>& lengths,
                                                    const BatchingOptions& options,
                                                    std::uint64_t seed, std::int64_t epoch) {
  if (options.batch_tokens <= 0 && options.batch_size <= 0) {
    throw InvalidArgument("batching needs a token budget or a batch size");
  }
  // One stream per (seed, epoch), independent of every other epoch's, so a resumed run can
  // rebuild any epoch's batches without replaying the ones before.
  util::SplitMix64 rng(util::splitmix64(seed) ^
                       util::splitmix64(static_cast<std::uint64_t>(epoch)));
  std::vector<std::int64_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  util::shuffle(order, rng);

  const auto full = [&](std::int64_t rows, std::int64_t tokens, std::int64_t next_length) {
    if (rows == 0) return false;
    if (options.batch_size > 0 && rows >= options.batch_size) return true;
    return options.batch_tokens > 0 && tokens + next_length > options.batch_tokens;
  };

  std::vector<std::vector<std::int64_t>> batches;
  const std::int64_t bucket = std::max<std::int64_t>(1, options.bucket_batches);
  std::size_t begin = 0;
  while (begin < order.size()) {
    // A pool of about `bucket` batches' worth of rows, sorted by length (stable, so ties keep
    // the shuffled order) and cut into batches.
    std::size_t end = begin;
    std::int64_t pool_batches = 0, rows = 0, tokens = 0;
    while (end < order.size()) {
      const std::int64_t length = lengths[static_cast<std::size_t>(order[end])];
      if (full(rows, tokens, length)) {
        if (++pool_batches == bucket) break;
        rows = tokens = 0;
      }
      ++rows;
      tokens += length;
      ++end;
    }
    if (bucket > 1) {
      std::stable_sort(
          order.begin() + static_cast<std::ptrdiff_t>(begin),
          order.begin() + static_cast<std::ptrdiff_t>(end), [&](std::int64_t a, std::int64_t b) {
            return lengths[static_cast<std::size_t>(a)] < lengths[static_cast<std::size_t>(b)];
          });
    }
    std::vector<std::int64_t> batch;
    tokens = 0;
    for (std::size_t i = begin; i < end; ++i) {
      const std::int64_t length = lengths[static_cast<std::size_t>(order[i])];
      if (full(static_cast<std::int64_t>(batch.size()), tokens, length)) {
        batches.push_back(std::move(batch));
        batch.clear();
        tokens = 0;
      }
      batch.push_back(order[i]);
      tokens += length;
    }
    if (!batch.empty()) batches.push_back(std::move(batch));
    begin = end;
  }
  util::shuffle(batches, rng);
  return batches;
}

std::int64_t padded_tokens(const std::vector<std::vector<std::int64_t>>& batches,
                           const std::vector<std::int64_t>& lengths) {
  std::int64_t total = 0;
  for (const auto& batch : batches) {
    std::int64_t longest = 0;
    for (std::int64_t row : batch) {
      longest = std::max(longest, lengths[static_cast<std::size_t>(row)]);
    }
    total += longest * static_cast<std::int64_t>(batch.size());
  }
  return total;
}

// ---- Evaluation -------------------------------------------------------------------------------

namespace {

model::PackedBatch pack(const std::vector<Example>& examples, std::span<const std::int64_t> rows,
                        std::vector<std::int32_t>& labels) {
  model::PackedBatch batch;
  labels.clear();
  for (std::int64_t row : rows) {
    const Example& example = examples[static_cast<std::size_t>(row)];
    batch.add(example.ids, example.type_ids);
    labels.push_back(example.label);
  }
  return batch;
}

std::vector<std::int64_t> lengths_of(const std::vector<Example>& examples) {
  std::vector<std::int64_t> lengths(examples.size());
  for (std::size_t i = 0; i < examples.size(); ++i) {
    lengths[i] = static_cast<std::int64_t>(examples[i].ids.size());
  }
  return lengths;
}

// log-sum-exp cross-entropy of one row of logits, in double.
double row_cross_entropy(const float* logits, std::int64_t k, std::int32_t label) {
  const float top = *std::max_element(logits, logits + k);
  double sum = 0;
  for (std::int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(logits[j] - top));
  return std::log(sum) - static_cast<double>(logits[label] - top);
}

}  // namespace

std::vector<float> predict_logits(SequenceClassifier& model, const std::vector<Example>& examples,
                                  std::int64_t batch_tokens) {
  const std::int64_t k = model.num_labels();
  std::vector<float> out(examples.size() * static_cast<std::size_t>(k));
  // Sorted by length and cut by the token budget: the order cannot change any result.
  std::vector<std::int64_t> order(examples.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return examples[static_cast<std::size_t>(a)].ids.size() <
           examples[static_cast<std::size_t>(b)].ids.size();
  });
  std::vector<std::int32_t> labels;
  std::size_t begin = 0;
  while (begin < order.size()) {
    std::size_t end = begin;
    std::int64_t tokens = 0;
    while (end < order.size()) {
      const auto length =
          static_cast<std::int64_t>(examples[static_cast<std::size_t>(order[end])].ids.size());
      if (end > begin && tokens + length > batch_tokens) break;
      tokens += length;
      ++end;
    }
    const std::span<const std::int64_t> rows(order.data() + begin, end - begin);
    const std::vector<float>& logits = model.forward(pack(examples, rows, labels), {});
    for (std::size_t b = 0; b < rows.size(); ++b) {
      std::copy_n(logits.data() + static_cast<std::int64_t>(b) * k, k, out.data() + rows[b] * k);
    }
    begin = end;
  }
  return out;
}

std::vector<double> softmax_rows(const std::vector<float>& logits, std::int64_t k) {
  std::vector<double> out(logits.size());
  for (std::size_t begin = 0; begin < logits.size(); begin += static_cast<std::size_t>(k)) {
    const float top = *std::max_element(logits.begin() + begin, logits.begin() + begin + k);
    double sum = 0;
    for (std::size_t j = begin; j < begin + static_cast<std::size_t>(k); ++j) {
      sum += out[j] = std::exp(double{logits[j]} - top);
    }
    for (std::size_t j = begin; j < begin + static_cast<std::size_t>(k); ++j) out[j] /= sum;
  }
  return out;
}

Evaluation evaluate(SequenceClassifier& model, const std::vector<Example>& examples,
                    std::int64_t batch_tokens) {
  Evaluation out;
  if (examples.empty()) return out;
  const std::int64_t k = model.num_labels();
  const std::vector<float> logits = predict_logits(model, examples, batch_tokens);
  out.predictions.resize(examples.size());
  double loss = 0;
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const float* row = logits.data() + static_cast<std::int64_t>(i) * k;
    const auto predicted = static_cast<std::int32_t>(std::max_element(row, row + k) - row);
    out.predictions[i] = predicted;
    correct += predicted == examples[i].label ? 1 : 0;
    loss += row_cross_entropy(row, k, examples[i].label);
  }
  out.loss = loss / static_cast<double>(examples.size());
  out.accuracy = static_cast<double>(correct) / static_cast<double>(examples.size());
  return out;
}

// ---- Checkpoints ------------------------------------------------------------------------------

namespace {

constexpr const char* kStateFile = "state.json";
constexpr int kCheckpointVersion = 1;

// Where the loop is, and what it has seen: everything a resumed run needs besides tensors.
struct LoopState {
  std::int64_t epoch = 0;       // 0-based epoch in progress
  std::int64_t next_batch = 0;  // first micro-batch of that epoch not yet trained on
  std::int64_t step = 0;        // optimizer steps taken
  double epoch_loss_sum = 0;    // over the epoch's micro-batches so far
  std::int64_t epoch_batches = 0;
  double epoch_seconds = 0;
  double train_seconds = 0;
  double flops = 0;
  std::int64_t best_epoch = 0;  // 1-based, 0 = none yet
  double best_accuracy = -1;
  std::vector<EpochMetrics> history;
  std::vector<double> step_losses;
};

// FNV-1a over the data and every option that shapes the run, so --resume refuses a checkpoint
// made from other data or settings rather than silently mixing two runs.
std::uint64_t run_fingerprint(const std::vector<Example>& train, const FinetuneOptions& options,
                              const SequenceClassifier& model) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  const auto mix = [&](const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) h = (h ^ bytes[i]) * 0x100000001b3ull;
  };
  const auto mix_value = [&](const auto& value) { mix(&value, sizeof value); };
  for (const Example& example : train) {
    mix(example.ids.data(), example.ids.size() * sizeof(std::int32_t));
    mix(example.type_ids.data(), example.type_ids.size() * sizeof(std::int32_t));
    mix_value(example.label);
  }
  mix_value(options.epochs);
  mix_value(options.lr);
  mix_value(options.warmup);
  mix_value(options.weight_decay);
  mix_value(options.max_grad_norm);
  mix_value(options.accumulation);
  mix_value(options.batching.batch_tokens);
  mix_value(options.batching.batch_size);
  mix_value(options.batching.bucket_batches);
  mix_value(options.seed);
  mix_value(options.label_smoothing);
  for (float w : options.class_weights) mix_value(w);
  for (const std::string& label : model.labels()) mix(label.data(), label.size());
  mix_value(model.parameter_count());
  return h;
}

json metrics_json(const EpochMetrics& m) {
  return {{"epoch", m.epoch},         {"train_loss", m.train_loss},
          {"eval_loss", m.eval_loss}, {"eval_accuracy", m.eval_accuracy},
          {"seconds", m.seconds},     {"tokens_per_second", m.tokens_per_second}};
}

EpochMetrics metrics_from_json(const json& j, const std::string& source) {
  EpochMetrics m;
  m.epoch = util::json_integer<std::int64_t>(j, "epoch", source);
  m.train_loss = j.at("train_loss").get<double>();
  m.eval_loss = j.at("eval_loss").get<double>();
  m.eval_accuracy = j.at("eval_accuracy").get<double>();
  m.seconds = j.at("seconds").get<double>();
  m.tokens_per_second = j.at("tokens_per_second").get<double>();
  return m;
}

// The tensor name of parameter i in a checkpoint: its first Hugging Face part's name.
std::string checkpoint_name(const Parameter& p) {
  return p.parts.front().name;
}

// A checkpoint is a tensors file named by its step plus state.json naming it. state.json is
// replaced last (atomically), so a kill at any moment leaves the previous checkpoint whole.
void save_checkpoint(const std::filesystem::path& dir, const SequenceClassifier& model,
                     AdamW& optimizer, const std::vector<std::vector<float>>& best_weights,
                     const LoopState& state, std::uint64_t fingerprint) {
  std::filesystem::create_directories(dir);
  const std::vector<Parameter>& params = model.parameters();
  std::vector<io::TensorToWrite> tensors;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::string name = checkpoint_name(params[i]);
    tensors.push_back(io::f32_tensor("param." + name, params[i].shape, params[i].value));
    tensors.push_back(
        io::f32_tensor("adam_m." + name, params[i].shape, optimizer.first_moments()[i]));
    tensors.push_back(
        io::f32_tensor("adam_v." + name, params[i].shape, optimizer.second_moments()[i]));
    if (!best_weights.empty()) {
      tensors.push_back(io::f32_tensor("best." + name, params[i].shape, best_weights[i]));
    }
  }
  const std::string tensors_file = "checkpoint-" + std::to_string(state.step) + "-" +
                                   std::to_string(state.epoch) + "-" +
                                   std::to_string(state.next_batch) + ".safetensors";
  io::write_safetensors(dir / tensors_file, tensors);

  json history = json::array();
  for (const EpochMetrics& m : state.history) history.push_back(metrics_json(m));
  std::ostringstream fp;
  fp << std::hex << fingerprint;
  const json j = {{"version", kCheckpointVersion},
                  {"fingerprint", fp.str()},
                  {"tensors", tensors_file},
                  {"epoch", state.epoch},
                  {"next_batch", state.next_batch},
                  {"step", state.step},
                  {"optimizer_steps", optimizer.steps()},
                  {"epoch_loss_sum", state.epoch_loss_sum},
                  {"epoch_batches", state.epoch_batches},
                  {"epoch_seconds", state.epoch_seconds},
                  {"train_seconds", state.train_seconds},
                  {"flops", state.flops},
                  {"best_epoch", state.best_epoch},
                  {"best_accuracy", state.best_accuracy},
                  {"history", history},
                  {"step_losses", state.step_losses}};
  const std::filesystem::path state_path = dir / kStateFile;
  std::string previous;
  if (std::filesystem::exists(state_path)) {
    try {
      previous = json::parse(util::read_file(state_path)).value("tensors", "");
    } catch (const std::exception&) {
      previous.clear();  // an unreadable old state is replaced, not fatal
    }
  }
  util::write_file_atomic(state_path, j.dump(1));
  if (!previous.empty() && previous != tensors_file) {
    std::error_code ignored;
    std::filesystem::remove(dir / previous, ignored);
  }
}

// Reads the checkpoint in dir into model, optimizer, best_weights and state. Throws
// InvalidArgument naming the file when it belongs to another run or is damaged.
void load_checkpoint(const std::filesystem::path& dir, SequenceClassifier& model, AdamW& optimizer,
                     std::vector<std::vector<float>>& best_weights, LoopState& state,
                     std::uint64_t fingerprint) {
  const std::filesystem::path state_path = dir / kStateFile;
  if (!std::filesystem::exists(state_path)) {
    throw InvalidArgument(state_path.string() + ": no checkpoint to resume from");
  }
  json j;
  try {
    j = json::parse(util::read_file(state_path));
  } catch (const json::exception& e) {
    throw ParseError(state_path.string() + ": " + e.what());
  }
  std::ostringstream fp;
  fp << std::hex << fingerprint;
  const std::int64_t version =
      util::json_integer_or<std::int64_t>(j, "version", 0, state_path.string());
  if (version != kCheckpointVersion) {
    throw InvalidArgument(state_path.string() + ": checkpoint version " + std::to_string(version) +
                          ", expected " + std::to_string(kCheckpointVersion));
  }
  if (j.value("fingerprint", "") != fp.str()) {
    throw InvalidArgument(state_path.string() +
                          ": the checkpoint was made with other training data or options; "
                          "resume with the same --train, labels and settings");
  }
  try {
    const std::filesystem::path tensors_path = dir / j.at("tensors").get<std::string>();
    const io::TensorFile file = io::open_safetensors(tensors_path);
    std::vector<Parameter>& params = model.parameters();
    const bool has_best = file.contains("best." + checkpoint_name(params.front()));
    best_weights.clear();
    if (has_best) best_weights.resize(params.size());
    const auto read_into = [&](const std::string& name, std::vector<float>& out) {
      const io::FloatTensor t = file.floats(name);
      if (t.data.size() != out.size()) {
        throw InvalidArgument(tensors_path.string() + ": tensor " + name + " has " +
                              std::to_string(t.data.size()) + " values, expected " +
                              std::to_string(out.size()));
      }
      std::copy(t.data.begin(), t.data.end(), out.begin());
    };
    for (std::size_t i = 0; i < params.size(); ++i) {
      const std::string name = checkpoint_name(params[i]);
      read_into("param." + name, params[i].value);
      read_into("adam_m." + name, optimizer.first_moments()[i]);
      read_into("adam_v." + name, optimizer.second_moments()[i]);
      if (has_best) {
        best_weights[i].resize(params[i].value.size());
        read_into("best." + name, best_weights[i]);
      }
    }
    optimizer.set_steps(
        util::json_integer<std::int64_t>(j, "optimizer_steps", state_path.string()));
    state.epoch = util::json_integer<std::int64_t>(j, "epoch", state_path.string());
    state.next_batch = util::json_integer<std::int64_t>(j, "next_batch", state_path.string());
    state.step = util::json_integer<std::int64_t>(j, "step", state_path.string());
    state.epoch_loss_sum = j.at("epoch_loss_sum").get<double>();
    state.epoch_batches = util::json_integer<std::int64_t>(j, "epoch_batches", state_path.string());
    state.epoch_seconds = j.at("epoch_seconds").get<double>();
    state.train_seconds = j.at("train_seconds").get<double>();
    state.flops = j.at("flops").get<double>();
    state.best_epoch = util::json_integer<std::int64_t>(j, "best_epoch", state_path.string());
    state.best_accuracy = j.at("best_accuracy").get<double>();
    state.history.clear();
    for (const json& m : j.at("history"))
      state.history.push_back(metrics_from_json(m, state_path.string()));
    state.step_losses = j.at("step_losses").get<std::vector<double>>();
  } catch (const json::exception& e) {
    throw ParseError(state_path.string() + ": " + e.what());
  }
}

std::vector<std::vector<float>> copy_weights(const std::vector<Parameter>& params) {
  std::vector<std::vector<float>> out;
  out.reserve(params.size());
  for (const Parameter& p : params) out.push_back(p.value);
  return out;
}

}  // namespace

// ---- The loop ---------------------------------------------------------------------------------

FinetuneResult finetune(SequenceClassifier& model, const std::vector<Example>& train,
                        const std::vector<Example>& eval, const FinetuneOptions& options,
                        const FinetuneHooks& hooks) {
  if (train.empty()) throw InvalidArgument("no training examples");
  if (options.epochs <= 0) throw InvalidArgument("epochs must be at least 1");
  if (!(options.lr > 0) || !std::isfinite(options.lr)) {
    throw InvalidArgument("the learning rate must be a positive number");
  }
  if (!(options.warmup >= 0 && options.warmup <= 1)) {
    throw InvalidArgument("warmup must be a fraction of the steps, in [0, 1]");
  }
  if (options.accumulation <= 0) throw InvalidArgument("accumulation must be at least 1");
  const std::int64_t k = model.num_labels();
  for (const std::vector<Example>* set : {&train, &eval}) {
    for (const Example& example : *set) {
      if (example.label < 0 || example.label >= k) {
        throw InvalidArgument("label " + std::to_string(example.label) + " outside the " +
                              std::to_string(k) + " classes");
      }
    }
  }

  // Every epoch's batches up front: the schedule needs the exact step count, and they are
  // cheap (indices only).
  const std::vector<std::int64_t> lengths = lengths_of(train);
  std::vector<std::vector<std::vector<std::int64_t>>> epoch_batches;
  std::int64_t total_steps = 0;
  for (std::int64_t e = 0; e < options.epochs; ++e) {
    epoch_batches.push_back(make_batches(lengths, options.batching, options.seed, e));
    const auto n = static_cast<std::int64_t>(epoch_batches.back().size());
    total_steps += (n + options.accumulation - 1) / options.accumulation;
  }
  // transformers' TrainingArguments.get_warmup_steps: ceil(ratio * total).
  const auto warmup_steps =
      static_cast<std::int64_t>(std::ceil(static_cast<double>(options.warmup) * total_steps));

  FinetuneResult result;
  result.train_tokens = std::accumulate(lengths.begin(), lengths.end(), std::int64_t{0});
  for (const auto& batches : epoch_batches) {
    result.padded_tokens += padded_tokens(batches, lengths);
  }
  result.padded_tokens /= options.epochs;
  {
    // The Trainer's default: the same number of rows per batch as ours on average, drawn at
    // random and padded to the longest.
    const auto rows_per_batch = std::max<std::int64_t>(
        1, static_cast<std::int64_t>(std::llround(static_cast<double>(train.size()) /
                                                  static_cast<double>(epoch_batches[0].size()))));
    const BatchingOptions random{
        .batch_tokens = 0, .batch_size = rows_per_batch, .bucket_batches = 1};
    result.trainer_padded_tokens =
        padded_tokens(make_batches(lengths, random, options.seed, 0), lengths);
  }

  AdamW optimizer(model.parameters(), {.weight_decay = options.weight_decay});
  const std::uint64_t fingerprint = run_fingerprint(train, options, model);
  std::vector<std::vector<float>> best_weights;
  LoopState state;
  const bool checkpoints = !options.checkpoint_dir.empty();
  if (options.resume) {
    load_checkpoint(options.checkpoint_dir, model, optimizer, best_weights, state, fingerprint);
    if (hooks.note) {
      hooks.note("resumed from " + options.checkpoint_dir.string() + " at step " +
                 std::to_string(state.step) + " (epoch " + std::to_string(state.epoch + 1) +
                 ", batch " + std::to_string(state.next_batch) + ")");
    }
  }

  LossOptions loss_options{.class_weights = options.class_weights,
                           .label_smoothing = options.label_smoothing};
  std::vector<std::int32_t> labels;
  using Clock = std::chrono::steady_clock;

  for (; state.epoch < options.epochs; ++state.epoch) {
    const auto& batches = epoch_batches[static_cast<std::size_t>(state.epoch)];
    const auto batch_count = static_cast<std::int64_t>(batches.size());
    if (hooks.epoch_started) {
      std::int64_t done = 0;  // a resumed epoch's bar covers what is left of it
      for (std::int64_t b = 0; b < state.next_batch; ++b) {
        for (std::int64_t row : batches[static_cast<std::size_t>(b)]) {
          done += lengths[static_cast<std::size_t>(row)];
        }
      }
      hooks.epoch_started(state.epoch + 1, result.train_tokens - done);
    }
    while (state.next_batch < batch_count) {
      const Clock::time_point start = Clock::now();
      // One optimizer step over up to `accumulation` micro-batches.
      const std::int64_t group_end = std::min(batch_count, state.next_batch + options.accumulation);
      loss_options.scale = 1.0f / static_cast<float>(group_end - state.next_batch);
      model.zero_grad();
      double step_loss = 0;
      std::int64_t step_tokens = 0;
      for (std::int64_t b = state.next_batch; b < group_end; ++b) {
        const auto& rows = batches[static_cast<std::size_t>(b)];
        const model::PackedBatch batch = pack(train, rows, labels);
        // Masks depend on the run's seed and the micro-batch's place in the run alone.
        const std::uint64_t dropout_seed = util::splitmix64(
            options.seed ^ util::splitmix64(static_cast<std::uint64_t>(state.epoch) << 32 |
                                            static_cast<std::uint64_t>(b)));
        model.forward(batch, {.training = true, .dropout_seed = dropout_seed});
        const double loss = model.loss_and_backward(labels, loss_options);
        result.peak_activation_floats =
            std::max(result.peak_activation_floats, model.activation_floats());
        state.flops += 3 * model.forward_flops();
        step_loss += loss * loss_options.scale;
        state.epoch_loss_sum += loss;
        ++state.epoch_batches;
        step_tokens += batch.tokens();
      }
      if (!std::isfinite(step_loss)) {
        throw Error("the loss became " + std::to_string(step_loss) + " at step " +
                    std::to_string(state.step + 1) + "; try a lower --lr");
      }
      if (options.max_grad_norm > 0) clip_grad_norm(model.parameters(), options.max_grad_norm);
      const double factor = linear_schedule_factor(state.step, warmup_steps, total_steps);
      optimizer.step(static_cast<float>(options.lr * factor));
      ++state.step;
      state.next_batch = group_end;
      state.step_losses.push_back(step_loss);
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      state.epoch_seconds += seconds;
      state.train_seconds += seconds;
      if (hooks.step_done) {
        hooks.step_done(step_tokens,
                        state.epoch_loss_sum / static_cast<double>(state.epoch_batches));
      }
      if (checkpoints && options.save_every > 0 && state.step % options.save_every == 0 &&
          state.next_batch < batch_count) {
        save_checkpoint(options.checkpoint_dir, model, optimizer, best_weights, state, fingerprint);
      }
    }

    EpochMetrics metrics;
    metrics.epoch = state.epoch + 1;
    metrics.train_loss = state.epoch_loss_sum / static_cast<double>(state.epoch_batches);
    metrics.seconds = state.epoch_seconds;
    metrics.tokens_per_second = static_cast<double>(result.train_tokens) / state.epoch_seconds;
    if (!eval.empty()) {
      const Evaluation e =
          evaluate(model, eval, std::max<std::int64_t>(4096, options.batching.batch_tokens));
      metrics.eval_loss = e.loss;
      metrics.eval_accuracy = e.accuracy;
    }
    state.history.push_back(metrics);
    // The best epoch: highest accuracy (earliest on ties); without evaluation data, the last.
    const bool best = eval.empty() || metrics.eval_accuracy > state.best_accuracy;
    if (best) {
      state.best_epoch = metrics.epoch;
      state.best_accuracy = metrics.eval_accuracy;
      // A later epoch may be worse: keep these weights aside (not needed after the last).
      if (metrics.epoch < options.epochs) {
        best_weights = copy_weights(model.parameters());
      } else {
        best_weights.clear();
      }
    }
    if (hooks.epoch_done) hooks.epoch_done(metrics);
    state.next_batch = 0;
    state.epoch_loss_sum = 0;
    state.epoch_batches = 0;
    state.epoch_seconds = 0;
    if (checkpoints) {
      LoopState next = state;
      ++next.epoch;
      save_checkpoint(options.checkpoint_dir, model, optimizer, best_weights, next, fingerprint);
    }
  }

  // Hand back the best epoch's weights.
  if (state.best_epoch != static_cast<std::int64_t>(state.history.size()) &&
      !best_weights.empty()) {
    std::vector<Parameter>& params = model.parameters();
    for (std::size_t i = 0; i < params.size(); ++i) params[i].value = best_weights[i];
  }
  result.epochs = state.history;
  result.best_epoch = state.best_epoch;
  result.step_losses = state.step_losses;
  result.steps = state.step;
  result.train_seconds = state.train_seconds;
  result.tokens_per_second =
      state.train_seconds > 0
          ? static_cast<double>(result.train_tokens * options.epochs) / state.train_seconds
          : 0;
  result.useful_gflops = state.train_seconds > 0 ? state.flops / state.train_seconds / 1e9 : 0;
  return result;
}

}  // namespace bertlite::train
