// train/grad_kernels.cpp - fast backward kernels: rows, columns or (sequence, head) pairs in
// parallel on OpenMP, as the forward kernels in kernels/ split their work, with vectorizable
// inner loops. Reductions that cross rows (parameter gradients) are split by column, never by
// row, so every sum runs in one fixed order: results do not depend on the thread count.
#include "train/grad_kernels.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>
#include <vector>

#include "bertlite/error.h"
#include "kernels/attention_blocks.h"
#include "kernels/dispatch.h"
#include "kernels/kernel_clones.h"
#include "kernels/layernorm.h"
#include "kernels/parallel.h"
#include "kernels/vec_math.h"
#include "train/ref/grad_reference.h"

namespace bertlite::train {
namespace {

using kernels::detail::parallel_chunks;
using kernels::detail::parallel_tasks;
namespace vec = kernels::vec;

// Work per parallel chunk, as in kernels/: rows of a few hundred floats, elementwise spans,
// and column slices of a reduction over rows (its per-chunk partial sums live on the stack).
constexpr int64_t kRowGrain = 16;
constexpr int64_t kGrain = 16384;
constexpr int64_t kColGrain = 64;

void require(bool ok, const char* kernel, const std::string& what) {
  if (!ok) throw InvalidArgument(std::string(kernel) + ": " + what);
}

void check_count(const char* kernel, const char* name, int64_t n, int64_t min = 0) {
  require(n >= min, kernel,
          std::string(name) + " must be >= " + std::to_string(min) + ", got " + std::to_string(n));
}

// Sequence offsets: starts[0] >= 0 and non-decreasing.
void check_starts(const char* kernel, const int64_t* starts, int64_t B) {
  check_count(kernel, "B", B);
  if (B == 0) return;
  require(starts != nullptr, kernel, "null starts");
  require(starts[0] >= 0, kernel, "starts[0] < 0");
  for (int64_t b = 0; b < B; ++b) {
    require(starts[b + 1] >= starts[b], kernel,
            "starts decreases at index " + std::to_string(b + 1));
  }
}

void check_dropout_p(const char* kernel, float p) {
  require(p >= 0.0f && p < 1.0f, kernel, "dropout p must be in [0, 1), got " + std::to_string(p));
}

// ---- LayerNorm ----

// dgamma[c0, c1) += sum_m dy * xhat, dbeta[c0, c1) += sum_m dy, summed in double, at most
// kColGrain columns at a time (parallel_chunks hands a single thread the whole range).
KERNEL_CLONES void layernorm_param_block(float* dgamma, float* dbeta, const float* dy,
                                         const float* xhat, int64_t M, int64_t C, int64_t c0,
                                         int64_t w) {
  double sg[kColGrain] = {}, sb[kColGrain] = {};
  for (int64_t m = 0; m < M; ++m) {
    const float* g = dy + m * C + c0;
    const float* n = xhat + m * C + c0;
#pragma omp simd
    for (int64_t c = 0; c < w; ++c) {
      sg[c] += double(g[c]) * n[c];
      sb[c] += g[c];
    }
  }
  for (int64_t c = 0; c < w; ++c) {
    dgamma[c0 + c] = static_cast<float>(dgamma[c0 + c] + sg[c]);
    dbeta[c0 + c] = static_cast<float>(dbeta[c0 + c] + sb[c]);
  }
}

void layernorm_param_columns(float* dgamma, float* dbeta, const float* dy, const float* xhat,
                             int64_t M, int64_t C, int64_t c0, int64_t c1) {
  for (int64_t c = c0; c < c1; c += kColGrain) {
    layernorm_param_block(dgamma, dbeta, dy, xhat, M, C, c, std::min(kColGrain, c1 - c));
  }
}

KERNEL_CLONES void layernorm_dx_rows(float* dx, const float* dy, const float* xhat,
                                     const float* rstd, const float* gamma, int64_t row_begin,
                                     int64_t row_end, int64_t C) {
  const float inv_c = 1.0f / static_cast<float>(C);
  for (int64_t m = row_begin; m < row_end; ++m) {
    const float* g = dy + m * C;
    const float* n = xhat + m * C;
    float* d = dx + m * C;
    float sum_g = 0, sum_gx = 0;
#pragma omp simd reduction(+ : sum_g, sum_gx)
    for (int64_t c = 0; c < C; ++c) {
      const float gc = g[c] * gamma[c];
      sum_g += gc;
      sum_gx += gc * n[c];
    }
    const float mean_g = sum_g * inv_c, mean_gx = sum_gx * inv_c, r = rstd[m];
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) d[c] = r * (g[c] * gamma[c] - mean_g - n[c] * mean_gx);
  }
}

// ---- Activations ----

KERNEL_CLONES void gelu_erf_backward_span(float* dx, const float* dy, const float* h, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float x = h[i];
    // Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi).
    const float d = 0.5f * (1.0f + vec::erf(x * 0.70710678118654752f)) +
                    x * 0.39894228040143268f * vec::exp(-0.5f * x * x);
    dx[i] = dy[i] * d;
  }
}

