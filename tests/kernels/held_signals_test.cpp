// tests/kernels/held_signals_test.cpp - GEMMs under a storm of handled signals.
//
// oneDNN's AVX sgemm kernels point rsp into the heap while they run (see held_signals.h).
// Without HeldSignals around them, the storm below aborted or crashed the process within a
// second or two on an AVX-512 Zen 4; with it, every product must equal the quiet run's, and
// every signal still reaches its handler.
#include "kernels/held_signals.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "kernels/test_util.h"

namespace bertlite::kernels {
namespace {

std::atomic<int> handled{0};
extern "C" void count_signal(int) {
  handled.fetch_add(1, std::memory_order_relaxed);
}

// Installs the counting handler for SIGUSR1 and puts the old one back.
class CountingHandler {
 public:
  CountingHandler() {
    struct sigaction action {};
    action.sa_handler = count_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR1, &action, &previous_);
  }
  ~CountingHandler() { sigaction(SIGUSR1, &previous_, nullptr); }

 private:
  struct sigaction previous_ {};
};

TEST(HeldSignals, GemmsUnderASignalStormEqualTheQuietRun) {
  // Shapes that take oneDNN's jit sgemm: an open-M matmul (Linear's default float plan) and the
  // plain sgemm that attention and training use.
  constexpr int64_t M = 173, K = 384, N = 1536;
  const std::vector<float> x = testing::random_vector(M * K, 1);
  const std::vector<float> w = testing::random_vector(N * K, 2);
  const Linear linear(w.data(), nullptr, N, K);
  std::vector<float> quiet_linear(M * N), quiet_gemm(M * N);
  linear.forward(quiet_linear.data(), x.data(), M);
  gemm(false, true, M, N, K, 1.0f, x.data(), K, w.data(), K, 0.0f, quiet_gemm.data(), N);

  const CountingHandler handler;
  handled = 0;
  std::atomic<bool> stop{false};
  int sent = 0;
  std::thread storm([&] {
    while (!stop.load()) {
      kill(getpid(), SIGUSR1);
      ++sent;
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  });
  std::vector<float> y(M * N);
  int rounds = 0, mismatches = 0;
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1500)) {
    linear.forward(y.data(), x.data(), M);
    mismatches += y != quiet_linear;
    gemm(false, true, M, N, K, 1.0f, x.data(), K, w.data(), K, 0.0f, y.data(), N);
    mismatches += y != quiet_gemm;
    ++rounds;
  }
  stop = true;
  storm.join();
  EXPECT_EQ(mismatches, 0) << "of " << 2 * rounds << " products";
  EXPECT_GT(rounds, 10);
  // Signals of one kind coalesce while pending, so fewer are handled than sent; most are not.
  EXPECT_GT(handled.load(), sent / 4) << "handled " << handled << " of " << sent;
}

TEST(HeldSignals, ASignalThatArrivesWhileHeldIsHandledWhenReleased) {
  const CountingHandler handler;
  handled = 0;
  {
    const HeldSignals held;
    pthread_kill(pthread_self(), SIGUSR1);  // to this thread, which holds it
    EXPECT_EQ(handled.load(), 0);
  }
  EXPECT_EQ(handled.load(), 1);
}

TEST(HeldSignals, FaultSignalsAreNotHeld) {
  const HeldSignals held;
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  EXPECT_EQ(sigismember(&mask, SIGSEGV), 0);
  EXPECT_EQ(sigismember(&mask, SIGBUS), 0);
  EXPECT_EQ(sigismember(&mask, SIGINT), 1);
  EXPECT_EQ(sigismember(&mask, SIGTERM), 1);
}

}  // namespace
}  // namespace bertlite::kernels
