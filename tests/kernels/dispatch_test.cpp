// tests/kernels/dispatch_test.cpp - the reference switch and the thread-count hand-over.
#include "kernels/dispatch.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "util/threads.h"

namespace bertlite::kernels {
namespace {

TEST(Dispatch, ReferenceModeStartsFromTheEnvironmentAndToggles) {
  // The variable is read once, at first use; ctest runs each test in its own process, and the
  // switch must agree with how this process was started.
  const char* env = std::getenv("BERTLITE_REFERENCE_KERNELS");
  const bool from_env = env != nullptr && std::strcmp(env, "1") == 0;
  EXPECT_EQ(reference_mode(), from_env);
  set_reference_mode(true);
  EXPECT_TRUE(reference_mode());
  set_reference_mode(false);
  EXPECT_FALSE(reference_mode());
  set_reference_mode(from_env);
}

TEST(Dispatch, SyncComputeThreadsFollowsUtil) {
  const int before = util::compute_threads();
  EXPECT_EQ(util::set_compute_threads(1), 1);
  EXPECT_EQ(sync_compute_threads(), 1);
  EXPECT_EQ(util::set_compute_threads(0), util::available_cores());
  EXPECT_EQ(sync_compute_threads(), util::available_cores());
  util::set_compute_threads(before);
}

}  // namespace
}  // namespace bertlite::kernels