KERNEL_CLONES void gelu_tanh_backward_span(float* dx, const float* dy, const float* h, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float x = h[i];
    // With s = sigmoid(2u) = (1 + tanh u) / 2: d/dx 0.5 x (1 + tanh u) = s + 2 x s (1 - s) u',
    // which has no 1 + tanh(u) cancellation for negative x.
    const float k = 0.79788456080286536f;
    const float u = k * (x + 0.044715f * x * x * x);
    const float du = k * (1.0f + 3.0f * 0.044715f * x * x);
    const float s = 1.0f / (1.0f + vec::exp(-2.0f * u));
    dx[i] = dy[i] * (s + 2.0f * x * s * (1.0f - s) * du);
  }
}

KERNEL_CLONES void tanh_backward_span(float* dx, const float* dy, const float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

KERNEL_CLONES void relu_backward_span(float* dx, const float* dy, const float* h, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dx[i] = h[i] > 0.0f ? dy[i] : 0.0f;
}

void check_elementwise(const char* kernel, float* dx, const float* dy, const float* other,
                       int64_t n) {
  check_count(kernel, "n", n);
  require(n == 0 || (dx != nullptr && dy != nullptr && other != nullptr), kernel, "null buffer");
}

// ---- Dropout, bias, embeddings ----

KERNEL_CLONES void dropout_apply_span(float* x, const uint8_t* mask, int64_t n, float keep_scale) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] = mask[i] != 0 ? x[i] * keep_scale : 0.0f;
}

// dbias[c0, c0 + w) += column sums of dy, w <= kColGrain, in double.
KERNEL_CLONES void bias_block(float* dbias, const float* dy, int64_t M, int64_t N, int64_t c0,
                              int64_t w) {
  double acc[kColGrain] = {};
  for (int64_t m = 0; m < M; ++m) {
    const float* g = dy + m * N + c0;
#pragma omp simd
    for (int64_t c = 0; c < w; ++c) acc[c] += g[c];
  }
  for (int64_t c = 0; c < w; ++c) dbias[c0 + c] = static_cast<float>(dbias[c0 + c] + acc[c]);
}

void bias_columns(float* dbias, const float* dy, int64_t M, int64_t N, int64_t c0, int64_t c1) {
  for (int64_t c = c0; c < c1; c += kColGrain)
    bias_block(dbias, dy, M, N, c, std::min(kColGrain, c1 - c));
}

// Every token's columns [c0, c1), in token order: a column slice belongs to one thread, so
// repeated ids need no atomics and the sums run in the same order on any thread count.
KERNEL_CLONES void embedding_columns(float* dtable, const int32_t* ids, const float* dx, int64_t T,
                                     int64_t H, int64_t c0, int64_t c1) {
  for (int64_t t = 0; t < T; ++t) {
    float* row = dtable + int64_t(ids[t]) * H;
    const float* g = dx + t * H;
#pragma omp simd
    for (int64_t c = c0; c < c1; ++c) row[c] += g[c];
  }
}

// ---- Attention ----

// Where each sequence's probabilities start in probs: offsets[b] = NH * sum_{b' < b} L^2.
std::vector<int64_t> prob_offsets(const int64_t* starts, int64_t B, int64_t NH) {
  std::vector<int64_t> offsets(static_cast<size_t>(B + 1), 0);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t L = starts[b + 1] - starts[b];
    offsets[b + 1] = offsets[b] + NH * L * L;
  }
  return offsets;
}

