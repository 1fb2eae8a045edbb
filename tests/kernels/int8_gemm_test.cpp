// tests/kernels/int8_gemm_test.cpp - the AVX2 int8 GEMM sums exactly, whatever the codes.
//
// Its whole point is that full-range u8 x s8 products never saturate, so the sums are compared
// with the int64 reference for equality, on random codes and on the inputs that break a plain
// vpmaddubsw GEMM: codes 255 and 0 (re-centred to 127 and -128) against weights +-127 of one
// sign, where every pair of products exceeds int16. Shapes cover the tails: rows not a multiple
// of the 4-row tile, features not a multiple of the 16-feature panel, K not a multiple of 4.
#include "kernels/int8_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "bertlite/error.h"
#include "kernels/ref/reference.h"
#include "util/threads.h"

namespace bertlite::kernels {
namespace {

struct Shape {
  int64_t M, K, N;
};

std::vector<std::uint8_t> random_codes(int64_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(0, 255);
  std::vector<std::uint8_t> v(static_cast<size_t>(n));
  for (auto& c : v) c = static_cast<std::uint8_t>(dist(gen));
  return v;
}

std::vector<std::int8_t> random_weights(int64_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(-127, 127);
  std::vector<std::int8_t> v(static_cast<size_t>(n));
  for (auto& w : v) w = static_cast<std::int8_t>(dist(gen));
  return v;
}

void expect_exact_sums(const std::vector<std::uint8_t>& codes, const std::vector<std::int8_t>& w,
                       Shape s) {
  const Int8PackedWeights packed(w.data(), s.N, s.K);
  std::vector<std::int64_t> got(static_cast<size_t>(s.M * s.N), -1), want(got.size());
  int8_gemm_sums(got.data(), codes.data(), s.M, packed);
  int8_gemm_sums_reference(want.data(), codes.data(), w.data(), s.M, s.K, s.N);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], want[i]) << "M=" << s.M << " K=" << s.K << " N=" << s.N << " at (" << i / s.N
                               << ", " << i % s.N << ")";
  }
}

class Int8Gemm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!int8_gemm_supported()) GTEST_SKIP() << "this CPU has no AVX2 + FMA";
  }
};

TEST_F(Int8Gemm, RandomCodesSumExactlyOnEveryTail) {
  std::uint32_t seed = 1;
  for (const Shape s : {Shape{1, 1, 1}, Shape{3, 5, 17}, Shape{4, 8, 16}, Shape{5, 387, 33},
                        Shape{9, 64, 15}, Shape{70, 384, 100}, Shape{130, 1536, 40}}) {
    expect_exact_sums(random_codes(s.M * s.K, seed), random_weights(s.N * s.K, seed + 1), s);
    seed += 2;
  }
}

TEST_F(Int8Gemm, InputsThatSaturateVpmaddubswSumExactly) {
  const Shape s{6, 3072, 20};
  for (const std::uint8_t code : {std::uint8_t{255}, std::uint8_t{0}}) {
    for (const std::int8_t weight : {std::int8_t{127}, std::int8_t{-127}}) {
      SCOPED_TRACE("code " + std::to_string(code) + ", weight " + std::to_string(weight));
      const std::vector<std::uint8_t> codes(static_cast<size_t>(s.M * s.K), code);
      const std::vector<std::int8_t> w(static_cast<size_t>(s.N * s.K), weight);
      expect_exact_sums(codes, w, s);
      // And the size a saturating pair-sum would miss by: K x code x weight.
      std::vector<std::int64_t> got(static_cast<size_t>(s.M * s.N));
      int8_gemm_sums(got.data(), codes.data(), s.M, Int8PackedWeights(w.data(), s.N, s.K));
      EXPECT_EQ(got[0], s.K * code * weight);
    }
  }
}

