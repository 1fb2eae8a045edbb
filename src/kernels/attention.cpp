// kernels/attention.cpp - attention per (sequence, head) with the scores of a few query rows in
// a small per-thread buffer; nothing of size T x T is ever stored.
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "bertlite/error.h"
#include "kernels/dispatch.h"
#include "kernels/kernel_clones.h"
#include "kernels/parallel.h"
#include "kernels/ref/reference.h"
#include "kernels/vec_math.h"

namespace bertlite::kernels {
namespace {

// Strided view of one sequence's q, k, v and out; pointers already offset to the first row.
struct SequenceView {
  float* out;
  int64_t ldo;
  const float* q;
  int64_t ldq;
  const float* k;
  int64_t ldk;
  const float* v;
  int64_t ldv;
};

// Register blocking: a block of kRows query rows against kCols keys (for scores) or kCols head
// dims (for the output) is accumulated in kRows x kCols floats held in vector registers, so
// each loaded key or value vector feeds kRows multiply-adds instead of one. The blocks are
// written with GCC/Clang vector extensions: GCC's auto-vectorizer spills such blocks to the
// stack. V8 is 8 floats: one ymm register in the AVX2 and AVX-512 clones, two xmm in the
// baseline x86-64 clone.
typedef float V8 __attribute__((vector_size(32)));
#if defined(__GNUC__) && !defined(__clang__)
// GCC warns that passing V8 by value has a different ABI with and without AVX. Every function
// that does so here is inline and file-local, so no call ever crosses that ABI boundary.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
constexpr int64_t kRows = 4;
constexpr int64_t kCols = 16;  // two V8

constexpr int64_t round_up(int64_t n, int64_t m) {
  return (n + m - 1) / m * m;
}

inline V8 load8(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, const V8& v) {
  std::memcpy(p, &v, sizeof v);
}

// Per-thread scratch for one head of a sequence of up to max_T tokens.
struct Scratch {
  float* kt;      // [HD, round_up(max_T, kCols)]: this head's keys, transposed, zero-padded
  float* scores;  // [kRows, round_up(max_T, kCols)]: a block's scores, then probabilities
};

size_t scratch_floats(int64_t max_T, int64_t HD) {
  const int64_t Tp = round_up(max_T, kCols);
  return static_cast<size_t>(HD * Tp + kRows * Tp);
}

// scores[r][j0, j0 + kCols) = (q[r] . k[j0, j0 + kCols)) * scale for the kRows rows of a block.
inline void score_block(const float* const* q, const float* kt, int64_t Tp, int64_t j0, int64_t HD,
                        float scale, float* scores) {
  V8 acc[kRows][2] = {};
  for (int64_t d = 0; d < HD; ++d) {
    const V8 k0 = load8(kt + d * Tp + j0), k1 = load8(kt + d * Tp + j0 + 8);
    for (int64_t r = 0; r < kRows; ++r) {
      const float qd = q[r][d];
      acc[r][0] += qd * k0;
      acc[r][1] += qd * k1;
    }
  }
  for (int64_t r = 0; r < kRows; ++r) {
    store8(scores + r * Tp + j0, acc[r][0] * scale);
    store8(scores + r * Tp + j0 + 8, acc[r][1] * scale);
  }
}

// out[r][d0, d0 + kCols) = (p[r] . v[:, d0, d0 + kCols)) * inv_sum[r] for the block's rows.
inline void value_block(const SequenceView& s, int64_t col, int64_t T, int64_t Tp, const float* p,
                        const float* inv_sum, int64_t i0, int64_t rows, int64_t d0) {
  V8 acc[kRows][2] = {};
  for (int64_t j = 0; j < T; ++j) {
    const float* vj = s.v + j * s.ldv + col + d0;
    const V8 v0 = load8(vj), v1 = load8(vj + 8);
    for (int64_t r = 0; r < kRows; ++r) {
      const float pr = p[r * Tp + j];
      acc[r][0] += pr * v0;
      acc[r][1] += pr * v1;
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    float* o = s.out + (i0 + r) * s.ldo + col + d0;
    store8(o, acc[r][0] * inv_sum[r]);
    store8(o + 8, acc[r][1] * inv_sum[r]);
  }
}

// The same for head dims [d0, HD) when HD is not a multiple of kCols: plain loops.
inline void value_tail(const SequenceView& s, int64_t col, int64_t T, int64_t Tp, const float* p,
                       const float* inv_sum, int64_t i0, int64_t rows, int64_t d0, int64_t HD) {
  for (int64_t r = 0; r < rows; ++r) {
    float* o = s.out + (i0 + r) * s.ldo + col;
    for (int64_t d = d0; d < HD; ++d) o[d] = 0.0f;
    for (int64_t j = 0; j < T; ++j) {
      const float pr = p[r * Tp + j];
      const float* vj = s.v + j * s.ldv + col;
      for (int64_t d = d0; d < HD; ++d) o[d] += pr * vj[d];
    }
    for (int64_t d = d0; d < HD; ++d) o[d] *= inv_sum[r];
  }
}

// One head of one sequence. Keys are transposed first so scores for kCols keys at a time are
// contiguous vector multiply-adds rather than T separate dot products.
// Only the first `queries` rows of the sequence are computed (T for all, 1 for [CLS] only).
KERNEL_CLONES void attend_head(const SequenceView& s, int64_t head, int64_t T, int64_t queries,
                               int64_t HD, float scale, const Scratch& scratch) {
  const int64_t col = head * HD;
  const int64_t Tp = round_up(T, kCols);
  float* kt = scratch.kt;
  float* scores = scratch.scores;
  for (int64_t j = 0; j < T; ++j) {
    const float* kj = s.k + j * s.ldk + col;
    for (int64_t d = 0; d < HD; ++d) kt[d * Tp + j] = kj[d];
  }
  for (int64_t d = 0; d < HD; ++d) {
    for (int64_t j = T; j < Tp; ++j) kt[d * Tp + j] = 0.0f;
  }
  for (int64_t i0 = 0; i0 < queries; i0 += kRows) {
    const int64_t rows = std::min(kRows, queries - i0);
    // A short last block repeats its last row; the extra results are never stored.
    const float* q[kRows];
    for (int64_t r = 0; r < kRows; ++r) q[r] = s.q + (i0 + std::min(r, rows - 1)) * s.ldq + col;
    for (int64_t j0 = 0; j0 < Tp; j0 += kCols) score_block(q, kt, Tp, j0, HD, scale, scores);

    // Numerically stable softmax over each row's T real keys. The loops run over all Tp
    // columns, a multiple of the vector width, so no scalar remainder loop runs (with SST-2's
    // ~23 tokens it took most of the time): the padding columns get a score of -1e30, whose
    // exponential is clamped to e^-87 ~ 1.6e-38, below the last bit of a sum that is >= 1, and
    // value_block reads only the first T probabilities.
    float inv_sum[kRows];
    for (int64_t r = 0; r < kRows; ++r) {
      float* row = scores + r * Tp;
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
      inv_sum[r] = 1.0f / sum;  // sum >= 1: the maximum contributes e^0
    }

    int64_t d0 = 0;
    for (; d0 + kCols <= HD; d0 += kCols) value_block(s, col, T, Tp, scores, inv_sum, i0, rows, d0);
    if (d0 < HD) value_tail(s, col, T, Tp, scores, inv_sum, i0, rows, d0, HD);
  }
}

void check_shape(const char* kernel, int64_t NH, int64_t HD, int64_t min_ld,
                 std::initializer_list<int64_t> lds) {
  if (NH < 1 || HD < 1) {
    throw InvalidArgument(std::string(kernel) + ": need NH >= 1 and HD >= 1, got NH=" +
                          std::to_string(NH) + " HD=" + std::to_string(HD));
  }
  for (int64_t ld : lds) {
    if (ld < min_ld) {
      throw InvalidArgument(std::string(kernel) + ": row stride " + std::to_string(ld) +
                            " is less than NH*HD=" + std::to_string(min_ld));
    }
  }
}

// The shared driver: B sequences with row offsets seq_starts, all heads, on all threads. With
// `first_only`, only each sequence's first query row is computed, into out row b.
void attention_packed_strided(const SequenceView& all, const int64_t* seq_starts, int64_t B,
                              int64_t NH, int64_t HD, float scale, bool first_only = false) {
  int64_t max_T = 0;
  for (int64_t b = 0; b < B; ++b) max_T = std::max(max_T, seq_starts[b + 1] - seq_starts[b]);
  if (max_T == 0) return;
  auto view_of = [&](int64_t b) {
    const int64_t row = seq_starts[b];
    return SequenceView{all.out + (first_only ? b : row) * all.ldo,
                        all.ldo,
                        all.q + row * all.ldq,
                        all.ldq,
                        all.k + row * all.ldk,
                        all.ldk,
                        all.v + row * all.ldv,
                        all.ldv};
  };
  if (reference_mode()) {
    std::vector<float> full;  // first_only: every row, of which the first is kept
    for (int64_t b = 0; b < B; ++b) {
      const SequenceView s = view_of(b);
      const int64_t T = seq_starts[b + 1] - seq_starts[b];
      if (!first_only) {
        attention_reference(s.out, s.ldo, s.q, s.ldq, s.k, s.ldk, s.v, s.ldv, T, NH, HD, scale);
      } else if (T > 0) {
        full.assign(static_cast<size_t>(T * NH * HD), 0.0f);
        attention_reference(full.data(), NH * HD, s.q, s.ldq, s.k, s.ldk, s.v, s.ldv, T, NH, HD,
                            scale);
        std::copy_n(full.data(), NH * HD, s.out);
      }
    }
    return;
  }
  const int64_t Tp = round_up(max_T, kCols);
  const auto per_thread = static_cast<int64_t>(scratch_floats(max_T, HD));
  detail::parallel_tasks(B * NH, per_thread, [&](int64_t task, float* base) {
    const int64_t b = task / NH, head = task % NH;
    const int64_t T = seq_starts[b + 1] - seq_starts[b];
    if (T == 0) return;
    attend_head(view_of(b), head, T, first_only ? 1 : T, HD, scale, Scratch{base, base + HD * Tp});
  });
}

}  // namespace

void attention_forward_strided(float* out, int64_t ldo, const float* q, int64_t ldq, const float* k,
                               int64_t ldk, const float* v, int64_t ldv, int64_t T, int64_t NH,
                               int64_t HD, float scale) {
  check_shape("attention_forward_strided", NH, HD, NH * HD, {ldo, ldq, ldk, ldv});
  if (T < 0) throw InvalidArgument("attention_forward_strided: T must be >= 0");
  if (T == 0) return;
  if (out == nullptr || q == nullptr || k == nullptr || v == nullptr) {
    throw InvalidArgument("attention_forward_strided: null buffer");
  }
  const int64_t starts[2] = {0, T};
  attention_packed_strided(SequenceView{out, ldo, q, ldq, k, ldk, v, ldv}, starts, 1, NH, HD,
                           scale);
}

void attention_forward(float* out, const float* qkv, int64_t T, int64_t NH, int64_t HD,
                       float scale) {
  check_shape("attention_forward", NH, HD, 1, {});
  const int64_t H = NH * HD;
  attention_forward_strided(out, H, qkv, 3 * H, qkv + H, 3 * H, qkv + 2 * H, 3 * H, T, NH, HD,
                            scale);
}

namespace {

// Checks the arguments of the packed entry points; false when there is nothing to do.
bool check_packed(const char* kernel, float* out, const float* qkv, const int64_t* seq_starts,
                  int64_t B, int64_t NH, int64_t HD) {
  const std::string name = kernel;
  check_shape(kernel, NH, HD, 1, {});
  if (B < 0) throw InvalidArgument(name + ": B must be >= 0");
  if (B == 0) return false;
  if (seq_starts == nullptr) throw InvalidArgument(name + ": null seq_starts");
  if (seq_starts[0] < 0) throw InvalidArgument(name + ": seq_starts[0] < 0");
  for (int64_t b = 0; b < B; ++b) {
    if (seq_starts[b + 1] < seq_starts[b]) {
      throw InvalidArgument(name + ": seq_starts decreases at index " + std::to_string(b + 1));
    }
  }
  if (seq_starts[B] > seq_starts[0] && (out == nullptr || qkv == nullptr)) {
    throw InvalidArgument(name + ": null out or qkv");
  }
  return true;
}

}  // namespace

void attention_forward_packed(float* out, const float* qkv, const int64_t* seq_starts, int64_t B,
                              int64_t NH, int64_t HD, float scale) {
  if (!check_packed("attention_forward_packed", out, qkv, seq_starts, B, NH, HD)) return;
  const int64_t H = NH * HD;
  attention_packed_strided(SequenceView{out, H, qkv, 3 * H, qkv + H, 3 * H, qkv + 2 * H, 3 * H},
                           seq_starts, B, NH, HD, scale);
}

void attention_forward_packed_first(float* out, const float* qkv, const int64_t* seq_starts,
                                    int64_t B, int64_t NH, int64_t HD, float scale) {
  if (!check_packed("attention_forward_packed_first", out, qkv, seq_starts, B, NH, HD)) return;
  const int64_t H = NH * HD;
  attention_packed_strided(SequenceView{out, H, qkv, 3 * H, qkv + H, 3 * H, qkv + 2 * H, 3 * H},
                           seq_starts, B, NH, HD, scale, /*first_only=*/true);
}

void attention_probabilities(float* out, const float* qkv, int64_t T, int64_t NH, int64_t HD,
                             float scale) {
  const int64_t H = NH * HD;
  std::vector<double> scores(static_cast<std::size_t>(T));
  for (int64_t h = 0; h < NH; ++h) {
    for (int64_t i = 0; i < T; ++i) {
      const float* q = qkv + i * 3 * H + h * HD;
      double max_score = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < T; ++j) {
        const float* k = qkv + j * 3 * H + H + h * HD;
        double dot = 0;
        for (int64_t d = 0; d < HD; ++d) dot += static_cast<double>(q[d]) * k[d];
        scores[j] = dot * scale;
        max_score = std::max(max_score, scores[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < T; ++j) sum += scores[j] = std::exp(scores[j] - max_score);
      float* row = out + (h * T + i) * T;
      for (int64_t j = 0; j < T; ++j) row[j] = static_cast<float>(scores[j] / sum);
    }
  }
}

}  // namespace bertlite::kernels
