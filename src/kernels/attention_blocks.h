// kernels/attention_blocks.h - the register-blocked pieces attention is built from, shared by
// inference (kernels/attention.cpp) and training (train/grad_kernels.cpp, forward and backward).
//
// Attention per (sequence, head) is a handful of small matrix products: L x HD by HD x L for
// the scores, L x L by L x HD for the output (and, in the backward, for dQ, dK and dV). With
// L ~ 20-60 and HD = 32 or 64 they are too small for a GEMM library call to pay, and written
// as plain loops they are dominated by horizontal sums and by reloading accumulators. Here a
// block of kRows rows against kCols columns is accumulated in kRows x kCols floats held in
// vector registers, so each loaded row vector feeds kRows multiply-adds.
//
// The blocks are written with GCC/Clang vector extensions (GCC's auto-vectorizer spills such
// blocks to the stack). V8 is 8 floats: one ymm register in the AVX2 and AVX-512 clones, two xmm
// in the baseline x86-64 clone. Every function is forced inline (BLOCKS_INLINE), so that it is
// compiled into the KERNEL_CLONES function that calls it, with that clone's instruction set:
// left to itself, GCC kept weighted_sum_rows and dot_rows out of line, compiled for baseline
// x86-64 and shared by every clone, which made SST-2 embedding 1.6x slower on a Zen 4.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/vec_math.h"