TEST_F(Int8Gemm, SameSumsOnOneAndTwoThreads) {
  const Shape s{200, 384, 100};
  const auto codes = random_codes(s.M * s.K, 7);
  const auto w = random_weights(s.N * s.K, 8);
  const Int8PackedWeights packed(w.data(), s.N, s.K);
  const int threads = util::compute_threads();
  std::vector<std::int64_t> one(static_cast<size_t>(s.M * s.N)), two(one.size());
  util::set_compute_threads(1);
  int8_gemm_sums(one.data(), codes.data(), s.M, packed);
  util::set_compute_threads(2);
  int8_gemm_sums(two.data(), codes.data(), s.M, packed);
  util::set_compute_threads(threads);
  EXPECT_EQ(one, two);
}

// y = act(row_scale * weight_scale * (S - row_zero * sum_k W) + bias), against that formula in
// double on the reference sums.
TEST_F(Int8Gemm, DequantizesAsItsFormulaSays) {
  const Shape s{11, 300, 37};
  const auto codes = random_codes(s.M * s.K, 11);
  const auto w = random_weights(s.N * s.K, 12);
  std::vector<float> row_scale(s.M), row_zero(s.M), weight_scale(s.N), bias(s.N);
  for (int64_t m = 0; m < s.M; ++m)
    row_scale[m] = 0.01f * (m + 1), row_zero[m] = float(m * 23 % 256);
  for (int64_t n = 0; n < s.N; ++n) weight_scale[n] = 0.002f * (n + 1), bias[n] = 0.1f * n - 1.0f;
  const Int8PackedWeights packed(w.data(), s.N, s.K);
  const auto size = static_cast<size_t>(int8_gemm_rows(s.M) * packed.padded_K());
  std::vector<std::uint8_t> magnitudes(size, 0);
  std::vector<std::int8_t> centred(size, 0);
  const Int8Rows rows{magnitudes.data(), centred.data()};
  centre_codes(rows, codes.data(), s.M, s.K, packed.padded_K());
  std::vector<std::int64_t> sums(static_cast<size_t>(s.M * s.N));
  int8_gemm_sums_reference(sums.data(), codes.data(), w.data(), s.M, s.K, s.N);
  for (const Activation act : {Activation::kNone, Activation::kGeluErf}) {
    std::vector<float> y(static_cast<size_t>(s.M * s.N));
    int8_gemm(y.data(), rows, s.M, packed,
              {row_scale.data(), row_zero.data(), weight_scale.data(), bias.data(), act});
    for (int64_t m = 0; m < s.M; ++m) {
      for (int64_t n = 0; n < s.N; ++n) {
        double want = double(row_scale[m]) * weight_scale[n] *
                          (double(sums[m * s.N + n]) - row_zero[m] * packed.row_sums()[n]) +
                      bias[n];
        if (act == Activation::kGeluErf) want = 0.5 * want * (1 + std::erf(want / std::sqrt(2.0)));
        ASSERT_NEAR(y[m * s.N + n], want, 1e-5 * std::max(1.0, std::abs(want)))
            << "(" << m << ", " << n << ")";
      }
    }
  }
}

TEST(Int8PackedWeights, UnpacksToItsInputAndRefusesWhatItCannotSum) {
  const auto w = random_weights(37 * 19, 5);
  const Int8PackedWeights packed(w.data(), 37, 19);
  EXPECT_EQ(packed.unpack(), w);
  EXPECT_EQ(packed.padded_K(), 20);
  EXPECT_EQ(packed.panels(), 3);
  std::vector<std::int8_t> bad = w;
  bad[40] = -128;
  EXPECT_THROW(Int8PackedWeights(bad.data(), 37, 19), InvalidArgument);
  EXPECT_THROW(Int8PackedWeights(w.data(), 0, 19), InvalidArgument);
  EXPECT_THROW(Int8PackedWeights(w.data(), 1, kInt8GemmMaxK + 1), InvalidArgument);
}

}  // namespace
}  // namespace bertlite::kernels
