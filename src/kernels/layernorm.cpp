// kernels/layernorm.cpp - fast LayerNorm: rows in parallel, each row in three vectorized passes.
#include "kernels/layernorm.h"

#include <cmath>
#include <string>

#include "bertlite/error.h"
#include "kernels/dispatch.h"
#include "kernels/kernel_clones.h"
#include "kernels/parallel.h"
#include "kernels/ref/reference.h"

namespace bertlite::kernels {
namespace {

// Rows per parallel chunk: a 384..1024-wide row is a few hundred nanoseconds of work.
constexpr int64_t kRowGrain = 16;

// Mean and variance are accumulated in double, and the variance is taken around the mean in a
// second pass rather than as E[x^2] - mean^2. The residual stream of a BERT layer can carry a
// few channels in the hundreds next to many near zero, and in float the one-pass formula loses
// most of the variance's digits to cancellation; double two-pass costs nothing measurable at
// these widths and keeps the fast path within a few float ulps of the double reference.
KERNEL_CLONES void layernorm_rows(float* out, float* mean_out, float* rstd_out, float* xhat,
                                  const float* in, const float* residual, const float* gamma,
                                  const float* beta, int64_t row_begin, int64_t row_end, int64_t C,
                                  float eps) {
  for (int64_t m = row_begin; m < row_end; ++m) {
    float* y = out + m * C;
    const float* x = in + m * C;
    double sum = 0;
    if (residual != nullptr) {
      // Materialise in + residual in out first; out may alias either input (same index only).
      const float* r = residual + m * C;
#pragma omp simd reduction(+ : sum)
      for (int64_t c = 0; c < C; ++c) {
        y[c] = x[c] + r[c];
        sum += y[c];
      }
      x = y;
    } else {
#pragma omp simd reduction(+ : sum)
      for (int64_t c = 0; c < C; ++c) sum += x[c];
    }
    const double mean = sum / static_cast<double>(C);
    double sq = 0;
#pragma omp simd reduction(+ : sq)
    for (int64_t c = 0; c < C; ++c) {
      const double d = x[c] - mean;
      sq += d * d;
    }
    const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(C) + eps);
    const float mean_f = static_cast<float>(mean), rstd_f = static_cast<float>(rstd);
    if (xhat != nullptr) {
      float* n = xhat + m * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        n[c] = (x[c] - mean_f) * rstd_f;
        y[c] = n[c] * gamma[c] + beta[c];
      }
    } else {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) y[c] = (x[c] - mean_f) * rstd_f * gamma[c] + beta[c];
    }
    if (mean_out != nullptr) mean_out[m] = mean_f;
    if (rstd_out != nullptr) rstd_out[m] = rstd_f;
  }
}

}  // namespace

void layernorm_forward(float* out, float* mean, float* rstd, const float* in, const float* residual,
                       const float* gamma, const float* beta, int64_t M, int64_t C, float eps,
                       float* xhat) {
  if (M < 0 || C < 1) {
    throw InvalidArgument("layernorm_forward: need M >= 0 and C >= 1, got M=" + std::to_string(M) +
                          " C=" + std::to_string(C));
  }
  if (!(eps >= 0.0f)) throw InvalidArgument("layernorm_forward: eps must be >= 0");
  if (M == 0) return;
  if (out == nullptr || in == nullptr || gamma == nullptr || beta == nullptr) {
    throw InvalidArgument("layernorm_forward: null out, in, gamma or beta");
  }
  if (reference_mode()) {
    return layernorm_reference(out, mean, rstd, in, residual, gamma, beta, M, C, eps, xhat);
  }
  detail::parallel_chunks(M, kRowGrain, [&](int64_t begin, int64_t end) {
    layernorm_rows(out, mean, rstd, xhat, in, residual, gamma, beta, begin, end, C, eps);
  });
}

}  // namespace bertlite::kernels