// One (sequence, head): qkv, out already offset to the sequence's first row and the head's
// columns; P, mask to its L x L block.
struct HeadView {
  const float* q;
  const float* k;
  const float* v;
  int64_t ld;  // row stride of q, k, v (3H)
  int64_t L;
  const uint8_t* mask;  // or null
};

// Attention is built from kernels/attention_blocks.h's register-blocked pieces, as inference is.
using kernels::blocks::kCols;
using kernels::blocks::kRows;
using kernels::blocks::round_up;

// Scratch floats per thread for a sequence of up to max_L tokens and head width HD.
int64_t forward_scratch_floats(int64_t max_L, int64_t HD) {
  const int64_t Lp = round_up(max_L, kCols);
  return HD * Lp + kRows * Lp;  // K^T, and one block of scores
}
int64_t backward_scratch_floats(int64_t max_L, int64_t HD) {
  const int64_t Lp = round_up(max_L, kCols), Lr = round_up(max_L, kRows);
  return HD * Lp + kRows * Lp + 3 * Lr * Lp;  // V^T, a block of dP, dS, dS^T, dropped P^T
}

// out = dropout(P) V with P = softmax(Q K^T * scale) saved in P (L x L, before dropout).
KERNEL_CLONES void attend_head_train(const HeadView& s, float* out, int64_t ldo, float* P,
                                     int64_t HD, float scale, float keep_scale, float* scratch) {
  const int64_t L = s.L, Lp = round_up(L, kCols);
  float* kt = scratch;
  float* block = scratch + HD * Lp;  // kRows rows of scores, then of dropped probabilities
  kernels::blocks::transpose_padded(kt, s.k, s.ld, L, Lp, HD);
  for (int64_t i0 = 0; i0 < L; i0 += kRows) {
    const int64_t rows = std::min(kRows, L - i0);
    kernels::blocks::dot_rows(s.q + i0 * s.ld, s.ld, rows, kt, Lp, HD, scale, block);
    for (int64_t r = 0; r < rows; ++r) {
      float* row = block + r * Lp;
      const float inv_sum = kernels::blocks::softmax_unnormalized(row, L, Lp);
      float* p = P + (i0 + r) * L;
      const uint8_t* mask = s.mask != nullptr ? s.mask + (i0 + r) * L : nullptr;
#pragma omp simd
      for (int64_t j = 0; j < L; ++j) p[j] = row[j] * inv_sum;
      if (mask == nullptr) {
#pragma omp simd
        for (int64_t j = 0; j < L; ++j) row[j] = p[j];
      } else {
#pragma omp simd
        for (int64_t j = 0; j < L; ++j) row[j] = mask[j] != 0 ? p[j] * keep_scale : 0.0f;
      }
    }
    kernels::blocks::weighted_sum_rows(block, Lp, s.v, s.ld, L, kernels::blocks::kUnitRowScale,
                                       out + i0 * ldo, ldo, rows, HD);
  }
}

