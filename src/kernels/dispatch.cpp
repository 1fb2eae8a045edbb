// kernels/dispatch.cpp - the reference switch and the hand-over of util's thread count to OpenMP.
#include "kernels/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "util/threads.h"

namespace bertlite::kernels {
namespace {

// The switch, initialised from the environment on first use (a function-local static, so the
// order of static initialisers across files does not matter).
std::atomic<bool>& reference_flag() {
  static std::atomic<bool> flag{[] {
    const char* env = std::getenv("BERTLITE_REFERENCE_KERNELS");
    return env != nullptr && std::strcmp(env, "1") == 0;
  }()};
  return flag;
}

}  // namespace

bool reference_mode() {
  return reference_flag().load(std::memory_order_relaxed);
}

void set_reference_mode(bool on) {
  reference_flag().store(on, std::memory_order_relaxed);
}

int sync_compute_threads() {
  const int threads = util::compute_threads();
#ifdef _OPENMP
  // omp_set_num_threads is cheap, but skip it when nothing changed: it writes the thread's ICV.
  if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
#endif
  return threads;
}

}  // namespace bertlite::kernels
