// util/threads.h - the one place that decides how many threads bertlite uses and runs them.
//
// No pool spins between calls: each parallel_for starts its workers and joins them, so an idle
// bertlite never burns the other cores.
#pragma once

#include <cstddef>
#include <functional>

namespace bertlite::util {

// Cores this process may run on: the affinity mask, further capped by a cgroup CPU quota
// (cgroup v2 cpu.max or v1 cfs_quota_us), never less than 1.
int available_cores();

// The most threads anyone may ask for: a larger --threads is a typo, not a machine.
inline constexpr int kMaxThreads = 4096;

// Turns a user's --threads value into a thread count: 0 means available_cores();
// a request above available_cores() is capped to it. Throws InvalidArgument for a negative
// count or one above kMaxThreads.
int resolve_threads(int requested);

// Calls body(begin, end) over [0, n) in chunks of at most `grain` items on up to `threads`
// threads. Chunks are handed out dynamically so uneven work still balances. The first
// exception thrown by any chunk is rethrown on the caller's thread after all workers stop.
void parallel_for(std::size_t n, std::size_t grain, int threads,
                  const std::function<void(std::size_t begin, std::size_t end)>& body);

// The thread count compute kernels (GEMM, layernorm, attention) use from now on: `requested`
// goes through resolve_threads, so 0 means all available cores. Returns the count set. The
// kernels layer reads it before each parallel region and hands it to OpenMP and oneDNN, so
// util itself needs no OpenMP.
int set_compute_threads(int requested);

// The count last set by set_compute_threads; available_cores() until the first call.
int compute_threads();

// The spin count front ends give the OpenMP runtime (libgomp, shared by oneDNN and bertlite's
// kernels) unless the user chose one. libgomp's default keeps a waiting thread spinning for about
// 300,000 iterations after every parallel region. On an idle machine that costs nothing, but
// while another process holds one of the cores, a spinning thread takes the core its partner
// needs: with the second core busy, MiniLM on 128-token inputs one at a time ran 8.3 s with the
// default and 2.7 s with 3,000 (1.2 s either way on an idle machine; 100 inputs, 2 threads).
inline constexpr const char* kOpenMpSpinCount = "3000";

// libgomp reads GOMP_SPINCOUNT once, as it loads, before main. So a front end calls this first
// thing in main: unless GOMP_SPINCOUNT or OMP_WAIT_POLICY is already set, it sets
// GOMP_SPINCOUNT=kOpenMpSpinCount and re-executes the program (/proc/self/exe) with the same
// arguments. It returns only when nothing needed doing or the re-execution failed (then the
// program simply runs with libgomp's default).
void reexec_with_openmp_spin_limit(char** argv);

}  // namespace bertlite::util
