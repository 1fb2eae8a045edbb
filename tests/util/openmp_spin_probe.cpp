// tests/util/openmp_spin_probe.cpp - a front end in miniature for the openmp_spin_* CTest tests:
// it calls util::reexec_with_openmp_spin_limit as bertlite's main does, then prints the
// GOMP_SPINCOUNT the (re-executed) process runs with, and how many times it started.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "util/threads.h"

int main(int, char** argv) {
  // Counts starts across the re-execution through the environment, which execv keeps.
  const char* previous = std::getenv("OPENMP_SPIN_PROBE_STARTS");
  const int starts = (previous != nullptr ? std::atoi(previous) : 0) + 1;
  setenv("OPENMP_SPIN_PROBE_STARTS", std::to_string(starts).c_str(), 1);
  bertlite::util::reexec_with_openmp_spin_limit(argv);
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  std::printf("GOMP_SPINCOUNT=%s starts=%d\n", spin != nullptr ? spin : "unset", starts);
  return 0;
}