namespace bertlite::kernels::blocks {

typedef float V8 __attribute__((vector_size(32)));
#if defined(__GNUC__) && !defined(__clang__)
// GCC warns that passing V8 by value has a different ABI with and without AVX. Every function
// that does so is inline and used only inside one clone, so no call ever crosses that boundary.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#define BLOCKS_INLINE inline __attribute__((always_inline))

constexpr int64_t kRows = 4;
constexpr int64_t kCols = 16;  // two V8

constexpr int64_t round_up(int64_t n, int64_t m) {
  return (n + m - 1) / m * m;
}

BLOCKS_INLINE V8 load8(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
BLOCKS_INLINE void store8(float* p, const V8& v) {
  std::memcpy(p, &v, sizeof v);
}

// xt[d * Tp + j] = x[j * ldx + d] for j < T, and 0 for T <= j < Tp: the HD columns of T rows,
// transposed and zero-padded to Tp (a multiple of kCols).
BLOCKS_INLINE void transpose_padded(float* xt, const float* x, int64_t ldx, int64_t T, int64_t Tp,
                                    int64_t HD) {
  for (int64_t j = 0; j < T; ++j) {
    const float* xj = x + j * ldx;
    for (int64_t d = 0; d < HD; ++d) xt[d * Tp + j] = xj[d];
  }
  for (int64_t d = 0; d < HD; ++d) {
    for (int64_t j = T; j < Tp; ++j) xt[d * Tp + j] = 0.0f;
  }
}

// out[r][j0, j0 + kCols) = (a[r] . bt[:, j0, j0 + kCols)) * scale for the kRows rows a[r] (HD
// floats each) against the transposed bt [HD, Tp]: a block of A B^T, e.g. scores Q K^T.
BLOCKS_INLINE void dot_block(const float* const* a, const float* bt, int64_t Tp, int64_t j0,
                             int64_t HD, float scale, float* out) {
  V8 acc[kRows][2] = {};
  for (int64_t d = 0; d < HD; ++d) {
    const V8 b0 = load8(bt + d * Tp + j0), b1 = load8(bt + d * Tp + j0 + 8);
    for (int64_t r = 0; r < kRows; ++r) {
      const float ad = a[r][d];
      acc[r][0] += ad * b0;
      acc[r][1] += ad * b1;
    }
  }
  for (int64_t r = 0; r < kRows; ++r) {
    store8(out + r * Tp + j0, acc[r][0] * scale);
    store8(out + r * Tp + j0 + 8, acc[r][1] * scale);
  }
}

// dot_block over all Tp columns for the rows a[r * lda], r < rows, of a block starting at `a`.
// A short last block (rows < kRows) repeats its last row; those results are the caller's to
// drop.
BLOCKS_INLINE void dot_rows(const float* a, int64_t lda, int64_t rows, const float* bt, int64_t Tp,
                            int64_t HD, float scale, float* out) {
  const float* a_rows[kRows];
  for (int64_t r = 0; r < kRows; ++r) a_rows[r] = a + std::min(r, rows - 1) * lda;
  for (int64_t j0 = 0; j0 < Tp; j0 += kCols) dot_block(a_rows, bt, Tp, j0, HD, scale, out);
}

// A row_scale of ones, for weighted sums that need no per-row factor.
inline constexpr float kUnitRowScale[kRows] = {1.0f, 1.0f, 1.0f, 1.0f};

// out[r * ldo + d0, + kCols) = row_scale[r] * sum_{j < T} w[r * ldw + j] * x[j * ldx + d0, + kCols)
// for r < rows: a block of W X (probabilities times values). w must hold kRows readable rows;
// the results of rows >= `rows` are computed and dropped.
BLOCKS_INLINE void weighted_sum_block(const float* w, int64_t ldw, const float* x, int64_t ldx,
                                      int64_t T, const float* row_scale, float* out, int64_t ldo,
                                      int64_t rows, int64_t d0) {
  V8 acc[kRows][2] = {};
  for (int64_t j = 0; j < T; ++j) {
    const float* xj = x + j * ldx + d0;
    const V8 x0 = load8(xj), x1 = load8(xj + 8);
    for (int64_t r = 0; r < kRows; ++r) {
      const float wr = w[r * ldw + j];
      acc[r][0] += wr * x0;
      acc[r][1] += wr * x1;
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    float* o = out + r * ldo + d0;
    store8(o, acc[r][0] * row_scale[r]);
    store8(o + 8, acc[r][1] * row_scale[r]);
  }
}

// The same for columns [d0, HD) when HD is not a multiple of kCols: plain loops.
BLOCKS_INLINE void weighted_sum_tail(const float* w, int64_t ldw, const float* x, int64_t ldx,
                                     int64_t T, const float* row_scale, float* out, int64_t ldo,
                                     int64_t rows, int64_t d0, int64_t HD) {
  for (int64_t r = 0; r < rows; ++r) {
    float* o = out + r * ldo;
    for (int64_t d = d0; d < HD; ++d) o[d] = 0.0f;
    for (int64_t j = 0; j < T; ++j) {
      const float wr = w[r * ldw + j];
      const float* xj = x + j * ldx;
      for (int64_t d = d0; d < HD; ++d) o[d] += wr * xj[d];
    }
    for (int64_t d = d0; d < HD; ++d) o[d] *= row_scale[r];
  }
}

// Rows [i0, i0 + rows) of out = diag(row_scale) W X, all HD columns.
BLOCKS_INLINE void weighted_sum_rows(const float* w, int64_t ldw, const float* x, int64_t ldx,
                                     int64_t T, const float* row_scale, float* out, int64_t ldo,
                                     int64_t rows, int64_t HD) {
  int64_t d0 = 0;
  for (; d0 + kCols <= HD; d0 += kCols)
    weighted_sum_block(w, ldw, x, ldx, T, row_scale, out, ldo, rows, d0);
  if (d0 < HD) weighted_sum_tail(w, ldw, x, ldx, T, row_scale, out, ldo, rows, d0, HD);
}

// Numerically stable softmax of row[0, T) in place, over all Tp columns (a multiple of the
// vector width, so no scalar remainder loop runs; with SST-2's ~23 tokens it took most of the
// time): the padding columns get a score of -1e30, whose exponential is clamped to
// e^-87 ~ 1.6e-38, below the last bit of a sum that is >= 1. Leaves row[j] = e^(s_j - max) and
// returns 1 / sum, for the caller to apply.
BLOCKS_INLINE float softmax_unnormalized(float* row, int64_t T, int64_t Tp) {
  for (int64_t j = T; j < Tp; ++j) row[j] = -1e30f;
  float max_score = row[0];
#pragma omp simd reduction(max : max_score)
  for (int64_t j = 0; j < Tp; ++j) max_score = std::max(max_score, row[j]);
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < Tp; ++j) {
    row[j] = vec::exp(row[j] - max_score);
    sum += row[j];
  }
  return 1.0f / sum;  // sum >= 1: the maximum contributes e^0
}

}  // namespace bertlite::kernels::blocks
