// tests/kernels/attention_test.cpp - packed attention against the reference, against masked
// attention over a padded batch (what Hugging Face runs), and against itself run per sequence.
//
// Tolerance: 5e-6 of max(1, max |out|). Each output is a convex combination of v values in
// [-1, 1]; the fast path's float dot products over HD <= 64 and its exp (relative error 3e-7)
// leave errors near 1e-6, and any wrong head, key, stride or normalisation is off by O(0.1).
#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "bertlite/error.h"
#include "kernels/dispatch.h"
#include "kernels/ref/reference.h"
#include "kernels/test_util.h"
#include "util/threads.h"

namespace bertlite::kernels {
namespace {

using testing::random_vector;

constexpr double kTolerance = 5e-6;

class AttentionShapes : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, int64_t>> {};

TEST_P(AttentionShapes, MatchesReference) {
  const auto [T, NH, HD] = GetParam();
  const int64_t H = NH * HD;
  const auto qkv = random_vector(T * 3 * H, 61);
  const float scale = 1.0f / std::sqrt(float(HD));
  std::vector<float> out(T * H), ref(T * H);
  attention_forward(out.data(), qkv.data(), T, NH, HD, scale);
  attention_reference(ref.data(), H, qkv.data(), 3 * H, qkv.data() + H, 3 * H, qkv.data() + 2 * H,
                      3 * H, T, NH, HD, scale);
  EXPECT_CLOSE(out, ref, kTolerance);
}

INSTANTIATE_TEST_SUITE_P(Sizes, AttentionShapes,
                         ::testing::Combine(::testing::Values(1, 7, 33, 130),
                                            ::testing::Values(1, 3, 12),
                                            ::testing::Values(8, 24, 32, 64)));

// HF-style attention over a zero-padded [B, Tmax] batch: every query attends to all Tmax keys,
// with finfo(float).min added to the scores of padding keys. Double precision.
std::vector<float> masked_padded_attention(const std::vector<float>& padded_qkv,
                                           const std::vector<int64_t>& lengths, int64_t Tmax,
                                           int64_t NH, int64_t HD, float scale) {
  const int64_t H = NH * HD, B = int64_t(lengths.size());
  std::vector<float> out(B * Tmax * H, 0.0f);
  std::vector<double> p(Tmax);
  for (int64_t b = 0; b < B; ++b) {
    const float* base = padded_qkv.data() + b * Tmax * 3 * H;
    for (int64_t h = 0; h < NH; ++h) {
      for (int64_t i = 0; i < Tmax; ++i) {
        double max_score = -INFINITY;
        for (int64_t j = 0; j < Tmax; ++j) {
          double s = 0;
          for (int64_t d = 0; d < HD; ++d) {
            s += double(base[i * 3 * H + h * HD + d]) * base[j * 3 * H + H + h * HD + d];
          }
          p[j] = s * scale + (j < lengths[b] ? 0.0 : double(std::numeric_limits<float>::lowest()));
          max_score = std::max(max_score, p[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < Tmax; ++j) sum += (p[j] = std::exp(p[j] - max_score));
        for (int64_t d = 0; d < HD; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < Tmax; ++j) acc += p[j] * base[j * 3 * H + 2 * H + h * HD + d];
          out[(b * Tmax + i) * H + h * HD + d] = float(acc / sum);
        }
      }
    }
  }
  return out;
}

TEST(Attention, PackedEqualsMaskedPaddedBatch) {
  const std::vector<int64_t> lengths{5, 1, 12, 0, 9, 12};
  const int64_t NH = 3, HD = 16, H = NH * HD, Tmax = 12, B = int64_t(lengths.size());
  const float scale = 0.25f;
  // Padded batch: real rows random in [-1, 1], padding rows garbage that must not leak in.
  auto padded = random_vector(B * Tmax * 3 * H, 62);
  const auto garbage = random_vector(B * Tmax * 3 * H, 63, 50.0f, 90.0f);
  std::vector<int64_t> starts{0};
  std::vector<float> packed;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < Tmax; ++t) {
      float* row = padded.data() + (b * Tmax + t) * 3 * H;
      if (t >= lengths[b]) {
        std::copy_n(garbage.data() + (b * Tmax + t) * 3 * H, 3 * H, row);
      } else {
        packed.insert(packed.end(), row, row + 3 * H);
      }
    }
    starts.push_back(starts.back() + lengths[b]);
  }
  const int64_t total = starts.back();
  std::vector<float> out(total * H);
  attention_forward_packed(out.data(), packed.data(), starts.data(), B, NH, HD, scale);
  const auto expected_padded = masked_padded_attention(padded, lengths, Tmax, NH, HD, scale);
  std::vector<float> expected;
  for (int64_t b = 0; b < B; ++b) {
    const float* first = expected_padded.data() + b * Tmax * H;
    expected.insert(expected.end(), first, first + lengths[b] * H);
  }
  EXPECT_CLOSE(out, expected, kTolerance);

