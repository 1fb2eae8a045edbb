// tests/learn/pca_test.cpp - PCA against scikit-learn's (same components, signs, variances,
// projections), the eigen-equation on a wider matrix with nearly equal leading eigenvalues,
// errors.
#include "learn/pca.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "bertlite/error.h"
#include "learn/split.h"
#include "learn_test_helpers.h"

namespace bertlite::learn {
namespace {

using test::dataset;
using test::flat;
using test::goldens;
using test::throws_with;

// The goldens' wide matrix: numpy RandomState(7).random_sample((300, 384)) as float32, column j
// scaled by float32(1 / sqrt(1 + j)) in float32 (tools/make_learn_goldens.py: pca_x).
Matrix random_sample_matrix() {
  NumpyRandomState random(7);
  Matrix m{std::vector<float>(300 * 384), 300, 384};
  for (std::int64_t i = 0; i < 300; ++i) {
    for (std::int64_t j = 0; j < 384; ++j) {
      // numpy's legacy random_sample: 53 bits from two 32-bit draws.
      const std::uint32_t a = random.next_uint32() >> 5, b = random.next_uint32() >> 6;
      const double u = (a * 67108864.0 + b) / 9007199254740992.0;
      const auto scale = static_cast<float>(1.0 / std::sqrt(1.0 + static_cast<double>(j)));
      m.data[i * 384 + j] = static_cast<float>(u) * scale;
    }
  }
  return m;
}

TEST(Pca, MatchesScikitLearn) {
  const Matrix wide = random_sample_matrix();
  for (const auto& e : goldens()["pca"]) {
    const std::string name = e["dataset"];
    SCOPED_TRACE(name);
    const MatrixView x = name == "random_sample_300x384" ? wide.view() : dataset(name).x.view();
    const int k = e["k"].get<int>();
    const Pca pca = fit_pca(x, k);
    EXPECT_TRUE(pca.converged);
    EXPECT_LE(test::max_abs_error(pca.mean, flat(e["mean"])), 1e-12);
    // Same sign convention (svd_flip), so no sign is forgiven.
    const double components = test::max_abs_error(pca.components, flat(e["components"]));
    const double variance =
        test::relative_error(pca.explained_variance, flat(e["explained_variance"]));
    const double ratio =
        test::relative_error(pca.explained_variance_ratio, flat(e["explained_variance_ratio"]));
    const double projected = test::relative_error(
        pca.transform({x.data.subspan(0, 10 * x.cols), 10, x.cols}), flat(e["transform_head"]));
    std::printf("  %-24s components %.1e  variance %.1e  ratio %.1e  transform %.1e  rounds %d\n",
                name.c_str(), components, variance, ratio, projected, pca.iterations);
    EXPECT_LE(components, 1e-7);
    EXPECT_LE(variance, 1e-10);
    EXPECT_LE(ratio, 1e-10);
    EXPECT_LE(projected, 1e-7);
  }
}

// Orthonormalizes the columns of a [rows, cols] row-major matrix in place (Gram-Schmidt twice).
void orthonormal_columns(std::vector<double>& a, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t j = 0; j < cols; ++j) {
    for (int pass = 0; pass < 2; ++pass) {
      for (std::int64_t i = 0; i < j; ++i) {
        double dot = 0;
        for (std::int64_t r = 0; r < rows; ++r) dot += a[r * cols + i] * a[r * cols + j];
        for (std::int64_t r = 0; r < rows; ++r) a[r * cols + j] -= dot * a[r * cols + i];
      }
    }
    double norm = 0;
    for (std::int64_t r = 0; r < rows; ++r) norm += a[r * cols + j] * a[r * cols + j];
    for (std::int64_t r = 0; r < rows; ++r) a[r * cols + j] /= std::sqrt(norm);
  }
}

// Data with an exactly chosen spectrum: X = U diag(s) R, U [n, d] with orthonormal centred
// columns, R a random rotation. The two leading variances differ by 1e-4 relative, where power
// iteration with deflation would need ~10^5 rounds; the result must still satisfy C v = lambda v.
TEST(Pca, CloseLeadingEigenvalues) {
  const std::int64_t n = 400, d = 200;
  std::mt19937 rng(5);
  std::normal_distribution<double> normal;
  std::vector<double> u(n * d), r(d * d);
  for (double& v : u) v = normal(rng);
  for (double& v : r) v = normal(rng);
  for (std::int64_t j = 0; j < d; ++j) {  // centre the columns, so U stays centred
    double mean = 0;
    for (std::int64_t i = 0; i < n; ++i) mean += u[i * d + j];
    for (std::int64_t i = 0; i < n; ++i) u[i * d + j] -= mean / n;
  }
  orthonormal_columns(u, n, d);
  orthonormal_columns(r, d, d);
  Matrix m{std::vector<float>(n * d), n, d};
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t b = 0; b < d; ++b) {
      double v = 0;
      for (std::int64_t a = 0; a < d; ++a) {
        const double s = a == 0 ? 100.0 : a == 1 ? 99.995 : 30.0 / (1.0 + 0.05 * a);
        v += u[i * d + a] * s * r[a * d + b];
      }
      m.data[i * d + b] = static_cast<float>(v);
    }
  }
  const Pca pca = fit_pca(m.view(), 2);
  EXPECT_TRUE(pca.converged);
  // Reference covariance, straightforwardly.
  std::vector<double> cov(d * d, 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t a = 0; a < d; ++a) {
      for (std::int64_t b = 0; b < d; ++b) {
        cov[a * d + b] += (m.data[i * d + a] - pca.mean[a]) * (m.data[i * d + b] - pca.mean[b]);
      }
    }
  }
  for (double& v : cov) v /= static_cast<double>(n - 1);
  for (int c = 0; c < 2; ++c) {
    const double* v = &pca.components[c * d];
    double norm = 0, residual = 0;
    for (std::int64_t a = 0; a < d; ++a) {
      double cv = 0;
      for (std::int64_t b = 0; b < d; ++b) cv += cov[a * d + b] * v[b];
      residual += std::pow(cv - pca.explained_variance[c] * v[a], 2);
      norm += v[a] * v[a];
    }
    EXPECT_NEAR(norm, 1.0, 1e-12);
    EXPECT_LE(std::sqrt(residual), 1e-8 * pca.explained_variance[0]) << "component " << c;
  }
  double orthogonality = 0;
  for (std::int64_t a = 0; a < d; ++a) orthogonality += pca.components[a] * pca.components[d + a];
  EXPECT_NEAR(orthogonality, 0.0, 1e-10);
  EXPECT_GE(pca.explained_variance[0], pca.explained_variance[1]);
}

