// server/batcher.cpp - see batcher.h.
#include "server/batcher.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <exception>

#include "server/errors.h"

namespace bertlite::server {
namespace {

// How long the queue stays empty after a burst before the worker hands freed heap back.
constexpr std::chrono::seconds kTrimWhenIdleFor{1};

}  // namespace

struct Batcher::Job {
  Engine* engine = nullptr;
  std::vector<Sequence> sequences;
  std::vector<float> out;     // [sequences, engine->output_size()]
  std::size_t scheduled = 0;  // sequences handed to a batch (under mutex_)
  std::size_t finished = 0;   // sequences whose rows are in `out` (worker only)
  bool failed = false;        // an engine error is (or is about to be) its answer (worker only)
  std::promise<std::vector<float>> promise;
};

Batcher::Batcher(BatcherOptions options, std::function<void(const BatchRecord&)> on_batch)
    : options_(options), on_batch_(std::move(on_batch)) {
  if (options_.max_batch_tokens <= 0) throw InvalidArgument("max batch tokens must be positive");
  if (options_.max_queued_requests <= 0) {
    throw InvalidArgument("max concurrent requests must be positive");
  }
  worker_ = std::thread([this] { work(); });
}

Batcher::~Batcher() {
  stop();
}

std::future<std::vector<float>> Batcher::submit(Engine& engine, std::vector<Sequence> sequences) {
  auto job = std::make_shared<Job>();
  job->engine = &engine;
  std::future<std::vector<float>> result = job->promise.get_future();
  if (sequences.empty()) {
    job->promise.set_value({});
    return result;
  }
  std::int64_t tokens = 0;
  for (const Sequence& s : sequences) tokens += static_cast<std::int64_t>(s.ids.size());
  job->out.resize(sequences.size() * static_cast<std::size_t>(engine.output_size()));
  job->sequences = std::move(sequences);
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw RequestError(ErrorKind::kUnhealthy, "the server is shutting down");
    if (requests_ >= options_.max_queued_requests) {
      throw RequestError(ErrorKind::kOverloaded,
                         "model is overloaded: " + std::to_string(requests_) +
                             " requests are already queued (--max-concurrent-requests)");
    }
    ++requests_;
    queued_sequences_ += static_cast<std::int64_t>(job->sequences.size());
    queued_tokens_ += tokens;
    pending_.push_back(std::move(job));
  }
  wake_.notify_one();
  return result;
}

void Batcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (worker_.joinable()) worker_.join();
}

BatcherStats Batcher::stats() const {
  std::lock_guard lock(mutex_);
  return {requests_, queued_sequences_, queued_tokens_};
}

void Batcher::work() {
  // Which sequence of which job each row of the current batch is.
  struct Slot {
    std::shared_ptr<Job> job;
    std::size_t index;
  };
  std::vector<Slot> slots;
  model::PackedBatch batch;
  std::vector<float> out;
  bool trimmed = true;  // nothing run since the heap was last trimmed
  const auto work_waiting = [this] { return stopping_ || !pending_.empty(); };
  for (;;) {
    slots.clear();
    batch.clear();
    Engine* engine = nullptr;
    {
      std::unique_lock lock(mutex_);
      // glibc keeps the memory a burst freed (request bodies, encodings, the connection
      // threads' arenas) for reuse, so without this RSS stays at the burst's peak: measured,
      // 157 MB after warm-up and 200 MB after 64 clients, still 200 MB when idle. Once the
      // queue has been empty for a while, give it back; the next burst pays a few page faults.
      if (!trimmed && !wake_.wait_for(lock, kTrimWhenIdleFor, work_waiting)) {
        lock.unlock();
        malloc_trim(0);
        trimmed = true;
        lock.lock();
      }
      wake_.wait(lock, work_waiting);
      if (pending_.empty()) return;  // stopping, and everything submitted is done
      engine = pending_.front()->engine;
      const auto full = [&] {
        return options_.max_batch_sequences > 0 &&
               batch.sequences() >= options_.max_batch_sequences;
      };
      // First come, first served, skipping (not blocking on) jobs for another engine.
      for (const std::shared_ptr<Job>& job : pending_) {
        if (job->engine != engine) continue;
        while (job->scheduled < job->sequences.size() && !full()) {
          const Sequence& s = job->sequences[job->scheduled];
          const auto length = static_cast<std::int64_t>(s.ids.size());
          if (batch.sequences() > 0 && batch.tokens() + length > options_.max_batch_tokens) break;
          batch.add(s.ids, s.type_ids);
          slots.push_back({job, job->scheduled});
          ++job->scheduled;
        }
        if (job->scheduled < job->sequences.size()) break;  // the batch is full
      }
      std::erase_if(pending_, [](const std::shared_ptr<Job>& job) {
        return job->scheduled == job->sequences.size();
      });
      queued_sequences_ -= batch.sequences();
      queued_tokens_ -= batch.tokens();
    }

    trimmed = false;
    const auto start = std::chrono::steady_clock::now();
    std::exception_ptr error;
    try {
      engine->run(batch, out);
    } catch (...) {
      error = std::current_exception();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (on_batch_) on_batch_({batch.sequences(), batch.tokens(), seconds});

    const auto width = static_cast<std::size_t>(engine->output_size());
    std::vector<std::shared_ptr<Job>> finished, failed;
    for (std::size_t b = 0; b < slots.size(); ++b) {
      const std::shared_ptr<Job>& job = slots[b].job;
      if (error && !job->failed) {
        job->failed = true;
        failed.push_back(job);
      } else if (!error) {
        std::copy_n(out.data() + b * width, width, job->out.data() + slots[b].index * width);
      }
      if (++job->finished == job->sequences.size()) finished.push_back(job);
    }
    slots.clear();
    // Count the requests out before answering them, so a client that sends its next request
    // as soon as it has its answer never finds its own finished one still counted.
    {
      std::lock_guard lock(mutex_);
      requests_ -= static_cast<std::int64_t>(finished.size());
    }
    for (const std::shared_ptr<Job>& job : failed) job->promise.set_exception(error);
    for (const std::shared_ptr<Job>& job : finished) {
      if (!job->failed) job->promise.set_value(std::move(job->out));
    }
  }
}

}  // namespace bertlite::server
