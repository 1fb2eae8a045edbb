// learn/pca.h - principal components of a feature matrix, for scatter plots in a report.
//
//   learn::Pca pca = learn::fit_pca(x, 2);
//   std::vector<double> xy = pca.transform(x);   // [rows, 2]
//
// Matches scikit-learn's PCA(n_components=k) up to rounding: the rows are centred, the
// components are the top-k eigenvectors of the covariance matrix (divided by n - 1), and each
// component's sign makes its largest-magnitude entry positive (svd_flip with
// u_based_decision=False, which PCA uses).
//
// Method: the d x d covariance in float64, then subspace iteration with Rayleigh-Ritz on a
// block of p = min(d, max(2k, k + 10)) vectors: each round multiplies the block by the
// covariance, diagonalizes its p x p projection (cyclic Jacobi) and re-orthonormalizes. Its
// convergence goes as (lambda_{p+1} / lambda_k)^rounds, not (lambda_2 / lambda_1)^rounds like
// power iteration with deflation, and the p x p solve sorts out close leading eigenvalues.
// It stops when every wanted Ritz pair has ||C v - lambda v|| <= 1e-10 * lambda_1. When
// p == d the first round is exact.
#pragma once

#include <cstdint>
#include <vector>

#include "learn/matrix.h"

namespace bertlite::learn {

struct Pca {
  std::int64_t n_components = 0;
  std::int64_t n_features = 0;
  std::vector<double> mean;                      // [n_features]
  std::vector<double> components;                // [n_components, n_features], orthonormal rows
  std::vector<double> explained_variance;        // [n_components], covariance eigenvalues
  std::vector<double> explained_variance_ratio;  // of the total variance (0 if it is 0)
  int iterations = 0;                            // subspace-iteration rounds used
  bool converged = false;

  // (x - mean) . components^T: [x.rows, n_components]. Throws InvalidArgument if x has
  // another number of columns.
  std::vector<double> transform(const MatrixView& x) const;
};

// Throws InvalidArgument unless 1 <= n_components <= min(rows, cols), rows >= 2, and every
// value is finite. `threads`: 0 = all available.
Pca fit_pca(const MatrixView& x, int n_components = 2, int threads = 0);

}  // namespace bertlite::learn
