// tests/kernels/linear_test.cpp - Linear (oneDNN) against linear_reference (double loops).
//
// Tolerance: inputs and weights are uniform in [-1, 1], so each output is a sum of K products
// of size <= 1. float GEMM with any summation order stays within ~K * 2^-24 of the true sum in
// the worst case and ~sqrt(K) * 2^-24 typically; we allow 1e-5 of max(1, max |y|), which for
// K = 3072 is still 10x the typical error and catches any wrong element, layout or epilogue.
#include "kernels/linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <thread>
#include <tuple>

#include "bertlite/error.h"
#include "kernels/dispatch.h"
#include "kernels/ref/reference.h"
#include "kernels/test_util.h"
#include "util/threads.h"

namespace bertlite::kernels {
namespace {

using testing::compare;
using testing::random_vector;

constexpr double kTolerance = 1e-5;

struct Case {
  int64_t M, K, N;
};

std::vector<float> run_reference(const std::vector<float>& x, const std::vector<float>& w,
                                 const std::vector<float>* b, std::vector<float> y, const Case& c,
                                 LinearEpilogue e) {
  linear_reference(y.data(), x.data(), w.data(), b ? b->data() : nullptr, c.M, c.K, c.N, e);
  return y;
}

class LinearShapes : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, int64_t>> {};

TEST_P(LinearShapes, MatchesReferenceForEveryEpilogueAndPlan) {
  const auto [M, K, N] = GetParam();
  const Case c{M, K, N};
  const auto x = random_vector(M * K, 1);
  const auto w = random_vector(N * K, 2);
  const auto b = random_vector(N, 3);
  const auto residual = random_vector(M * N, 4);
  for (LinearPlan plan : {LinearPlan::kRuntimeM, LinearPlan::kPerM}) {
    for (Activation act :
         {Activation::kNone, Activation::kGeluErf, Activation::kGeluTanh, Activation::kTanh}) {
      for (bool accumulate : {false, true}) {
        const LinearEpilogue e{act, accumulate};
        SCOPED_TRACE("plan=" + std::to_string(int(plan)) + " act=" + std::to_string(int(act)) +
                     " accumulate=" + std::to_string(accumulate));
        const Linear linear(w.data(), b.data(), N, K, e, plan);
        std::vector<float> y = residual;
        linear.forward(y.data(), x.data(), M);
        EXPECT_CLOSE(y, run_reference(x, w, &b, residual, c, e), kTolerance);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(OddSizes, LinearShapes,
                         ::testing::Combine(::testing::Values(1, 7, 33),
                                            ::testing::Values(48, 100, 384),
                                            ::testing::Values(48, 144, 1536)));

TEST(Linear, NoBias) {
  const Case c{5, 64, 24};
  const auto x = random_vector(c.M * c.K, 5);
  const auto w = random_vector(c.N * c.K, 6);
  const Linear linear(w.data(), nullptr, c.N, c.K);
  std::vector<float> y(c.M * c.N, 123.0f);  // garbage that must be overwritten
  linear.forward(y.data(), x.data(), c.M);
  EXPECT_CLOSE(y, run_reference(x, w, nullptr, std::vector<float>(c.M * c.N), c, {}), kTolerance);
  EXPECT_TRUE(linear.bias().empty());
}

TEST(Linear, OneLinearServesManyRowCounts) {
  const int64_t K = 96, N = 80;
  const auto w = random_vector(N * K, 7);
  const auto b = random_vector(N, 8);
  const Linear linear(w.data(), b.data(), N, K);
  for (int64_t M : {1, 2, 3, 64, 65, 257, 1000}) {
    const auto x = random_vector(M * K, 100 + M);
    std::vector<float> y(M * N);
    linear.forward(y.data(), x.data(), M);
    EXPECT_CLOSE(y, run_reference(x, w, &b, std::vector<float>(M * N), Case{M, K, N}, {}),
                 kTolerance)
        << "M=" << M;
  }
}

TEST(Linear, LargeKStaysWithinTolerance) {
  const Case c{9, 3072, 40};
  const auto x = random_vector(c.M * c.K, 9);
  const auto w = random_vector(c.N * c.K, 10);
  const auto b = random_vector(c.N, 11);
  const Linear linear(w.data(), b.data(), c.N, c.K, {Activation::kGeluErf, false});
  std::vector<float> y(c.M * c.N);
  linear.forward(y.data(), x.data(), c.M);
  EXPECT_CLOSE(y, run_reference(x, w, &b, y, c, linear.epilogue()), kTolerance);
}

TEST(Linear, WeightRoundTripsAndShapesAreReported) {
  const auto w = random_vector(30 * 20, 12);
  const Linear linear(w.data(), nullptr, 30, 20);
  EXPECT_EQ(linear.weight(), w);
  EXPECT_EQ(linear.out_features(), 30);
  EXPECT_EQ(linear.in_features(), 20);
  EXPECT_FALSE(linear.implementation().empty());
}

// Float weights are borrowed while the GEMM is planned (to save a copy at load); afterwards the
// Linear must hold its own, also for plans made later (per-M plans are made on first use).
TEST(Linear, CopiesItsInputs) {
  for (const LinearPlan plan : {LinearPlan::kDefault, LinearPlan::kRuntimeM, LinearPlan::kPerM}) {
    auto w = random_vector(16 * 8, 13);
    auto b = random_vector(16, 14);
    const auto w_copy = w, b_copy = b;
    const Linear linear(w.data(), b.data(), 16, 8, {}, plan);
    std::fill(w.begin(), w.end(), std::numeric_limits<float>::quiet_NaN());
    std::fill(b.begin(), b.end(), std::numeric_limits<float>::quiet_NaN());
    for (const std::int64_t rows : {3, 37}) {
      const auto x = random_vector(rows * 8, 15);
      std::vector<float> y(rows * 16);
      linear.forward(y.data(), x.data(), rows);
      EXPECT_CLOSE(y, run_reference(x, w_copy, &b_copy, y, Case{rows, 8, 16}, {}), kTolerance);
    }
  }
}

TEST(Linear, ReferenceModeRunsTheReference) {
  const Case c{4, 32, 12};
  const auto x = random_vector(c.M * c.K, 16);
  const auto w = random_vector(c.N * c.K, 17);
  const auto b = random_vector(c.N, 18);
  const Linear linear(w.data(), b.data(), c.N, c.K, {Activation::kTanh, false});
  std::vector<float> y(c.M * c.N);
  set_reference_mode(true);
  linear.forward(y.data(), x.data(), c.M);
  set_reference_mode(false);
  // Bit-identical: the very same function ran.
  EXPECT_EQ(y, run_reference(x, w, &b, y, c, linear.epilogue()));
}

TEST(Linear, ThreadCountChangesAndConcurrentCallsGiveTheSameResult) {
  const Case c{50, 128, 96};
  const auto x = random_vector(c.M * c.K, 19);
  const auto w = random_vector(c.N * c.K, 20);
  const auto b = random_vector(c.N, 21);
  const auto expected = run_reference(x, w, &b, std::vector<float>(c.M * c.N), c, {});
  const Linear linear(w.data(), b.data(), c.N, c.K);
  const int before = util::compute_threads();
  for (int threads : {1, 2, 1}) {
    util::set_compute_threads(threads);
    std::vector<float> y(c.M * c.N);
    linear.forward(y.data(), x.data(), c.M);
    EXPECT_CLOSE(y, expected, kTolerance) << "threads=" << threads;
  }
  util::set_compute_threads(before);
  std::vector<float> y1(c.M * c.N), y2(c.M * c.N);
  std::thread t1([&] {
    for (int i = 0; i < 20; ++i) linear.forward(y1.data(), x.data(), c.M);
  });
  std::thread t2([&] {
    for (int i = 0; i < 20; ++i) linear.forward(y2.data(), x.data(), c.M);
  });
  t1.join();
  t2.join();
  EXPECT_CLOSE(y1, expected, kTolerance);
  EXPECT_CLOSE(y2, expected, kTolerance);
}

// bf16 and int8 against the float reference. Tolerances: bf16 rounds inputs and weights to 8
// significant bits (relative error 2^-9 each), so each product is off by ~2^-8 relative and a
// K-term sum of random-sign terms by ~sqrt(K) * 2^-8 * typical |product| (1/3): about 0.06 for
// K = 768; int8 steps are max/127 for both operands, similar size. We allow 3e-2 of sqrt(K),
// several times the expected error, and check the error is not far smaller than rounding
// implies for bf16 (so the reduced path really ran).
TEST(Linear, ReducedPrecisionStaysNearTheFloatResult) {
  const int64_t M = 37, K = 768, N = 96;
  const auto x = random_vector(M * K, 71);
  const auto w = random_vector(N * K, 72);
  const auto b = random_vector(N, 73);
  for (Activation act : {Activation::kNone, Activation::kGeluErf}) {
    const LinearEpilogue e{act, false};
    const std::vector<float> want =
        run_reference(x, w, &b, std::vector<float>(M * N), {M, K, N}, e);
    for (Precision p : {Precision::kBF16, Precision::kInt8}) {
      SCOPED_TRACE(precision_name(p));
      Linear linear(w.data(), b.data(), N, K, e, LinearPlan::kDefault, p);
      EXPECT_EQ(linear.precision(), p);
      std::vector<float> y(M * N);
      linear.forward(y.data(), x.data(), M);
      if (p == Precision::kBF16 && !precision_notice(p).empty()) {
        // No bfloat16 GEMM here: fp32 GEMMs on the bf16-rounded weights, to the bit, and it
        // says so.
        const std::vector<float> used = linear.weight();
        double w_err = 0;
        for (size_t i = 0; i < w.size(); ++i)
          w_err = std::max(w_err, double(std::abs(used[i] - w[i])));
        EXPECT_GT(w_err, 0.0);
        EXPECT_LT(w_err, 1.0 / 256);
        Linear fp32(used.data(), b.data(), N, K, e);
        std::vector<float> y32(M * N);
        fp32.forward(y32.data(), x.data(), M);
        EXPECT_EQ(y, y32);
        EXPECT_TRUE(linear.implementation().ends_with("+bf16-as-fp32")) << linear.implementation();
        continue;
      }
      double max_err = 0;
      for (size_t i = 0; i < y.size(); ++i)
        max_err = std::max(max_err, double(std::abs(y[i] - want[i])));
      EXPECT_LT(max_err, 3e-2 * std::sqrt(double(K))) << linear.implementation();
      EXPECT_GT(max_err, 1e-4) << "no rounding happened: " << linear.implementation();
      // weight() gives what the GEMM used: rounded or dequantized, close to the original.
      const std::vector<float> used = linear.weight();
      double w_err = 0;
      for (size_t i = 0; i < w.size(); ++i)
        w_err = std::max(w_err, double(std::abs(used[i] - w[i])));
      EXPECT_LT(w_err, p == Precision::kBF16 ? 1.0 / 256 : 1.0 / 127);
      EXPECT_GT(w_err, 0.0);
      // And a float GEMM with those weights and rounded inputs is what bf16 computes.
      if (p == Precision::kBF16) {
        std::vector<float> xr(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
          uint32_t bits;
          std::memcpy(&bits, &x[i], 4);
          bits += 0x7FFFu + ((bits >> 16) & 1u);
          bits &= 0xFFFF0000u;
          std::memcpy(&xr[i], &bits, 4);
        }
        const std::vector<float> emulated =
            run_reference(xr, used, &b, std::vector<float>(M * N), {M, K, N}, e);
        double diff = 0;
        for (size_t i = 0; i < y.size(); ++i)
          diff = std::max(diff, double(std::abs(y[i] - emulated[i])));
        EXPECT_LT(diff, 1e-4) << linear.implementation();
      }
    }
  }
  EXPECT_EQ(parse_precision("bf16"), Precision::kBF16);
  EXPECT_THROW(parse_precision("fp8"), InvalidArgument);
  EXPECT_THROW(Linear(w.data(), b.data(), N, K, {Activation::kNone, true}, LinearPlan::kDefault,
                      Precision::kInt8),
               InvalidArgument);
}

// int8 must compute exactly what its quantized inputs stand for, on every CPU. Inputs at the top
// of their range and weights of one sign make every pair of u8 x s8 products exceed int16: a
// GEMM that adds pairs in int16 (vpmaddubsw, CPUs without VNNI) would saturate and be off by
// about half here, so this fails unless Linear runs a VNNI GEMM or emulates int8 in float.
TEST(Linear, Int8ComputesWhatItsQuantizedInputsStandFor) {
  const int64_t M = 5, K = 256, N = 8;
  std::vector<float> x(M * K), w = random_vector(N * K, 91);
  for (int64_t i = 0; i < M * K; ++i) x[i] = i % K == 0 ? 0.0f : 4.0f;  // codes 0 and 255
  for (float& v : w) v = 0.5f + 0.5f * std::abs(v);                     // all positive
  const Linear linear(w.data(), nullptr, N, K, {}, LinearPlan::kDefault, Precision::kInt8);
  std::vector<float> y(M * N);
  linear.forward(y.data(), x.data(), M);
  // The row quantizes exactly (0 -> 0, 4 -> 255), so the product with the weights the GEMM used
  // is the whole answer.
  const std::vector<float> used = linear.weight();
  const std::vector<float> want = run_reference(x, used, nullptr, y, {M, K, N}, {});
  double worst = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    worst = std::max(worst, std::abs(double(y[i]) - want[i]) / std::abs(double(want[i])));
  }
  EXPECT_LT(worst, 1e-5) << linear.implementation();
}

TEST(Linear, RejectsBadArguments) {
  const auto w = random_vector(8, 22);
  EXPECT_THROW(Linear(w.data(), nullptr, 0, 8), InvalidArgument);
  EXPECT_THROW(Linear(w.data(), nullptr, 8, 0), InvalidArgument);
  EXPECT_THROW(Linear(nullptr, nullptr, 1, 8), InvalidArgument);
  const Linear linear(w.data(), nullptr, 1, 8);
  std::vector<float> y(1), x(8);
  EXPECT_THROW(linear.forward(y.data(), x.data(), -1), InvalidArgument);
  EXPECT_THROW(linear.forward(nullptr, x.data(), 1), InvalidArgument);
  EXPECT_NO_THROW(linear.forward(nullptr, nullptr, 0));
}

}  // namespace
}  // namespace bertlite::kernels
