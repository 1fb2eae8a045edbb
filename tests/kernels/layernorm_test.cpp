// tests/kernels/layernorm_test.cpp - fast LayerNorm against the double-precision reference.
//
// Tolerance: 2e-6 of max(1, max |out|). Normalised outputs are O(gamma * few), and the fast path
// accumulates in double like the reference, so the remaining error is the float arithmetic of the
// final scale-and-shift (a few ulps); the bound still fails on any wrong mean, variance (biased vs
// unbiased differs by 1/C), eps placement or gamma/beta index.
#include "kernels/layernorm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "bertlite/error.h"
#include "kernels/dispatch.h"
#include "kernels/ref/reference.h"
#include "kernels/test_util.h"

namespace bertlite::kernels {
namespace {

using testing::random_vector;

constexpr double kTolerance = 2e-6;

class LayerNormShapes : public ::testing::TestWithParam<std::tuple<int64_t, int64_t>> {};

TEST_P(LayerNormShapes, MatchesDoubleReferenceWithAndWithoutResidual) {
  const auto [M, C] = GetParam();
  // A BERT-like residual stream: offset mean, a few large channels.
  auto in = random_vector(M * C, 41, -3.0f, 5.0f);
  for (int64_t m = 0; m < M; ++m) in[m * C + (m % C)] = 300.0f;
  const auto residual = random_vector(M * C, 42);
  const auto gamma = random_vector(C, 43, 0.5f, 1.5f);
  const auto beta = random_vector(C, 44);
  for (bool with_residual : {false, true}) {
    const float* r = with_residual ? residual.data() : nullptr;
    std::vector<float> out(M * C), ref(M * C), mean(M), rstd(M), ref_mean(M), ref_rstd(M);
    layernorm_forward(out.data(), mean.data(), rstd.data(), in.data(), r, gamma.data(), beta.data(),
                      M, C, 1e-12f);
    layernorm_reference(ref.data(), ref_mean.data(), ref_rstd.data(), in.data(), r, gamma.data(),
                        beta.data(), M, C, 1e-12f);
    EXPECT_CLOSE(out, ref, kTolerance) << "residual=" << with_residual;
    EXPECT_CLOSE(mean, ref_mean, 1e-6);
    EXPECT_CLOSE(rstd, ref_rstd, 1e-6);
  }
}

INSTANTIATE_TEST_SUITE_P(OddSizes, LayerNormShapes,
                         ::testing::Combine(::testing::Values(1, 7, 33, 1000),
                                            ::testing::Values(48, 100, 384, 768)));

TEST(LayerNorm, ReferenceIsRightOnAHandExample) {
  // Row [1, 2, 3, 4]: mean 2.5, biased variance 1.25.
  const std::vector<float> in{1, 2, 3, 4}, gamma{1, 1, 2, 1}, beta{0, 0, 0, 10};
  std::vector<float> out(4);
  layernorm_forward(out.data(), nullptr, nullptr, in.data(), nullptr, gamma.data(), beta.data(), 1,
                    4, 0.0f);
  const double s = std::sqrt(1.25);
  EXPECT_NEAR(out[0], -1.5 / s, 1e-6);
  EXPECT_NEAR(out[1], -0.5 / s, 1e-6);
  EXPECT_NEAR(out[2], 2 * 0.5 / s, 1e-6);
  EXPECT_NEAR(out[3], 1.5 / s + 10, 1e-6);
}

TEST(LayerNorm, EpsIsInsideTheSquareRoot) {
  // A constant row has variance 0, so out = beta + 0 and rstd = 1/sqrt(eps).
  const std::vector<float> in(8, 3.0f), gamma(8, 1.0f), beta(8, 0.5f);
  std::vector<float> out(8), rstd(1);
  layernorm_forward(out.data(), nullptr, rstd.data(), in.data(), nullptr, gamma.data(), beta.data(),
                    1, 8, 1e-4f);
  EXPECT_NEAR(rstd[0], 100.0, 1e-3);
  for (float v : out) EXPECT_EQ(v, 0.5f);
}

TEST(LayerNorm, OutputMayAliasInputOrResidual) {
  const int64_t M = 9, C = 100;
  const auto in = random_vector(M * C, 45);
  const auto residual = random_vector(M * C, 46);
  const auto gamma = random_vector(C, 47);
  const auto beta = random_vector(C, 48);
  std::vector<float> expected(M * C);
  layernorm_reference(expected.data(), nullptr, nullptr, in.data(), residual.data(), gamma.data(),
                      beta.data(), M, C, 1e-5f);
  auto in_place = in;
  layernorm_forward(in_place.data(), nullptr, nullptr, in_place.data(), residual.data(),
                    gamma.data(), beta.data(), M, C, 1e-5f);
  EXPECT_CLOSE(in_place, expected, kTolerance);
  auto into_residual = residual;
  layernorm_forward(into_residual.data(), nullptr, nullptr, in.data(), into_residual.data(),
                    gamma.data(), beta.data(), M, C, 1e-5f);
  EXPECT_CLOSE(into_residual, expected, kTolerance);
}

TEST(LayerNorm, ReferenceModeRunsTheReference) {
  const int64_t M = 3, C = 50;
  const auto in = random_vector(M * C, 49);
  const auto gamma = random_vector(C, 50);
  const auto beta = random_vector(C, 51);
  std::vector<float> forced(M * C), ref(M * C);
  set_reference_mode(true);
  layernorm_forward(forced.data(), nullptr, nullptr, in.data(), nullptr, gamma.data(), beta.data(),
                    M, C, 1e-12f);
  set_reference_mode(false);
  layernorm_reference(ref.data(), nullptr, nullptr, in.data(), nullptr, gamma.data(), beta.data(),
                      M, C, 1e-12f);
  EXPECT_EQ(forced, ref);
}

TEST(LayerNorm, RejectsBadArguments) {
  std::vector<float> v(4);
  EXPECT_THROW(layernorm_forward(v.data(), nullptr, nullptr, v.data(), nullptr, v.data(), v.data(),
                                 1, 0, 1e-5f),
               InvalidArgument);
  EXPECT_THROW(layernorm_forward(v.data(), nullptr, nullptr, nullptr, nullptr, v.data(), v.data(),
                                 1, 4, 1e-5f),
               InvalidArgument);
  EXPECT_THROW(layernorm_forward(v.data(), nullptr, nullptr, v.data(), nullptr, v.data(), v.data(),
                                 1, 4, -1.0f),
               InvalidArgument);
}

}  // namespace
}  // namespace bertlite::kernels