TEST(Pca, SmallAndDegenerateCases) {
  // d = 2 <= block size: one exact round. Points on the line y = -2 x.
  std::vector<float> line = {0, 0, 1, -2, 2, -4, 3, -6};
  const Pca pca = fit_pca({line, 4, 2}, 1);
  EXPECT_EQ(pca.iterations, 1);
  EXPECT_NEAR(pca.components[0], -1 / std::sqrt(5.0), 1e-12);  // largest entry (-2) positive
  EXPECT_NEAR(pca.components[1], 2 / std::sqrt(5.0), 1e-12);
  EXPECT_NEAR(pca.explained_variance_ratio[0], 1.0, 1e-12);
  // Constant rows: no variance, ratios 0 rather than NaN.
  std::vector<float> constant(12, 1.5f);
  const Pca flat_pca = fit_pca({constant, 4, 3}, 2);
  EXPECT_EQ(flat_pca.explained_variance_ratio, (std::vector<double>{0, 0}));
}

TEST(Pca, Errors) {
  std::vector<float> x = {1, 2, 3, 4, 5, 6};
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        fit_pca({x, 3, 2}, 3);
      },
      "min(rows, columns) = 2"));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { fit_pca({x, 3, 2}, 0); }, "n_components"));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { fit_pca({x, 1, 6}, 1); }, "at least 2 rows"));
  const Pca pca = fit_pca({x, 3, 2}, 1);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { pca.transform({x, 2, 3}); }, "fitted on 2"));
}

}  // namespace
}  // namespace bertlite::learn