  // One thread or several: the same numbers (each (sequence, head) is computed the same way).
  const int before = util::compute_threads();
  util::set_compute_threads(1);
  std::vector<float> one_thread(total * H);
  attention_forward_packed(one_thread.data(), packed.data(), starts.data(), B, NH, HD, scale);
  util::set_compute_threads(before);
  EXPECT_EQ(one_thread, out);

  // And each sequence run alone gives bit-identical rows: a batch does not change a sentence.
  for (int64_t b = 0; b < B; ++b) {
    const int64_t T = lengths[b];
    std::vector<float> alone(T * H);
    attention_forward(alone.data(), packed.data() + starts[b] * 3 * H, T, NH, HD, scale);
    EXPECT_TRUE(std::equal(alone.begin(), alone.end(), out.begin() + starts[b] * H)) << "b=" << b;
  }
}

TEST(Attention, FirstRowsOnlyEqualTheFullComputation) {
  const std::vector<int64_t> starts{0, 5, 6, 18, 18, 27};  // lengths 5, 1, 12, 0, 9
  const int64_t NH = 3, HD = 16, H = NH * HD, B = int64_t(starts.size()) - 1, total = starts.back();
  const auto qkv = random_vector(total * 3 * H, 65);
  std::vector<float> full(total * H);
  attention_forward_packed(full.data(), qkv.data(), starts.data(), B, NH, HD, 0.25f);
  for (bool reference : {false, true}) {
    SCOPED_TRACE(reference ? "reference" : "fast");
    set_reference_mode(reference);
    std::vector<float> first(B * H, -7.0f);
    attention_forward_packed_first(first.data(), qkv.data(), starts.data(), B, NH, HD, 0.25f);
    set_reference_mode(false);
    for (int64_t b = 0; b < B; ++b) {
      if (starts[b + 1] == starts[b]) {  // an empty sequence leaves its row alone
        EXPECT_EQ(first[b * H], -7.0f);
        continue;
      }
      for (int64_t c = 0; c < H; ++c) {
        const float want = full[starts[b] * H + c];
        if (reference) {
          EXPECT_NEAR(first[b * H + c], want, kTolerance) << "b=" << b << " c=" << c;
        } else {
          EXPECT_EQ(first[b * H + c], want) << "b=" << b << " c=" << c;  // the same arithmetic
        }
      }
    }
  }
}

TEST(Attention, StridedMatchesFused) {
  const int64_t T = 19, NH = 4, HD = 8, H = NH * HD, ld = H + 5;  // rows with spare columns
  const auto qkv = random_vector(T * 3 * H, 64);
  std::vector<float> q(T * ld, 7.0f), k(T * ld, 7.0f), v(T * ld, 7.0f), out(T * ld, -1.0f);
  for (int64_t t = 0; t < T; ++t) {
    std::copy_n(qkv.data() + t * 3 * H, H, q.data() + t * ld);
    std::copy_n(qkv.data() + t * 3 * H + H, H, k.data() + t * ld);
    std::copy_n(qkv.data() + t * 3 * H + 2 * H, H, v.data() + t * ld);
  }
  std::vector<float> fused(T * H);
  attention_forward(fused.data(), qkv.data(), T, NH, HD, 0.3f);
  attention_forward_strided(out.data(), ld, q.data(), ld, k.data(), ld, v.data(), ld, T, NH, HD,
                            0.3f);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t c = 0; c < ld; ++c) {
      if (c < H) {
        EXPECT_EQ(out[t * ld + c], fused[t * H + c]);
      } else {
        EXPECT_EQ(out[t * ld + c], -1.0f) << "wrote past H";
      }
    }
  }
}

