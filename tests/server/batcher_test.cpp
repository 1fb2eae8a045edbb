// tests/server/batcher_test.cpp - the request queue with a fake engine: every row goes back
// to its request, batches keep to the token budget and to one engine, a full queue refuses
// work, stop() drains, and an engine error reaches exactly the requests of its batch.
#include "server/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <numeric>
#include <thread>

#include "server/errors.h"

namespace bertlite::server {
namespace {

// Per sequence: [sum of its ids, its length, the number of sequences in its batch].
class FakeEngine : public Engine {
 public:
  std::int64_t output_size() const override { return 3; }
  void run(const model::PackedBatch& batch, std::vector<float>& out) override {
    {
      std::unique_lock lock(mutex);
      released.wait(lock, [this] { return !hold; });
      batches.push_back({batch.sequences(), batch.tokens()});
    }
    if (fail) throw InvalidArgument("engine failed");
    out.assign(static_cast<std::size_t>(batch.sequences() * 3), 0);
    for (std::int64_t b = 0; b < batch.sequences(); ++b) {
      const auto begin = batch.starts[b], end = batch.starts[b + 1];
      out[b * 3] = static_cast<float>(
          std::accumulate(batch.ids.begin() + begin, batch.ids.begin() + end, 0));
      out[b * 3 + 1] = static_cast<float>(end - begin);
      out[b * 3 + 2] = static_cast<float>(batch.sequences());
    }
  }
  void release() {
    {
      std::lock_guard lock(mutex);
      hold = false;
    }
    released.notify_all();
  }