// dq, dk, dv: this head's columns of the sequence's rows in dqkv (overwritten); g = dout rows.
// With W = dropout(P): dV = W^T G; dW = G V^T, dP = dropout's backward of dW; dS = P * (dP -
// rowsum(dP * P)); dQ = scale dS K; dK = scale dS^T Q. dS, dS^T and W^T are written out once
// (L x L each), so that each of the three products is a register-blocked W X over rows.
KERNEL_CLONES void attend_head_backward(const HeadView& s, float* dq, float* dk, float* dv,
                                        const float* g, int64_t ldg, const float* P, int64_t HD,
                                        float scale, float keep_scale, float* scratch) {
  const int64_t L = s.L, Lp = round_up(L, kCols), Lr = round_up(L, kRows);
  float* vt = scratch;             // [HD, Lp]
  float* block = vt + HD * Lp;     // [kRows, Lp]: dP of a block of rows
  float* ds = block + kRows * Lp;  // [Lr, Lp]: scale * dS, rows i
  float* dst = ds + Lr * Lp;       // [Lr, Lp]: scale * dS^T, rows j
  float* wt = dst + Lr * Lp;       // [Lr, Lp]: W^T, rows j
  kernels::blocks::transpose_padded(vt, s.v, s.ld, L, Lp, HD);
  for (int64_t i0 = 0; i0 < L; i0 += kRows) {
    const int64_t rows = std::min(kRows, L - i0);
    kernels::blocks::dot_rows(g + i0 * ldg, ldg, rows, vt, Lp, HD, 1.0f, block);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = i0 + r;
      float* dp = block + r * Lp;
      const float* p = P + i * L;
      const uint8_t* mask = s.mask != nullptr ? s.mask + i * L : nullptr;
      if (mask != nullptr) {
#pragma omp simd
        for (int64_t j = 0; j < L; ++j) dp[j] = mask[j] != 0 ? dp[j] * keep_scale : 0.0f;
      }
      float row = 0;
#pragma omp simd reduction(+ : row)
      for (int64_t j = 0; j < L; ++j) row += dp[j] * p[j];
      float* dsi = ds + i * Lp;
#pragma omp simd
      for (int64_t j = 0; j < L; ++j) dsi[j] = p[j] * (dp[j] - row) * scale;
      for (int64_t j = 0; j < L; ++j) {
        dst[j * Lp + i] = dsi[j];
        wt[j * Lp + i] = mask == nullptr ? p[j] : (mask[j] != 0 ? p[j] * keep_scale : 0.0f);
      }
    }
  }
  // The padding rows L..Lr are read by the last block (their results are dropped): zeros.
  for (float* m : {ds, dst, wt}) std::fill(m + L * Lp, m + Lr * Lp, 0.0f);
  const float* ones = kernels::blocks::kUnitRowScale;
  for (int64_t i0 = 0; i0 < L; i0 += kRows) {
    const int64_t rows = std::min(kRows, L - i0);
    using kernels::blocks::weighted_sum_rows;
    weighted_sum_rows(ds + i0 * Lp, Lp, s.k, s.ld, L, ones, dq + i0 * s.ld, s.ld, rows, HD);
    weighted_sum_rows(dst + i0 * Lp, Lp, s.q, s.ld, L, ones, dk + i0 * s.ld, s.ld, rows, HD);
    weighted_sum_rows(wt + i0 * Lp, Lp, g, ldg, L, ones, dv + i0 * s.ld, s.ld, rows, HD);
  }
}

void check_attention(const char* kernel, const int64_t* starts, int64_t B, int64_t NH, int64_t HD,
                     const uint8_t* prob_mask, float dropout_p) {
  check_count(kernel, "NH", NH, 1);
  check_count(kernel, "HD", HD, 1);
  check_starts(kernel, starts, B);
  if (prob_mask != nullptr) check_dropout_p(kernel, dropout_p);
}

// ---- Pooling ----

KERNEL_CLONES void mean_pool_rows(float* out, const float* x, int64_t L, int64_t H) {
  for (int64_t c = 0; c < H; ++c) out[c] = 0.0f;
  for (int64_t t = 0; t < L; ++t) {
    const float* r = x + t * H;
#pragma omp simd
    for (int64_t c = 0; c < H; ++c) out[c] += r[c];
  }
  const float inv = L > 0 ? 1.0f / static_cast<float>(L) : 0.0f;
#pragma omp simd
  for (int64_t c = 0; c < H; ++c) out[c] *= inv;
}

KERNEL_CLONES void mean_pool_backward_rows(float* dx, const float* dpooled, int64_t L, int64_t H) {
  const float inv = 1.0f / static_cast<float>(L);
  for (int64_t t = 0; t < L; ++t) {
    float* r = dx + t * H;
#pragma omp simd
    for (int64_t c = 0; c < H; ++c) r[c] += dpooled[c] * inv;
  }
}

void check_pool(const char* kernel, const void* dst, const void* src, const int64_t* starts,
                int64_t B, int64_t H) {
  check_count(kernel, "H", H);
  check_starts(kernel, starts, B);
  require(B == 0 || H == 0 || (dst != nullptr && src != nullptr), kernel, "null buffer");
}

}  // namespace

