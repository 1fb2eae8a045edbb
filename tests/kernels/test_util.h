// tests/kernels/test_util.h - random inputs and error measures shared by the kernel tests.
//
// Every comparison reports two numbers (STYLE point 13): the max absolute error, and the
// scale-free error max_abs / max(1, max |expected|), which is what the tolerances bound.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace bertlite::kernels::testing {

inline std::vector<float> random_vector(size_t n, uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

struct ErrorReport {
  double max_abs = 0;
  double max_expected = 0;
  int64_t worst_index = -1;
  double scaled() const { return max_abs / std::max(1.0, max_expected); }
  std::string str() const {
    return "max_abs=" + std::to_string(max_abs) + " scaled=" + std::to_string(scaled()) +
           " at index " + std::to_string(worst_index) +
           " (max |expected|=" + std::to_string(max_expected) + ")";
  }
};

inline ErrorReport compare(const std::vector<float>& actual, const std::vector<float>& expected) {
  ErrorReport r;
  for (size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
    const double e = std::abs(double(actual[i]) - double(expected[i]));
    // NaN must fail, so treat it as an infinite error.
    const double err = std::isnan(e) ? INFINITY : e;
    if (err > r.max_abs || r.worst_index < 0) {
      r.max_abs = err;
      r.worst_index = static_cast<int64_t>(i);
    }
    r.max_expected = std::max(r.max_expected, std::abs(double(expected[i])));
  }
  return r;
}

// Success when the sizes match and the scale-free error is at most `tolerance`.
inline ::testing::AssertionResult close_to(const std::vector<float>& actual,
                                           const std::vector<float>& expected, double tolerance) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure()
           << "sizes differ: " << actual.size() << " vs " << expected.size();
  }
  const ErrorReport r = compare(actual, expected);
  if (r.scaled() <= tolerance) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.str() << " exceeds tolerance " << tolerance;
}

// EXPECT_CLOSE(actual, expected, tolerance) << "more context";
#define EXPECT_CLOSE(actual, expected, tolerance) \
  EXPECT_TRUE(::bertlite::kernels::testing::close_to(actual, expected, tolerance))

}  // namespace bertlite::kernels::testing
