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
#include "kernels/attention_blocks.h"
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

using blocks::kCols;
using blocks::kRows;
using blocks::round_up;

// Per-thread scratch for one head of a sequence of up to max_T tokens.
struct Scratch {
  float* kt;      // [HD, round_up(max_T, kCols)]: this head's keys, transposed, zero-padded
  float* scores;  // [kRows, round_up(max_T, kCols)]: a block's scores, then probabilities
};

size_t scratch_floats(int64_t max_T, int64_t HD) {
  const int64_t Tp = round_up(max_T, kCols);
  return static_cast<size_t>(HD * Tp + kRows * Tp);
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
  blocks::transpose_padded(kt, s.k + col, s.ldk, T, Tp, HD);
  for (int64_t i0 = 0; i0 < queries; i0 += kRows) {
    const int64_t rows = std::min(kRows, queries - i0);
    blocks::dot_rows(s.q + i0 * s.ldq + col, s.ldq, rows, kt, Tp, HD, scale, scores);
    // Softmax over each row's T real keys; the output reads only the first T probabilities.
    float inv_sum[kRows];
    for (int64_t r = 0; r < kRows; ++r) {
      inv_sum[r] = blocks::softmax_unnormalized(scores + r * Tp, T, Tp);
    }
    blocks::weighted_sum_rows(scores, Tp, s.v + col, s.ldv, T, inv_sum, s.out + i0 * s.ldo + col,
                              s.ldo, rows, HD);
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