void layernorm_forward_train(float* out, float* xhat, float* rstd, const float* in,
                             const float* residual, const float* gamma, const float* beta,
                             int64_t M, int64_t C, float eps) {
  const char* kernel = "layernorm_forward_train";
  check_count(kernel, "M", M);
  check_count(kernel, "C", C, 1);
  require(eps >= 0.0f, kernel, "eps must be >= 0");
  if (M == 0) return;
  require(out != nullptr && xhat != nullptr && rstd != nullptr && in != nullptr &&
              gamma != nullptr && beta != nullptr,
          kernel, "null out, xhat, rstd, in, gamma or beta");
  // The inference kernel itself (and its double twin in reference mode), so training normalizes
  // exactly as the encoder does.
  kernels::layernorm_forward(out, nullptr, rstd, in, residual, gamma, beta, M, C, eps, xhat);
}

void layernorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* xhat,
                        const float* rstd, const float* gamma, int64_t M, int64_t C) {
  const char* kernel = "layernorm_backward";
  check_count(kernel, "M", M);
  check_count(kernel, "C", C, 1);
  if (M == 0) return;
  require(dx != nullptr && dgamma != nullptr && dbeta != nullptr && dy != nullptr &&
              xhat != nullptr && rstd != nullptr && gamma != nullptr,
          kernel, "null buffer");
  if (kernels::reference_mode()) {
    return ref::layernorm_backward(dx, dgamma, dbeta, dy, xhat, rstd, gamma, M, C);
  }
  // Parameter gradients first, by column: dx may alias dy.
  parallel_chunks(C, kColGrain, [&](int64_t c0, int64_t c1) {
    layernorm_param_columns(dgamma, dbeta, dy, xhat, M, C, c0, c1);
  });
  parallel_chunks(M, kRowGrain, [&](int64_t begin, int64_t end) {
    layernorm_dx_rows(dx, dy, xhat, rstd, gamma, begin, end, C);
  });
}

void gelu_backward(float* dx, const float* dy, const float* h, int64_t n, kernels::GeluKind kind) {
  check_elementwise("gelu_backward", dx, dy, h, n);
  if (kernels::reference_mode()) return ref::gelu_backward(dx, dy, h, n, kind);
  auto* span = kind == kernels::GeluKind::kErf ? &gelu_erf_backward_span : &gelu_tanh_backward_span;
  parallel_chunks(n, kGrain, [&](int64_t begin, int64_t end) {
    span(dx + begin, dy + begin, h + begin, end - begin);
  });
}

void tanh_backward(float* dx, const float* dy, const float* y, int64_t n) {
  check_elementwise("tanh_backward", dx, dy, y, n);
  if (kernels::reference_mode()) return ref::tanh_backward(dx, dy, y, n);
  parallel_chunks(n, kGrain, [&](int64_t begin, int64_t end) {
    tanh_backward_span(dx + begin, dy + begin, y + begin, end - begin);
  });
}

void relu_backward(float* dx, const float* dy, const float* h, int64_t n) {
  check_elementwise("relu_backward", dx, dy, h, n);
  if (kernels::reference_mode()) return ref::relu_backward(dx, dy, h, n);
  parallel_chunks(n, kGrain, [&](int64_t begin, int64_t end) {
    relu_backward_span(dx + begin, dy + begin, h + begin, end - begin);
  });
}

void dropout_mask(uint8_t* mask, int64_t n, float p, uint64_t seed) {
  check_count("dropout_mask", "n", n);
  check_dropout_p("dropout_mask", p);
  require(n == 0 || mask != nullptr, "dropout_mask", "null mask");
  if (kernels::reference_mode()) return ref::dropout_mask(mask, n, p, seed);
  parallel_chunks(n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) mask[i] = ref::dropout_keep(seed, i, p) ? 1 : 0;
  });
}

