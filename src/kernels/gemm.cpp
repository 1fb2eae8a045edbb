// kernels/gemm.cpp - see gemm.h. With kernels::reference_mode() on, runs gemm_reference.
#include "kernels/gemm.h"

#include <oneapi/dnnl/dnnl.h>

#include <string>

#include "bertlite/error.h"
#include "kernels/dispatch.h"
#include "kernels/held_signals.h"
#include "kernels/ref/reference.h"

namespace bertlite::kernels {

void gemm(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, float alpha,
          const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
          int64_t ldc) {
  if (M < 0 || N < 0 || K < 0) throw InvalidArgument("gemm: negative dimension");
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t n = 0; n < N; ++n) C[m * ldc + n] = beta == 0 ? 0.0f : beta * C[m * ldc + n];
    }
    return;
  }
  if (reference_mode()) {
    gemm_reference(transpose_a, transpose_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  sync_compute_threads();  // oneDNN's sgemm runs on this thread's OpenMP team
  const HeldSignals held;  // its AVX kernels move rsp into the heap: see held_signals.h
  const dnnl_status_t status = dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', M, N, K,
                                          alpha, A, lda, B, ldb, beta, C, ldc);
  if (status != dnnl_success) {
    throw Error("gemm: oneDNN's sgemm failed (status " + std::to_string(status) + ") for M=" +
                std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K));
  }
}

}  // namespace bertlite::kernels
