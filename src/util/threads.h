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

// Turns a user's --threads value into a thread count: 0 means available_cores();
// a request above available_cores() is capped to it.
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

}  // namespace bertlite::util