void dropout_apply(float* x, const uint8_t* mask, int64_t n, float p) {
  check_count("dropout_apply", "n", n);
  check_dropout_p("dropout_apply", p);
  require(n == 0 || (x != nullptr && mask != nullptr), "dropout_apply", "null x or mask");
  if (kernels::reference_mode()) return ref::dropout_apply(x, mask, n, p);
  const float keep_scale = static_cast<float>(1.0 / (1.0 - double(p)));
  parallel_chunks(n, kGrain, [&](int64_t begin, int64_t end) {
    dropout_apply_span(x + begin, mask + begin, end - begin, keep_scale);
  });
}

void bias_backward(float* dbias, const float* dy, int64_t M, int64_t N) {
  check_count("bias_backward", "M", M);
  check_count("bias_backward", "N", N);
  if (M == 0 || N == 0) return;
  require(dbias != nullptr && dy != nullptr, "bias_backward", "null dbias or dy");
  if (kernels::reference_mode()) return ref::bias_backward(dbias, dy, M, N);
  parallel_chunks(N, kColGrain,
                  [&](int64_t c0, int64_t c1) { bias_columns(dbias, dy, M, N, c0, c1); });
}

void embedding_backward(float* dtable, const int32_t* ids, const float* dx, int64_t T, int64_t H) {
  check_count("embedding_backward", "T", T);
  check_count("embedding_backward", "H", H);
  if (T == 0 || H == 0) return;
  require(dtable != nullptr && ids != nullptr && dx != nullptr, "embedding_backward",
          "null dtable, ids or dx");
  if (kernels::reference_mode()) return ref::embedding_backward(dtable, ids, dx, T, H);
  parallel_chunks(H, kColGrain, [&](int64_t c0, int64_t c1) {
    embedding_columns(dtable, ids, dx, T, H, c0, c1);
  });
}

int64_t attention_probs_size(const int64_t* starts, int64_t B, int64_t NH) {
  check_count("attention_probs_size", "NH", NH, 1);
  check_starts("attention_probs_size", starts, B);
  return ref::attention_probs_size(starts, B, NH);
}

void attention_forward_train(float* out, float* probs, const float* qkv, const int64_t* starts,
                             int64_t B, int64_t NH, int64_t HD, float scale,
                             const uint8_t* prob_mask, float dropout_p) {
  const char* kernel = "attention_forward_train";
  check_attention(kernel, starts, B, NH, HD, prob_mask, dropout_p);
  if (B == 0 || starts[B] == starts[0]) return;
  require(out != nullptr && probs != nullptr && qkv != nullptr, kernel, "null out, probs or qkv");
  if (kernels::reference_mode()) {
    return ref::attention_forward_train(out, probs, qkv, starts, B, NH, HD, scale, prob_mask,
                                        dropout_p);
  }
  const int64_t H = NH * HD, ld = 3 * H;
  const std::vector<int64_t> offsets = prob_offsets(starts, B, NH);
  int64_t max_L = 0;
  for (int64_t b = 0; b < B; ++b) max_L = std::max(max_L, starts[b + 1] - starts[b]);
  const float keep_scale = static_cast<float>(1.0 / (1.0 - double(dropout_p)));
  parallel_tasks(B * NH, forward_scratch_floats(max_L, HD), [&](int64_t task, float* scratch) {
    const int64_t b = task / NH, h = task % NH;
    const int64_t L = starts[b + 1] - starts[b];
    if (L == 0) return;
    const int64_t offset = offsets[b] + h * L * L;
    const float* base = qkv + starts[b] * ld + h * HD;
    const HeadView s{base, base + H, base + 2 * H,
                     ld,   L,        prob_mask != nullptr ? prob_mask + offset : nullptr};
    attend_head_train(s, out + starts[b] * H + h * HD, H, probs + offset, HD, scale, keep_scale,
                      scratch);
  });
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* probs,
                        const int64_t* starts, int64_t B, int64_t NH, int64_t HD, float scale,
                        const uint8_t* prob_mask, float dropout_p) {
  const char* kernel = "attention_backward";
  check_attention(kernel, starts, B, NH, HD, prob_mask, dropout_p);
  if (B == 0 || starts[B] == starts[0]) return;
  require(dqkv != nullptr && dout != nullptr && qkv != nullptr && probs != nullptr, kernel,
          "null dqkv, dout, qkv or probs");
  if (kernels::reference_mode()) {
    return ref::attention_backward(dqkv, dout, qkv, probs, starts, B, NH, HD, scale, prob_mask,
                                   dropout_p);
  }
  const int64_t H = NH * HD, ld = 3 * H;
  const std::vector<int64_t> offsets = prob_offsets(starts, B, NH);
  int64_t max_L = 0;
  for (int64_t b = 0; b < B; ++b) max_L = std::max(max_L, starts[b + 1] - starts[b]);
  const float keep_scale = static_cast<float>(1.0 / (1.0 - double(dropout_p)));
  parallel_tasks(B * NH, backward_scratch_floats(max_L, HD), [&](int64_t task, float* scratch) {
    const int64_t b = task / NH, h = task % NH;
    const int64_t L = starts[b + 1] - starts[b];
    if (L == 0) return;
    const int64_t offset = offsets[b] + h * L * L;
    const float* base = qkv + starts[b] * ld + h * HD;
    float* dbase = dqkv + starts[b] * ld + h * HD;
    const HeadView s{base, base + H, base + 2 * H,
                     ld,   L,        prob_mask != nullptr ? prob_mask + offset : nullptr};
    attend_head_backward(s, dbase, dbase + H, dbase + 2 * H, dout + starts[b] * H + h * HD, H,
                         probs + offset, HD, scale, keep_scale, scratch);
  });
}

