// kernels/parallel.h - how kernels split work across threads (internal to the kernels layer).
//
// OpenMP rather than util::parallel_for: oneDNN here runs on OpenMP too, so GEMMs and our own
// loops share one pool of already-started threads instead of creating threads per call.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/dispatch.h"

namespace bertlite::kernels::detail {

// Calls body(begin, end) over [0, n) in chunks of `grain` items, on util::compute_threads()
// threads. body must not throw: an exception cannot leave an OpenMP region, so kernels check
// their arguments before they get here.
template <class Body>
void parallel_chunks(int64_t n, int64_t grain, const Body& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = (n + grain - 1) / grain;
  const int threads = static_cast<int>(std::min<int64_t>(sync_compute_threads(), chunks));
  if (threads <= 1) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t c = 0; c < chunks; ++c) body(c * grain, std::min(n, (c + 1) * grain));
}

// Runs body(task, scratch) for task in [0, tasks) on the compute threads, one task at a time per
// thread (tasks of uneven size: attention's (sequence, head) pairs), each thread with its own
// `scratch_floats` floats. The scratch is allocated here, before the parallel region, because an
// allocation failure must not be thrown inside it.
template <class Body>
void parallel_tasks(int64_t tasks, int64_t scratch_floats, const Body& body) {
  if (tasks <= 0) return;
  const int threads = static_cast<int>(std::min<int64_t>(sync_compute_threads(), tasks));
  const int64_t per_thread = std::max<int64_t>(scratch_floats, 1);
  std::vector<float> scratch(static_cast<size_t>(per_thread * std::max(threads, 1)));
  if (threads <= 1) {
    for (int64_t task = 0; task < tasks; ++task) body(task, scratch.data());
    return;
  }
#pragma omp parallel num_threads(threads)
  {
#ifdef _OPENMP
    const int thread = omp_get_thread_num();
#else
    const int thread = 0;
#endif
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; ++task) body(task, scratch.data() + thread * per_thread);
  }
}

}  // namespace bertlite::kernels::detail
