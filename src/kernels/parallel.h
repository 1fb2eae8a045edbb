// kernels/parallel.h - how kernels split work across threads (internal to the kernels layer).
//
// OpenMP rather than util::parallel_for: oneDNN here runs on OpenMP too, so GEMMs and our own
// loops share one pool of already-started threads instead of creating threads per call.
#pragma once

#include <algorithm>
#include <cstdint>

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

}  // namespace bertlite::kernels::detail
