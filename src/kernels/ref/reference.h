// kernels/ref/reference.h - the slow, obviously-correct twin of every fast kernel.
//
// Same argument order and meaning as the fast versions. Straight loops, one thread, double
// accumulation, std:: math in double. They serve as the oracle in tests/kernels and as the path
// every kernel takes when kernels::reference_mode() is on (BERTLITE_REFERENCE_KERNELS=1).
// Arguments are not re-checked here: the public kernels check them before dispatching.
//
// Shapes: M rows, K input features, N output features, C channels (feature width), T tokens of
// one sequence, NH heads, HD dims per head, n elements.
#pragma once

#include <cstdint>

#include "kernels/activations.h"
#include "kernels/linear.h"

namespace bertlite::kernels {

// sums[M, N] = codes[M, K] W[N, K]^T in int64: what int8_gemm_sums computes.
void int8_gemm_sums_reference(std::int64_t* sums,         // [M, N]
                              const std::uint8_t* codes,  // [M, K]
                              const std::int8_t* weight,  // [N, K]
                              int64_t M, int64_t K, int64_t N);

// y[M, N] = act(x[M, K] W[N, K]^T + b[N]) (+ y if epilogue.accumulate); sums in double.
void linear_reference(float* y,             // [M, N]
                      const float* x,       // [M, K]
                      const float* weight,  // [N, K]
                      const float* bias,    // [N] or null
                      int64_t M, int64_t K, int64_t N, LinearEpilogue epilogue);

// out = LayerNorm(in + residual) with biased variance, all in double. mean, rstd (1/sqrt(var
// + eps)) and xhat ((x - mean) * rstd) are written when non-null.
void layernorm_reference(float* out,             // [M, C]
                         float* mean,            // [M] or null
                         float* rstd,            // [M] or null
                         const float* in,        // [M, C]
                         const float* residual,  // [M, C] or null
                         const float* gamma,     // [C]
                         const float* beta,      // [C]
                         int64_t M, int64_t C, float eps,
                         float* xhat = nullptr);  // [M, C] or null

void gelu_reference(float* inout,  // [n]
                    int64_t n, GeluKind kind);

void tanh_reference(float* inout,  // [n]
                    int64_t n);

// One sequence, heads side by side in each row: head h of token t is q[t * ldq + h * HD ...].
// out = softmax(q k^T * scale) v per head, softmax in double.
void attention_reference(float* out, int64_t ldo,      // [T, >= NH * HD]
                         const float* q, int64_t ldq,  // [T, >= NH * HD]
                         const float* k, int64_t ldk,  // [T, >= NH * HD]
                         const float* v, int64_t ldv,  // [T, >= NH * HD]
                         int64_t T, int64_t NH, int64_t HD, float scale);

// out[m] = in[m] / max(||in[m]||_2, eps).
void l2_normalize_rows_reference(float* out,       // [M, C]
                                 const float* in,  // [M, C]
                                 int64_t M, int64_t C, float eps);

// out[C] = mean over the T rows of in[T, C].
void mean_pool_reference(float* out,       // [C]
                         const float* in,  // [T, C]
                         int64_t T, int64_t C);

// C[M, N] = alpha * op(A) op(B) + beta * C over row-major matrices, as kernels::gemm; sums in
// double. beta == 0 ignores C's old contents.
void gemm_reference(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K,
                    float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                    float beta, float* C, int64_t ldc);

}  // namespace bertlite::kernels
