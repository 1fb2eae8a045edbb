#include "util/threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "bertlite/error.h"

namespace bertlite::util {
namespace {

TEST(Threads, ResolveNeverExceedsAvailableCores) {
  const int cores = available_cores();
  EXPECT_GE(cores, 1);
  EXPECT_EQ(resolve_threads(0), cores);
  EXPECT_EQ(resolve_threads(1), 1);
  EXPECT_EQ(resolve_threads(cores + 100), cores);
  EXPECT_THROW(resolve_threads(-1), InvalidArgument);      // a typo, not "all cores"
  EXPECT_THROW(resolve_threads(100000), InvalidArgument);  // above kMaxThreads
}

TEST(Threads, ParallelForCoversEveryIndexOnce) {
  std::vector<std::atomic<int>> hits(10007);
  parallel_for(hits.size(), 64, 4, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) hits[i]++;
  });
  for (const auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(Threads, ParallelForRethrowsTheWorkersError) {
  EXPECT_THROW(parallel_for(1000, 1, 2,
                            [](std::size_t begin, std::size_t) {
                              if (begin == 500) throw std::runtime_error("boom");
                            }),
               std::runtime_error);
}

}  // namespace
}  // namespace bertlite::util
