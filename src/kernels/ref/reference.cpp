// kernels/ref/reference.cpp - naive loops in double: slow on purpose, easy to check by eye.
#include "kernels/ref/reference.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

namespace bertlite::kernels {
namespace {

double activate(double x, Activation activation) {
  switch (activation) {
    case Activation::kNone:
      return x;
    case Activation::kGeluErf:
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case Activation::kGeluTanh: {
      const double u = std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x);
      return 0.5 * x * (1.0 + std::tanh(u));
    }
    case Activation::kTanh:
      return std::tanh(x);
  }
  return x;
}

}  // namespace

void int8_gemm_sums_reference(std::int64_t* sums, const std::uint8_t* codes,
                              const std::int8_t* weight, int64_t M, int64_t K, int64_t N) {
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      std::int64_t sum = 0;
      for (int64_t k = 0; k < K; ++k) sum += std::int64_t{codes[m * K + k]} * weight[n * K + k];
      sums[m * N + n] = sum;
    }
  }
}

void linear_reference(float* y, const float* x, const float* weight, const float* bias, int64_t M,
                      int64_t K, int64_t N, LinearEpilogue epilogue) {
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double acc = bias != nullptr ? bias[n] : 0.0;
      for (int64_t k = 0; k < K; ++k) acc += double(x[m * K + k]) * double(weight[n * K + k]);
      acc = activate(acc, epilogue.activation);
      if (epilogue.accumulate) acc += y[m * N + n];
      y[m * N + n] = static_cast<float>(acc);
    }
  }
}

void layernorm_reference(float* out, float* mean, float* rstd, const float* in,
                         const float* residual, const float* gamma, const float* beta, int64_t M,
                         int64_t C, float eps, float* xhat) {
  std::vector<double> row(static_cast<size_t>(C));
  for (int64_t m = 0; m < M; ++m) {
    double sum = 0;
    for (int64_t c = 0; c < C; ++c) {
      row[c] = double(in[m * C + c]) + (residual != nullptr ? double(residual[m * C + c]) : 0.0);
      sum += row[c];
    }
    const double mu = sum / C;
    double sq = 0;
    for (int64_t c = 0; c < C; ++c) sq += (row[c] - mu) * (row[c] - mu);
    const double rs = 1.0 / std::sqrt(sq / C + double(eps));
    for (int64_t c = 0; c < C; ++c) {
      const double n = (row[c] - mu) * rs;
      if (xhat != nullptr) xhat[m * C + c] = static_cast<float>(n);
      out[m * C + c] = static_cast<float>(n * gamma[c] + beta[c]);
    }
    if (mean != nullptr) mean[m] = static_cast<float>(mu);
    if (rstd != nullptr) rstd[m] = static_cast<float>(rs);
  }
}

void gelu_reference(float* inout, int64_t n, GeluKind kind) {
  const Activation activation =
      kind == GeluKind::kErf ? Activation::kGeluErf : Activation::kGeluTanh;
  for (int64_t i = 0; i < n; ++i) inout[i] = static_cast<float>(activate(inout[i], activation));
}

void tanh_reference(float* inout, int64_t n) {
  for (int64_t i = 0; i < n; ++i) inout[i] = static_cast<float>(std::tanh(double(inout[i])));
}

void attention_reference(float* out, int64_t ldo, const float* q, int64_t ldq, const float* k,
                         int64_t ldk, const float* v, int64_t ldv, int64_t T, int64_t NH,
                         int64_t HD, float scale) {
  std::vector<double> p(static_cast<size_t>(T));
  for (int64_t h = 0; h < NH; ++h) {
    for (int64_t i = 0; i < T; ++i) {
      double max_score = -INFINITY;
      for (int64_t j = 0; j < T; ++j) {
        double s = 0;
        for (int64_t d = 0; d < HD; ++d)
          s += double(q[i * ldq + h * HD + d]) * k[j * ldk + h * HD + d];
        p[j] = s * scale;
        max_score = std::max(max_score, p[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < T; ++j) sum += (p[j] = std::exp(p[j] - max_score));
      for (int64_t d = 0; d < HD; ++d) {
        double acc = 0;
        for (int64_t j = 0; j < T; ++j) acc += p[j] * v[j * ldv + h * HD + d];
        out[i * ldo + h * HD + d] = static_cast<float>(acc / sum);
      }
    }
  }
}

void l2_normalize_rows_reference(float* out, const float* in, int64_t M, int64_t C, float eps) {
  for (int64_t m = 0; m < M; ++m) {
    double sq = 0;
    for (int64_t c = 0; c < C; ++c) sq += double(in[m * C + c]) * in[m * C + c];
    const double norm = std::max(std::sqrt(sq), double(eps));
    for (int64_t c = 0; c < C; ++c) out[m * C + c] = static_cast<float>(in[m * C + c] / norm);
  }
}

void mean_pool_reference(float* out, const float* in, int64_t T, int64_t C) {
  for (int64_t c = 0; c < C; ++c) {
    double sum = 0;
    for (int64_t t = 0; t < T; ++t) sum += in[t * C + c];
    out[c] = static_cast<float>(sum / T);
  }
}

void gemm_reference(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K,
                    float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                    float beta, float* C, int64_t ldc) {
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double sum = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double a = transpose_a ? A[k * lda + m] : A[m * lda + k];
        const double b = transpose_b ? B[n * ldb + k] : B[k * ldb + n];
        sum += a * b;
      }
      const double old = beta == 0 ? 0.0 : static_cast<double>(beta) * C[m * ldc + n];
      C[m * ldc + n] = static_cast<float>(alpha * sum + old);
    }
  }
}

}  // namespace bertlite::kernels
