// kernels/held_signals.h - keeps signal handlers off the threads of a oneDNN GEMM while it runs.
//
// oneDNN's AVX and AVX-512 sgemm kernels (x64:gemm:jit, which dnnl_sgemm and a matmul with an
// open M run on) point rsp into a heap buffer while they compute (oneDNN issue 4845, fixed in
// 3.11.1; Debian 12 ships 2.6.3). A signal that is handled on a thread inside one of them has its
// frame written over that heap: measured here, a no-op SIGINT handler and a signal every 2 ms
// aborted 3 runs of 4 with "corrupted size vs. prev_size" or a segfault, and Ctrl-C in Python
// (which handles SIGINT) crashed 24 embeds of 60. A signal left at its default action never runs
// on the thread, so the CLI was never at risk; Python, Ray workers and profilers are.
//
// While a HeldSignals lives, the calling thread and its OpenMP workers keep asynchronous signals
// pending; they are delivered when it goes away, between GEMMs, so a handler is late by one
// GEMM (milliseconds) and never lost. Synchronous faults (SIGSEGV, SIGBUS, ...) are not held.
//
//   {
//     HeldSignals held;
//     dnnl_sgemm(...);
//   }  // a Ctrl-C that came meanwhile reaches Python's handler here
#pragma once

#include <csignal>

namespace bertlite::kernels {

class HeldSignals {
 public:
  HeldSignals();
  ~HeldSignals();
  HeldSignals(const HeldSignals&) = delete;
  HeldSignals& operator=(const HeldSignals&) = delete;

 private:
  sigset_t previous_;
};

}  // namespace bertlite::kernels