// The probabilities the fast kernel never materializes: rows sum to 1, and P v is its output.
TEST(Attention, ProbabilitiesTimesValuesAreTheOutput) {
  const int64_t T = 13, NH = 3, HD = 8, H = NH * HD;
  const auto qkv = random_vector(T * 3 * H, 67);
  std::vector<float> p(NH * T * T), out(T * H);
  attention_probabilities(p.data(), qkv.data(), T, NH, HD, 0.35f);
  attention_forward(out.data(), qkv.data(), T, NH, HD, 0.35f);
  for (int64_t h = 0; h < NH; ++h) {
    for (int64_t i = 0; i < T; ++i) {
      double sum = 0;
      for (int64_t j = 0; j < T; ++j) sum += p[(h * T + i) * T + j];
      EXPECT_NEAR(sum, 1.0, 1e-6);
      for (int64_t d = 0; d < HD; ++d) {
        double context = 0;
        for (int64_t j = 0; j < T; ++j)
          context += p[(h * T + i) * T + j] * qkv[j * 3 * H + 2 * H + h * HD + d];
        EXPECT_NEAR(out[i * H + h * HD + d], context, 1e-5);
      }
    }
  }
}

TEST(Attention, LargeScoresStayFinite) {
  const int64_t T = 40, NH = 2, HD = 32, H = NH * HD;
  const auto qkv = random_vector(T * 3 * H, 65, -30.0f, 30.0f);  // scores up to ~1e4
  std::vector<float> out(T * H), ref(T * H);
  attention_forward(out.data(), qkv.data(), T, NH, HD, 1.0f);
  attention_reference(ref.data(), H, qkv.data(), 3 * H, qkv.data() + H, 3 * H, qkv.data() + 2 * H,
                      3 * H, T, NH, HD, 1.0f);
  for (float x : out) ASSERT_TRUE(std::isfinite(x));
  EXPECT_CLOSE(out, ref, kTolerance);
}

TEST(Attention, ReferenceModeRunsTheReference) {
  const int64_t T = 6, NH = 2, HD = 4, H = NH * HD;
  const auto qkv = random_vector(T * 3 * H, 66);
  std::vector<float> forced(T * H), ref(T * H);
  set_reference_mode(true);
  attention_forward(forced.data(), qkv.data(), T, NH, HD, 0.5f);
  set_reference_mode(false);
  attention_reference(ref.data(), H, qkv.data(), 3 * H, qkv.data() + H, 3 * H, qkv.data() + 2 * H,
                      3 * H, T, NH, HD, 0.5f);
  EXPECT_EQ(forced, ref);
}

TEST(Attention, RejectsBadArguments) {
  std::vector<float> v(3 * 8);
  EXPECT_THROW(attention_forward(v.data(), v.data(), 1, 0, 8, 1.0f), InvalidArgument);
  EXPECT_THROW(
      attention_forward_strided(v.data(), 4, v.data(), 8, v.data(), 8, v.data(), 8, 1, 1, 8, 1.0f),
      InvalidArgument);
  const int64_t bad_starts[3] = {0, 2, 1};
  EXPECT_THROW(attention_forward_packed(v.data(), v.data(), bad_starts, 2, 1, 8, 1.0f),
               InvalidArgument);
  EXPECT_THROW(attention_forward(nullptr, v.data(), 1, 1, 8, 1.0f), InvalidArgument);
}

}  // namespace
}  // namespace bertlite::kernels
