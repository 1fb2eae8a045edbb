// kernels/rows.cpp - row-wise helpers. Memory-bound and cheap next to the GEMMs, so they are
// vectorized loops without threads, except l2_normalize_rows, which reference mode covers too.
#include "kernels/rows.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "bertlite/error.h"
#include "kernels/dispatch.h"
#include "kernels/kernel_clones.h"
#include "kernels/ref/reference.h"

namespace bertlite::kernels {
namespace {

void check_rows(const char* kernel, int64_t M, int64_t C) {
  if (M < 0 || C < 1) {
    throw InvalidArgument(std::string(kernel) + ": need rows >= 0 and C >= 1, got rows=" +
                          std::to_string(M) + " C=" + std::to_string(C));
  }
}

void check_ids(const char* kernel, const int32_t* ids, int64_t T, int64_t V) {
  for (int64_t t = 0; t < T; ++t) {
    if (ids[t] < 0 || ids[t] >= V) {
      throw InvalidArgument(std::string(kernel) + ": id " + std::to_string(ids[t]) +
                            " at position " + std::to_string(t) + " is outside [0, " +
                            std::to_string(V) + ")");
    }
  }
}

// Sum of squares in double: a float sum over 768 squares is fine for the norm's leading digits,
// but double makes the result independent of vector width (the clones sum in different orders).
KERNEL_CLONES void l2_normalize_span(float* out, const float* in, int64_t M, int64_t C, float eps) {
  for (int64_t m = 0; m < M; ++m) {
    const float* x = in + m * C;
    double sq = 0;
#pragma omp simd reduction(+ : sq)
    for (int64_t c = 0; c < C; ++c) sq += double(x[c]) * x[c];
    const float inv = static_cast<float>(1.0 / std::max(std::sqrt(sq), double(eps)));
    float* y = out + m * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) y[c] = x[c] * inv;
  }
}

}  // namespace

void l2_normalize_rows(float* out, const float* in, int64_t M, int64_t C, float eps) {
  check_rows("l2_normalize_rows", M, C);
  if (M == 0) return;
  if (out == nullptr || in == nullptr) throw InvalidArgument("l2_normalize_rows: null buffer");
  if (reference_mode()) return l2_normalize_rows_reference(out, in, M, C, eps);
  l2_normalize_span(out, in, M, C, eps);
}

void mean_pool(float* out, const float* in, int64_t T, int64_t C) {
  check_rows("mean_pool", T, C);
  if (T == 0) throw InvalidArgument("mean_pool: a sequence needs at least one token");
  if (out == nullptr || in == nullptr) throw InvalidArgument("mean_pool: null buffer");
  // Exact enough in both modes (double sums), and trivially cheap: no separate fast path.
  mean_pool_reference(out, in, T, C);
}

void add_bias(float* inout, const float* bias, int64_t M, int64_t C) {
  check_rows("add_bias", M, C);
  if (M == 0) return;
  if (inout == nullptr || bias == nullptr) throw InvalidArgument("add_bias: null buffer");
  for (int64_t m = 0; m < M; ++m) {
    float* row = inout + m * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) row[c] += bias[c];
  }
}

void embedding_lookup(float* out, const float* table, const int32_t* ids, int64_t T, int64_t C,
                      int64_t V) {
  check_rows("embedding_lookup", T, C);
  if (T == 0) return;
  if (out == nullptr || table == nullptr || ids == nullptr) {
    throw InvalidArgument("embedding_lookup: null buffer");
  }
  check_ids("embedding_lookup", ids, T, V);
  for (int64_t t = 0; t < T; ++t) std::copy_n(table + ids[t] * C, C, out + t * C);
}

void embedding_add(float* out, const float* table, const int32_t* ids, int64_t T, int64_t C,
                   int64_t V) {
  check_rows("embedding_add", T, C);
  if (T == 0) return;
  if (out == nullptr || table == nullptr || ids == nullptr) {
    throw InvalidArgument("embedding_add: null buffer");
  }
  check_ids("embedding_add", ids, T, V);
  for (int64_t t = 0; t < T; ++t) {
    const float* row = table + int64_t{ids[t]} * C;
    float* y = out + t * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) y[c] += row[c];
  }
}

}  // namespace bertlite::kernels
