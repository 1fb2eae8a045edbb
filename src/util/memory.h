// util/memory.h - the process's peak resident memory, for the reports of long runs.
#pragma once

#include <sys/resource.h>

#include <cstdint>

namespace bertlite::util {

// Peak resident set size of this process so far, in bytes (getrusage; Linux counts KiB).
inline std::int64_t peak_rss_bytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;
}

}  // namespace bertlite::util
