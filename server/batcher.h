// server/batcher.h - the request queue: sentences from many requests packed into
// token-budgeted batches for one worker thread.
//
//   server::Batcher batcher({.max_batch_tokens = 16384, .max_queued_requests = 512});
//   std::future<std::vector<float>> rows = batcher.submit(engine, std::move(sequences));
//   rows.get();  // [sequences, engine.output_size()], row i for sequence i
//
// One worker runs every forward pass: the kernels already use all cores (OpenMP), so two
// concurrent passes would only fight over them, and a sequence-classification model keeps
// per-pass state. Requests are taken first come, first served; a batch holds sequences of one
// engine only, as many as fit in `max_batch_tokens` real tokens (a request may be split over
// several batches, and a batch may hold many requests). The encoder packs sequences without
// padding and attention never crosses sequences, so a sentence's result does not depend on
// its batch-mates (tests/server/batcher_test.cpp checks it bit for bit).
//
// Thread safety: submit() and stats() from any thread; the engine's run() is only ever called
// from the worker.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "model/encoder.h"

namespace bertlite::server {

// One tokenized input: what the encoder needs of an Encoding.
struct Sequence {
  std::vector<std::int32_t> ids;
  std::vector<std::int32_t> type_ids;
};

// Turns a packed batch into `output_size()` floats per sequence (pooled features, logits).
class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::int64_t output_size() const = 0;
  // out[batch.sequences(), output_size()]. Called from the worker thread only.
  virtual void run(const model::PackedBatch& batch, std::vector<float>& out) = 0;
};

struct BatcherOptions {
  // Real tokens per forward pass; one sequence longer than this still runs, alone.
  std::int64_t max_batch_tokens = 16384;
  // Sequences per forward pass (0: no limit but the tokens).
  std::int64_t max_batch_sequences = 0;
  // Requests waiting or running at once; submit() beyond it throws Overloaded.
  std::int64_t max_queued_requests = 512;
};

// What one finished batch was, for metrics.
struct BatchRecord {
  std::int64_t sequences = 0;
  std::int64_t tokens = 0;
  double seconds = 0;
};

struct BatcherStats {
  std::int64_t queued_requests = 0;   // submitted, not finished
  std::int64_t queued_sequences = 0;  // not yet in a batch
  std::int64_t queued_tokens = 0;     // not yet in a batch
};

class Batcher {
 public:
  explicit Batcher(BatcherOptions options, std::function<void(const BatchRecord&)> on_batch = {});
  ~Batcher();  // stop(): finishes what was submitted
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues `sequences` for `engine` (which must outlive the result). The future holds
  // [sequences, engine.output_size()] floats, or the exception the engine threw. Throws
  // RequestError(kOverloaded) when max_queued_requests are already in, kUnhealthy after stop().
  // An empty list completes at once.
  std::future<std::vector<float>> submit(Engine& engine, std::vector<Sequence> sequences);

  // Refuses new work, finishes every submitted request, joins the worker. Idempotent.
  void stop();

  BatcherStats stats() const;
  const BatcherOptions& options() const { return options_; }

 private:
  struct Job;
  void work();

  BatcherOptions options_;
  std::function<void(const BatchRecord&)> on_batch_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> pending_;  // jobs with sequences not yet in a batch
  std::int64_t requests_ = 0;                 // submitted and not finished
  std::int64_t queued_sequences_ = 0;
  std::int64_t queued_tokens_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace bertlite::server