void mean_pool_forward(float* out, const float* x, const int64_t* starts, int64_t B, int64_t H) {
  check_pool("mean_pool_forward", out, x, starts, B, H);
  if (B == 0 || H == 0) return;
  if (kernels::reference_mode()) return ref::mean_pool_forward(out, x, starts, B, H);
  parallel_chunks(B, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      mean_pool_rows(out + b * H, x + starts[b] * H, starts[b + 1] - starts[b], H);
    }
  });
}

void mean_pool_backward(float* dx, const float* dpooled, const int64_t* starts, int64_t B,
                        int64_t H) {
  check_pool("mean_pool_backward", dx, dpooled, starts, B, H);
  if (B == 0 || H == 0) return;
  if (kernels::reference_mode()) return ref::mean_pool_backward(dx, dpooled, starts, B, H);
  parallel_chunks(B, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t L = starts[b + 1] - starts[b];
      if (L > 0) mean_pool_backward_rows(dx + starts[b] * H, dpooled + b * H, L, H);
    }
  });
}

void first_row_backward(float* dx, const float* dpooled, const int64_t* starts, int64_t B,
                        int64_t H) {
  check_pool("first_row_backward", dx, dpooled, starts, B, H);
  if (B == 0 || H == 0) return;
  // B rows of H floats: too little work to split, and the same loop as the reference.
  ref::first_row_backward(dx, dpooled, starts, B, H);
}

double cross_entropy(float* dlogits, const float* logits, const int32_t* labels, int64_t B,
                     int64_t K, const float* class_weights, float label_smoothing) {
  const char* kernel = "cross_entropy";
  check_count(kernel, "B", B);
  check_count(kernel, "K", K, 1);
  require(label_smoothing >= 0.0f && label_smoothing <= 1.0f, kernel,
          "label_smoothing must be in [0, 1], got " + std::to_string(label_smoothing));
  if (B == 0) return 0.0;  // torch would return NaN for a mean over nothing
  require(dlogits != nullptr && logits != nullptr && labels != nullptr, kernel,
          "null dlogits, logits or labels");
  double denom = 0;
  for (int64_t i = 0; i < B; ++i) {
    if (labels[i] < 0 || labels[i] >= K) {
      throw InvalidArgument("cross_entropy: label " + std::to_string(labels[i]) + " at row " +
                            std::to_string(i) + " is outside [0, " + std::to_string(K) + ")");
    }
    denom += class_weights != nullptr ? double(class_weights[labels[i]]) : 1.0;
  }
  // torch would return NaN (0 / 0); a NaN loss would silently poison training.
  require(denom != 0.0, kernel, "the class weights of the batch's labels sum to 0");
  // Rows are independent and few, with K small: the reference loop is already the fast path.
  return ref::cross_entropy(dlogits, logits, labels, B, K, class_weights, label_smoothing);
}

}  // namespace bertlite::train