  std::mutex mutex;
  std::condition_variable released;
  bool hold = false;
  std::atomic<bool> fail{false};
  std::vector<std::pair<std::int64_t, std::int64_t>> batches;  // (sequences, tokens)
};

std::vector<Sequence> sequences(int first, int count, int length) {
  std::vector<Sequence> out;
  for (int i = 0; i < count; ++i) {
    Sequence s;
    s.ids.assign(static_cast<std::size_t>(length), first + i);
    s.type_ids.assign(static_cast<std::size_t>(length), 0);
    out.push_back(std::move(s));
  }
  return out;
}

TEST(Batcher, RowsGoBackToTheirRequestsAndBatchesKeepTheBudget) {
  FakeEngine engine;
  Batcher batcher({.max_batch_tokens = 64, .max_batch_sequences = 0, .max_queued_requests = 64});
  std::vector<std::thread> clients;
  std::atomic<int> wrong{0};
  for (int c = 0; c < 16; ++c) {
    clients.emplace_back([&, c] {
      const int count = 1 + c % 5, length = 3 + c;
      auto rows = batcher.submit(engine, sequences(100 * c, count, length)).get();
      if (rows.size() != static_cast<std::size_t>(count * 3)) ++wrong;
      for (int i = 0; i < count; ++i) {
        if (rows[i * 3] != static_cast<float>((100 * c + i) * length)) ++wrong;
        if (rows[i * 3 + 1] != static_cast<float>(length)) ++wrong;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong, 0);
  for (const auto& [n, tokens] : engine.batches) {
    EXPECT_TRUE(tokens <= 64 || n == 1) << n << " sequences, " << tokens << " tokens";
  }
  EXPECT_EQ(batcher.stats().queued_requests, 0);
}

TEST(Batcher, OneRequestLargerThanTheBudgetIsSplit) {
  FakeEngine engine;
  Batcher batcher({.max_batch_tokens = 10, .max_batch_sequences = 0, .max_queued_requests = 4});
  const auto rows = batcher.submit(engine, sequences(0, 7, 4)).get();  // 28 tokens, 2 per batch
  ASSERT_EQ(rows.size(), 21u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(rows[i * 3], static_cast<float>(4 * i));
  EXPECT_EQ(engine.batches.size(), 4u);
  // And a sequence longer than the budget still runs, alone.
  EXPECT_EQ(batcher.submit(engine, sequences(1, 1, 25)).get()[1], 25.0f);
}

TEST(Batcher, MaxBatchSequences) {
  FakeEngine engine;
  Batcher batcher({.max_batch_tokens = 1000, .max_batch_sequences = 3, .max_queued_requests = 4});
  const auto rows = batcher.submit(engine, sequences(0, 7, 2)).get();
  for (int i = 0; i < 7; ++i) EXPECT_LE(rows[i * 3 + 2], 3.0f);
}

TEST(Batcher, RequestsShareBatches) {
  FakeEngine engine;
  engine.hold = true;  // the first batch waits, so the others queue behind it
  Batcher batcher({.max_batch_tokens = 1000, .max_batch_sequences = 0, .max_queued_requests = 8});
  auto first = batcher.submit(engine, sequences(0, 1, 2));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::vector<std::future<std::vector<float>>> rest;
  for (int r = 0; r < 5; ++r) rest.push_back(batcher.submit(engine, sequences(10 * r, 2, 3)));
  engine.release();
  first.get();
  for (auto& f : rest) EXPECT_EQ(f.get()[2], 10.0f);  // all five requests in one batch
}

TEST(Batcher, FullQueueIsOverloadedAndRecovers) {
  FakeEngine engine;
  engine.hold = true;
  Batcher batcher({.max_batch_tokens = 100, .max_batch_sequences = 0, .max_queued_requests = 3});
  std::vector<std::future<std::vector<float>>> held;
  for (int r = 0; r < 3; ++r) held.push_back(batcher.submit(engine, sequences(r, 1, 2)));
  try {
    batcher.submit(engine, sequences(9, 1, 2));
    ADD_FAILURE() << "a fourth request was queued";
  } catch (const RequestError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kOverloaded);
    EXPECT_EQ(http_status(e.kind()), 429);
  }
  engine.release();
  for (auto& f : held) f.get();
  EXPECT_EQ(batcher.submit(engine, sequences(9, 1, 2)).get()[0], 18.0f);
}

TEST(Batcher, EngineErrorReachesItsRequestsOnly) {
  FakeEngine engine;
  Batcher batcher({.max_batch_tokens = 100, .max_batch_sequences = 0, .max_queued_requests = 4});
  engine.fail = true;
  auto failed = batcher.submit(engine, sequences(0, 2, 2));
  EXPECT_THROW(failed.get(), InvalidArgument);
  engine.fail = false;
  EXPECT_EQ(batcher.submit(engine, sequences(1, 1, 2)).get()[0], 2.0f);
  EXPECT_EQ(batcher.stats().queued_requests, 0);
}

TEST(Batcher, BatchesHoldOneEngine) {
  FakeEngine a, b;
  a.hold = true;
  Batcher batcher({.max_batch_tokens = 1000, .max_batch_sequences = 0, .max_queued_requests = 8});
  auto first = batcher.submit(a, sequences(0, 1, 2));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto from_b = batcher.submit(b, sequences(0, 2, 2));
  auto from_a = batcher.submit(a, sequences(0, 3, 2));
  a.release();
  first.get();
  EXPECT_EQ(from_a.get()[2], 3.0f);
  EXPECT_EQ(from_b.get()[2], 2.0f);
}

TEST(Batcher, StopFinishesSubmittedWorkThenRefuses) {
  FakeEngine engine;
  engine.hold = true;
  Batcher batcher({.max_batch_tokens = 100, .max_batch_sequences = 0, .max_queued_requests = 8});
  std::vector<std::future<std::vector<float>>> pending;
  for (int r = 0; r < 4; ++r) pending.push_back(batcher.submit(engine, sequences(r, 2, 3)));
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    engine.release();
  });
  batcher.stop();
  releaser.join();
  for (auto& f : pending) EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  for (auto& f : pending) EXPECT_EQ(f.get().size(), 6u);
  try {
    batcher.submit(engine, sequences(0, 1, 1));
    ADD_FAILURE() << "queued after stop()";
  } catch (const RequestError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnhealthy);
  }
}

TEST(Batcher, EmptyRequestCompletesAtOnce) {
  FakeEngine engine;
  Batcher batcher({});
  EXPECT_TRUE(batcher.submit(engine, {}).get().empty());
  EXPECT_TRUE(engine.batches.empty());
}

}  // namespace
}  // namespace bertlite::server
