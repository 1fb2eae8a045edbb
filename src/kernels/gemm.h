// kernels/gemm.h - a plain float GEMM on row-major matrices, for weights that change every step.
//
// Linear (linear.h) prepacks its weight once at load, which pays when the weight never changes.
// Training updates every weight after each step, so its forward and backward GEMMs call this
// instead: oneDNN's sgemm reads the operands where they are, with either one transposed.
//
//   C[M, N] = alpha * op(A) op(B) + beta * C,   op(X) = X or X^T
//
// With W[N, K] stored as nn.Linear stores it, a Linear's three GEMMs are
//   forward  y  = x W^T        gemm(false, true,  M, N, K, 1, x, K, W, K, 0, y, N)
//   input    dx = dy W         gemm(false, false, M, K, N, 1, dy, N, W, K, 0, dx, K)
//   weight   dW += dy^T x      gemm(true,  false, N, K, M, 1, dy, N, x, K, 1, dW, K)
#pragma once

#include <cstdint>

namespace bertlite::kernels {

// lda, ldb, ldc are row strides in floats (of the matrices as stored, before op). beta == 0
// ignores C's old contents (NaN included). M, N or K == 0 is allowed: C is then scaled by beta
// (K == 0) or untouched. Throws bertlite::Error if oneDNN rejects the call.
void gemm(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, float alpha,
          const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
          int64_t ldc);

}  // namespace bertlite::kernels
