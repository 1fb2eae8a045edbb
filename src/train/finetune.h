// train/finetune.h - the fine-tuning loop: token-budgeted, length-bucketed packed batches,
// AdamW with warmup and linear decay, gradient clipping and accumulation, evaluation after
// every epoch (the best epoch kept), and checkpoints a killed run resumes from exactly.
//
// Repeatability: a run is a function of its options, its data and the thread count. Batches
// are a function of (seed, epoch), dropout masks of (seed, optimizer step), so a run resumed
// from a checkpoint takes the same steps as one that was never interrupted.
//
// Example:
//   auto model = SequenceClassifier::load(folder, {.labels = {"negative", "positive"}});
//   auto train = encode_examples(tokenizer, texts, {}, labels, 128);
//   FinetuneResult r = finetune(model, train.examples, dev.examples, {.epochs = 3}, {});
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bertlite/tokenizer.h"
#include "train/sequence_classifier.h"

namespace bertlite::train {

// One tokenized training row.
struct Example {
  std::vector<std::int32_t> ids;
  std::vector<std::int32_t> type_ids;
  std::int32_t label = 0;
};

struct EncodedExamples {
  std::vector<Example> examples;
  std::int64_t truncated = 0;  // rows cut to max_length
  std::int64_t tokens = 0;
};

// Tokenizes texts (and second texts, for sentence pairs, when `pairs` is not empty) with
// [CLS]/[SEP], cut to max_length tokens (0: the model's maximum), with labels[i] as class codes.
EncodedExamples encode_examples(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                const std::vector<std::string>& pairs,
                                const std::vector<std::int32_t>& labels, std::size_t max_length,
                                int threads = 0);

// ---- Batching ---------------------------------------------------------------------------------

struct BatchingOptions {
  // A batch holds at most this many real tokens (packed: no padding is ever computed) ...
  std::int64_t batch_tokens = 1024;
  // ... and at most this many sentences (0: no limit).
  std::int64_t batch_size = 0;
  // Length bucketing: rows are shuffled, cut into pools of this many batches' worth, sorted by
  // length within a pool, then batched, and the batches shuffled. 1: no bucketing.
  std::int64_t bucket_batches = 50;
};

// The batches of one epoch: row indices, a function of (seed, epoch). Every row appears once.
std::vector<std::vector<std::int64_t>> make_batches(const std::vector<std::int64_t>& lengths,
                                                    const BatchingOptions& options,
                                                    std::uint64_t seed, std::int64_t epoch);

// Tokens a padded batch (every row padded to its batch's longest) would hold, for reports.
std::int64_t padded_tokens(const std::vector<std::vector<std::int64_t>>& batches,
                           const std::vector<std::int64_t>& lengths);

// ---- The loop ---------------------------------------------------------------------------------

struct FinetuneOptions {
  std::int64_t epochs = 3;
  float lr = 1e-4f;
  float warmup = 0.06f;  // a fraction of all optimizer steps
  float weight_decay = 0.01f;
  float max_grad_norm = 1.0f;  // <= 0: no clipping
  std::int64_t accumulation = 1;
  BatchingOptions batching;
  std::uint64_t seed = 42;
  float label_smoothing = 0;
  std::vector<float> class_weights;
  // Checkpoints (weights, optimizer moments, position, history) go to checkpoint_dir at each
  // epoch's end and every save_every optimizer steps (0: epoch ends only). Empty: none.
  std::filesystem::path checkpoint_dir;
  std::int64_t save_every = 0;
  // Continue from the checkpoint in checkpoint_dir.
  bool resume = false;
};

struct EpochMetrics {
  std::int64_t epoch = 0;  // 1-based
  double train_loss = 0;   // mean over the epoch's batches
  double eval_loss = 0;
  double eval_accuracy = -1;  // -1 without evaluation data
  double seconds = 0;
  double tokens_per_second = 0;
};

struct FinetuneResult {
  std::vector<EpochMetrics> epochs;
  std::int64_t best_epoch = 0;      // 1-based; the model holds its weights on return
  std::vector<double> step_losses;  // every optimizer step's loss
  std::int64_t steps = 0;
  std::int64_t train_tokens = 0;   // tokens per epoch, packed
  std::int64_t padded_tokens = 0;  // what padding every batch to its longest row would hold
  // What transformers' Trainer computes with its defaults (random batches of batch_size rows,
  // padded to the longest): batch_size = the mean sentences per batch of this run.
  std::int64_t trainer_padded_tokens = 0;
  double train_seconds = 0;  // training steps only, evaluation excluded
  double tokens_per_second = 0;
  double useful_gflops = 0;  // (forward + backward) FLOPs / train_seconds / 1e9; backward = 2x
  std::int64_t peak_activation_floats = 0;
};

// Progress, as the loop goes: tokens done of total, and the running loss.
struct FinetuneHooks {
  // tokens: what the epoch will train on (what is left of it, in a resumed epoch).
  std::function<void(std::int64_t epoch, std::int64_t tokens)> epoch_started;
  std::function<void(std::int64_t tokens, double loss)> step_done;
  std::function<void(const EpochMetrics&)> epoch_done;
  std::function<void(const std::string& message)> note;  // "resumed from ... at step 120"
};

// Loss and accuracy of the model on examples (eval mode: no dropout).
struct Evaluation {
  double loss = 0;
  double accuracy = 0;
  std::vector<std::int32_t> predictions;
};
Evaluation evaluate(SequenceClassifier& model, const std::vector<Example>& examples,
                    std::int64_t batch_tokens = 4096);

// logits[N, K] of the examples (eval mode), in their order; batched by length.
std::vector<float> predict_logits(SequenceClassifier& model, const std::vector<Example>& examples,
                                  std::int64_t batch_tokens = 4096);
// Softmax of each row of logits[N, K], in double.
std::vector<double> softmax_rows(const std::vector<float>& logits, std::int64_t k);

FinetuneResult finetune(SequenceClassifier& model, const std::vector<Example>& train,
                        const std::vector<Example>& eval, const FinetuneOptions& options,
                        const FinetuneHooks& hooks = {});

}  // namespace bertlite::train
