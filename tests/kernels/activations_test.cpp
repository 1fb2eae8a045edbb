// tests/kernels/activations_test.cpp - GELU and tanh against the exact formulas in double, and
// the vec_math approximations they are built on, over a dense sweep of inputs.
//
// Tolerances (measured errors are printed by the sweep tests, so a change shows up in the log):
//   vec::exp   relative error <= 1.5e-7 (about 1.2 float ulps) over [-87, 88]
//   vec::tanh  absolute error <= 1.5e-7 over [-20, 20]
//   vec::erf   absolute error <= 2.5e-7 (A&S 7.1.26 is 1.5e-7, plus float rounding)
//   GELU       |error| <= 2e-7 * max(1, |x|) over [-12, 12], both forms
#include "kernels/activations.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "bertlite/error.h"
#include "kernels/dispatch.h"
#include "kernels/ref/reference.h"
#include "kernels/test_util.h"
#include "kernels/vec_math.h"

namespace bertlite::kernels {
namespace {

using testing::random_vector;

// Inputs from lo to hi in `steps` equal steps, plus a few special points.
std::vector<float> sweep(float lo, float hi, int steps) {
  std::vector<float> xs;
  for (int i = 0; i <= steps; ++i) xs.push_back(lo + (hi - lo) * float(i) / float(steps));
  for (float x : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-7f, -1e-7f, 0.625f, -0.625f}) xs.push_back(x);
  return xs;
}

double exact_gelu_erf(double x) {
  return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2));
}
double exact_gelu_tanh(double x) {
  return 0.5 * x *
         (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
}

TEST(VecMath, ExpRelativeError) {
  double worst = 0;
  for (float x : sweep(-87.0f, 88.0f, 2'000'000)) {
    const double exact = std::exp(double(x));
    worst = std::max(worst, std::abs(vec::exp(x) - exact) / exact);
  }
  EXPECT_LE(worst, 1.5e-7);
  std::printf("vec::exp worst relative error %.3g\n", worst);
  // Saturation instead of 0 / inf, always finite and normal.
  EXPECT_GT(vec::exp(-1000.0f), 0.0f);
  EXPECT_LT(vec::exp(-1000.0f), 2e-38f);
  EXPECT_TRUE(std::isfinite(vec::exp(1000.0f)));
  EXPECT_TRUE(std::isnormal(vec::exp(-87.0f)));
}

TEST(VecMath, TanhAndErfAbsoluteErrors) {
  double worst_tanh = 0, worst_erf = 0;
  for (float x : sweep(-20.0f, 20.0f, 2'000'000)) {
    worst_tanh = std::max(worst_tanh, std::abs(vec::tanh(x) - std::tanh(double(x))));
    worst_erf = std::max(worst_erf, std::abs(vec::erf(x) - std::erf(double(x))));
  }
  std::printf("vec::tanh worst abs error %.3g, vec::erf %.3g\n", worst_tanh, worst_erf);
  EXPECT_LE(worst_tanh, 1.5e-7);
  EXPECT_LE(worst_erf, 2.5e-7);
  EXPECT_EQ(vec::tanh(0.0f), 0.0f);
  EXPECT_EQ(vec::tanh(100.0f), 1.0f);
  EXPECT_EQ(vec::tanh(-100.0f), -1.0f);
  // Tiny inputs keep their relative accuracy (the polynomial branch).
  EXPECT_FLOAT_EQ(vec::tanh(1e-6f), 1e-6f);
}

class GeluForms : public ::testing::TestWithParam<GeluKind> {};

TEST_P(GeluForms, MatchesTheExactFormula) {
  const GeluKind kind = GetParam();
  std::vector<float> xs = sweep(-12.0f, 12.0f, 1'000'001);  // > one parallel chunk
  std::vector<float> ys = xs;
  gelu_forward(ys.data(), int64_t(ys.size()), kind);
  double worst = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double x = xs[i];
    const double exact = kind == GeluKind::kErf ? exact_gelu_erf(x) : exact_gelu_tanh(x);
    worst = std::max(worst, std::abs(ys[i] - exact) / std::max(1.0, std::abs(x)));
  }
  std::printf("gelu(%s) worst error / max(1,|x|) %.3g\n", kind == GeluKind::kErf ? "erf" : "tanh",
              worst);
  EXPECT_LE(worst, 2e-7);
}

TEST_P(GeluForms, ReferenceTwinAgreesAndReferenceModeUsesIt) {
  const GeluKind kind = GetParam();
  const auto x = random_vector(40'000, 31, -6.0f, 6.0f);
  auto fast = x, ref = x, forced = x;
  gelu_forward(fast.data(), int64_t(fast.size()), kind);
  gelu_reference(ref.data(), int64_t(ref.size()), kind);
  EXPECT_CLOSE(fast, ref, 2e-7 * 6);
  set_reference_mode(true);
  gelu_forward(forced.data(), int64_t(forced.size()), kind);
  set_reference_mode(false);
  EXPECT_EQ(forced, ref);
}

INSTANTIATE_TEST_SUITE_P(BothForms, GeluForms, ::testing::Values(GeluKind::kErf, GeluKind::kTanh));

TEST(Gelu, KnownValues) {
  // gelu(1) = Phi(1) = 0.8413447460685429; gelu(-3) = -3 * Phi(-3) = -0.0040496...
  std::vector<float> v{1.0f, -3.0f, 0.0f};
  gelu_forward(v.data(), 3, GeluKind::kErf);
  EXPECT_NEAR(v[0], 0.8413447460685429, 2e-7);
  EXPECT_NEAR(v[1], -3.0 * 0.0013498980316301, 6e-7);
  EXPECT_EQ(v[2], 0.0f);
}

TEST(Tanh, MatchesStdTanhAndTheReference) {
  const auto x = random_vector(70'000, 32, -10.0f, 10.0f);
  auto fast = x, ref = x;
  tanh_forward(fast.data(), int64_t(fast.size()));
  tanh_reference(ref.data(), int64_t(ref.size()));
  EXPECT_CLOSE(fast, ref, 3e-7);
}

TEST(Activation, DispatchesToEachForm) {
  const auto x = random_vector(100, 33, -4.0f, 4.0f);
  for (Activation a :
       {Activation::kNone, Activation::kGeluErf, Activation::kGeluTanh, Activation::kTanh}) {
    auto y = x, expected = x;
    activation_forward(y.data(), 100, a);
    if (a == Activation::kGeluErf) gelu_reference(expected.data(), 100, GeluKind::kErf);
    if (a == Activation::kGeluTanh) gelu_reference(expected.data(), 100, GeluKind::kTanh);
    if (a == Activation::kTanh) tanh_reference(expected.data(), 100);
    EXPECT_CLOSE(y, expected, 1e-6) << int(a);
  }
  if (x[0] != 0.0f) {
    auto y = x;
    activation_forward(y.data(), 100, Activation::kTanh);
    EXPECT_NE(y, x);  // the test above can tell forms apart
  }
}

TEST(Activation, RejectsBadArguments) {
  EXPECT_THROW(gelu_forward(nullptr, 3, GeluKind::kErf), InvalidArgument);
  float v = 1.0f;
  EXPECT_THROW(tanh_forward(&v, -1), InvalidArgument);
  EXPECT_NO_THROW(gelu_forward(nullptr, 0, GeluKind::kErf));
}

}  // namespace
}  // namespace bertlite::kernels
