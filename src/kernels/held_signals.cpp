// kernels/held_signals.cpp - see held_signals.h.
#include "kernels/held_signals.h"

#include <pthread.h>

#include <initializer_list>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace bertlite::kernels {
namespace {

// Every signal except those a fault raises on the faulting thread itself (holding those is
// undefined behaviour) and abort's. glibc keeps its own internal signals out of any mask.
sigset_t asynchronous_signals() {
  sigset_t set;
  sigfillset(&set);
  for (const int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT}) {
    sigdelset(&set, fault);
  }
  return set;
}

const sigset_t& held_set() {
  static const sigset_t set = asynchronous_signals();
  return set;
}

#ifdef _OPENMP
// How many threads of this thread's OpenMP team (itself included) already hold signals for good.
// libgomp keeps a pool of workers per calling thread and reuses them in order, so a team no
// larger than this needs nothing more.
thread_local int team_holding = 1;
#endif

}  // namespace

HeldSignals::HeldSignals() {
  pthread_sigmask(SIG_BLOCK, &held_set(), &previous_);
#ifdef _OPENMP
  // The workers never need a signal: they hold them from now on, which costs one parallel region
  // per thread and team size instead of two system calls per worker per GEMM.
  const int team = omp_get_max_threads();
  if (team > team_holding && !omp_in_parallel()) {
#pragma omp parallel num_threads(team)
    {
      if (omp_get_thread_num() != 0) pthread_sigmask(SIG_BLOCK, &held_set(), nullptr);
    }
    team_holding = team;
  }
#endif
}

HeldSignals::~HeldSignals() {
  pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

}  // namespace bertlite::kernels
