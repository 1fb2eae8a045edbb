#include "util/threads.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bertlite/error.h"

namespace bertlite::util {
namespace {

// CPU quota from the cgroup this process lives in, as a (possibly fractional) core count;
// 0 when there is no limit or it cannot be read.
double cgroup_cpu_limit() {
  // cgroup v2: "max 100000" or "<quota> <period>".
  if (std::ifstream v2("/sys/fs/cgroup/cpu.max"); v2) {
    std::string quota;
    double period = 0;
    if (v2 >> quota >> period && quota != "max" && period > 0) return std::stod(quota) / period;
    return 0;
  }
  // cgroup v1: quota -1 means unlimited.
  std::ifstream quota_file("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
  std::ifstream period_file("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  double quota = 0, period = 0;
  if (quota_file >> quota && period_file >> period && quota > 0 && period > 0) {
    return quota / period;
  }
  return 0;
}

}  // namespace

int available_cores() {
  int cores = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cores = CPU_COUNT(&set);
  if (cores <= 0) cores = static_cast<int>(std::thread::hardware_concurrency());
  if (double limit = cgroup_cpu_limit(); limit > 0) {
    cores = std::min(cores, static_cast<int>(std::ceil(limit)));
  }
  return std::max(cores, 1);
}

int resolve_threads(int requested) {
  if (requested < 0 || requested > kMaxThreads) {
    throw InvalidArgument("threads: " + std::to_string(requested) +
                          " is not a thread count (0 = all available cores, at most " +
                          std::to_string(kMaxThreads) + ")");
  }
  const int cores = available_cores();
  if (requested == 0) return cores;
  return std::min(requested, cores);
}

namespace {
// 0 until set_compute_threads is called; read on every kernel call, so an atomic.
std::atomic<int> g_compute_threads{0};
}  // namespace

int set_compute_threads(int requested) {
  const int threads = resolve_threads(requested);
  g_compute_threads.store(threads, std::memory_order_relaxed);
  return threads;
}

int compute_threads() {
  const int threads = g_compute_threads.load(std::memory_order_relaxed);
  if (threads > 0) return threads;
  // First use: settle on all available cores once, so later calls do not re-read cgroup files.
  int expected = 0;
  const int cores = available_cores();
  g_compute_threads.compare_exchange_strong(expected, cores, std::memory_order_relaxed);
  return g_compute_threads.load(std::memory_order_relaxed);
}

void parallel_for(std::size_t n, std::size_t grain, int threads,
                  const std::function<void(std::size_t, std::size_t)>& body) {
  if (n == 0) return;
  grain = std::max<std::size_t>(grain, 1);
  const std::size_t chunks = (n + grain - 1) / grain;
  const int workers = static_cast<int>(std::min<std::size_t>(std::max(threads, 1), chunks));
  if (workers == 1) {
    body(0, n);
    return;
  }
  std::atomic<std::size_t> next_chunk{0};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto work = [&] {
    try {
      for (std::size_t c = next_chunk++; c < chunks; c = next_chunk++) {
        body(c * grain, std::min(n, (c + 1) * grain));
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
      next_chunk = chunks;  // stop handing out work
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (int t = 1; t < workers; ++t) pool.emplace_back(work);
  work();  // the calling thread is worker 0
  for (auto& thread : pool) thread.join();
  if (first_error) std::rethrow_exception(first_error);
}

void reexec_with_openmp_spin_limit(char** argv) {
  if (std::getenv("GOMP_SPINCOUNT") != nullptr || std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (setenv("GOMP_SPINCOUNT", kOpenMpSpinCount, 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("GOMP_SPINCOUNT");  // execv failed: run on as we are, and say nothing to children
}

}  // namespace bertlite::util
