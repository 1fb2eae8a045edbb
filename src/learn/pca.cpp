// learn/pca.cpp - covariance, subspace iteration with Rayleigh-Ritz, sign convention.
#include "learn/pca.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>

#include "bertlite/error.h"
#include "kernels/kernel_clones.h"
#include "util/random.h"
#include "util/threads.h"

namespace bertlite::learn {
namespace {

// out[0..n) += a * x[0..n)
KERNEL_CLONES void axpy(double a, const double* x, double* out, std::int64_t n) {
  for (std::int64_t j = 0; j < n; ++j) out[j] += a * x[j];
}

double dot(const double* a, const double* b, std::int64_t n) {
  double s = 0;
  for (std::int64_t j = 0; j < n; ++j) s += a[j] * b[j];
  return s;
}

// Eigen-decomposition of a symmetric p x p matrix `a` (row-major, destroyed) by cyclic Jacobi:
// eigenvalues in `values`, eigenvectors as the columns of `vectors`, sorted by decreasing value.
void jacobi_eigen(std::vector<double>& a, std::int64_t p, std::vector<double>& values,
                  std::vector<double>& vectors) {
  vectors.assign(static_cast<std::size_t>(p * p), 0.0);
  for (std::int64_t i = 0; i < p; ++i) vectors[i * p + i] = 1.0;
  double total = 0;
  for (double v : a) total += v * v;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (std::int64_t i = 0; i < p; ++i) {
      for (std::int64_t j = i + 1; j < p; ++j) off += a[i * p + j] * a[i * p + j];
    }
    if (off <= 1e-30 * total) break;
    for (std::int64_t i = 0; i < p; ++i) {
      for (std::int64_t j = i + 1; j < p; ++j) {
        const double aij = a[i * p + j];
        if (aij == 0.0) continue;
        // The rotation that zeroes a[i][j] (Golub & Van Loan, symmetric Schur 2 x 2).
        const double tau = (a[j * p + j] - a[i * p + i]) / (2.0 * aij);
        const double t = (tau >= 0 ? 1.0 : -1.0) / (std::abs(tau) + std::sqrt(1.0 + tau * tau));
        const double c = 1.0 / std::sqrt(1.0 + t * t), s = t * c;
        for (std::int64_t k = 0; k < p; ++k) {  // columns i, j
          const double aki = a[k * p + i], akj = a[k * p + j];
          a[k * p + i] = c * aki - s * akj;
          a[k * p + j] = s * aki + c * akj;
        }
        for (std::int64_t k = 0; k < p; ++k) {  // rows i, j
          const double aik = a[i * p + k], ajk = a[j * p + k];
          a[i * p + k] = c * aik - s * ajk;
          a[j * p + k] = s * aik + c * ajk;
        }
        for (std::int64_t k = 0; k < p; ++k) {
          const double vki = vectors[k * p + i], vkj = vectors[k * p + j];
          vectors[k * p + i] = c * vki - s * vkj;
          vectors[k * p + j] = s * vki + c * vkj;
        }
      }
    }
  }
  std::vector<std::int64_t> order(p);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](auto x, auto y) { return a[x * p + x] > a[y * p + y]; });
  std::vector<double> sorted_vectors(vectors.size());
  values.resize(p);
  for (std::int64_t c = 0; c < p; ++c) {
    values[c] = a[order[c] * p + order[c]];
    for (std::int64_t k = 0; k < p; ++k) sorted_vectors[k * p + c] = vectors[k * p + order[c]];
  }
  vectors = std::move(sorted_vectors);
}

// Orthonormalizes the p columns of q [d, p] (column j at q[j * d]), modified Gram-Schmidt
// applied twice; a column that vanishes is replaced by a unit vector not yet spanned.
void orthonormalize(std::vector<double>& q, std::int64_t d, std::int64_t p) {
  for (std::int64_t j = 0; j < p; ++j) {
    double* qj = &q[j * d];
    const double before = std::sqrt(dot(qj, qj, d));
    for (int pass = 0; pass < 2; ++pass) {
      for (std::int64_t i = 0; i < j; ++i) axpy(-dot(&q[i * d], qj, d), &q[i * d], qj, d);
    }
    double norm = std::sqrt(dot(qj, qj, d));
    for (std::int64_t e = 0; norm <= 1e-12 * std::max(before, 1e-300) && e < d; ++e) {
      std::fill(qj, qj + d, 0.0);
      qj[(j + e) % d] = 1.0;
      for (int pass = 0; pass < 2; ++pass) {
        for (std::int64_t i = 0; i < j; ++i) axpy(-dot(&q[i * d], qj, d), &q[i * d], qj, d);
      }
      norm = std::sqrt(dot(qj, qj, d));
    }
    for (std::int64_t k = 0; k < d; ++k) qj[k] /= norm;
  }
}

// z = c q: c [d, d] symmetric, q and z [p columns of length d].
void multiply(const std::vector<double>& c, const std::vector<double>& q, std::vector<double>& z,
              std::int64_t d, std::int64_t p, int threads) {
  util::parallel_for(static_cast<std::size_t>(d), 32, threads,
                     [&](std::size_t begin, std::size_t end) {
                       for (std::size_t r = begin; r < end; ++r) {
                         const double* cr = &c[r * d];
                         for (std::int64_t j = 0; j < p; ++j) z[j * d + r] = dot(cr, &q[j * d], d);
                       }
                     });
}

}  // namespace

Pca fit_pca(const MatrixView& x, int n_components, int threads) {
  check_matrix(x, "PCA: X");
  const std::int64_t n = x.rows, d = x.cols;
  if (n < 2) throw InvalidArgument("PCA: needs at least 2 rows, got " + std::to_string(n));
  if (n_components < 1 || n_components > std::min(n, d)) {
    throw InvalidArgument("PCA: n_components must be between 1 and min(rows, columns) = " +
                          std::to_string(std::min(n, d)) + ", got " + std::to_string(n_components));
  }
  check_finite(x, "PCA: X");
  threads = util::resolve_threads(threads);
  const std::int64_t k = n_components;

  Pca pca;
  pca.n_components = k;
  pca.n_features = d;
  pca.mean.assign(static_cast<std::size_t>(d), 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    const float* r = x.row(i);
    for (std::int64_t j = 0; j < d; ++j) pca.mean[j] += r[j];
  }
  for (double& m : pca.mean) m /= static_cast<double>(n);

  // Covariance, upper triangle: rows of C in blocks, each block reading every centred row.
  std::vector<double> cov(static_cast<std::size_t>(d * d), 0.0);
  util::parallel_for(static_cast<std::size_t>(d), 8, threads,
                     [&](std::size_t begin, std::size_t end) {
                       std::vector<double> centred(static_cast<std::size_t>(d));
                       for (std::int64_t i = 0; i < n; ++i) {
                         const float* r = x.row(i);
                         for (std::int64_t j = static_cast<std::int64_t>(begin); j < d; ++j) {
                           centred[j] = r[j] - pca.mean[j];
                         }
                         for (std::size_t a = begin; a < end; ++a) {
                           axpy(centred[a], &centred[a], &cov[a * d + a], d - a);
                         }
                       }
                     });
  double total_variance = 0;
  for (std::int64_t a = 0; a < d; ++a) {
    for (std::int64_t b = a; b < d; ++b) {
      cov[a * d + b] /= static_cast<double>(n - 1);
      cov[b * d + a] = cov[a * d + b];
    }
    total_variance += cov[a * d + a];
  }

  // Subspace iteration from a fixed pseudo-random block (splitmix64), so results repeat.
  const std::int64_t p = std::min<std::int64_t>(d, std::max<std::int64_t>(2 * k, k + 10));
  std::vector<double> q(static_cast<std::size_t>(d * p)), z(q.size()), next(q.size());
  util::SplitMix64 rng(0x9E3779B97F4A7C15ull);
  for (double& v : q) v = rng.uniform() - 0.5;
  orthonormalize(q, d, p);
  std::vector<double> projected(static_cast<std::size_t>(p * p)), values, vectors;
  constexpr int kMaxRounds = 5000;
  constexpr double kTolerance = 1e-10;
  for (int round = 1; round <= kMaxRounds; ++round) {
    multiply(cov, q, z, d, p, threads);
    // The p x p projection Q^T C Q, symmetrized against rounding.
    for (std::int64_t i = 0; i < p; ++i) {
      for (std::int64_t j = i; j < p; ++j) {
        const double v = 0.5 * (dot(&q[i * d], &z[j * d], d) + dot(&q[j * d], &z[i * d], d));
        projected[i * p + j] = projected[j * p + i] = v;
      }
    }
    jacobi_eigen(projected, p, values, vectors);
    // Ritz vectors V = Q S and C V = Z S; residuals of the wanted pairs.
    std::fill(next.begin(), next.end(), 0.0);
    std::vector<double> ritz(static_cast<std::size_t>(d * p), 0.0);
    for (std::int64_t c = 0; c < p; ++c) {
      for (std::int64_t i = 0; i < p; ++i) {
        const double s = vectors[i * p + c];
        axpy(s, &q[i * d], &ritz[c * d], d);
        axpy(s, &z[i * d], &next[c * d], d);
      }
    }
    const double scale = std::max(std::abs(values[0]), 1e-300);
    bool done = true;
    for (std::int64_t c = 0; c < k && done; ++c) {
      double residual = 0;
      for (std::int64_t j = 0; j < d; ++j) {
        const double r = next[c * d + j] - values[c] * ritz[c * d + j];
        residual += r * r;
      }
      done = std::sqrt(residual) <= kTolerance * scale;
    }
    pca.iterations = round;
    if (done || p == d || round == kMaxRounds) {
      pca.converged = done || p == d;
      q = std::move(ritz);
      break;
    }
    q = std::move(next);
    next.assign(q.size(), 0.0);
    orthonormalize(q, d, p);
  }

  pca.components.resize(static_cast<std::size_t>(k * d));
  pca.explained_variance.resize(static_cast<std::size_t>(k));
  pca.explained_variance_ratio.resize(static_cast<std::size_t>(k));
  for (std::int64_t c = 0; c < k; ++c) {
    double* out = &pca.components[c * d];
    double norm = std::sqrt(dot(&q[c * d], &q[c * d], d));
    std::int64_t largest = 0;
    for (std::int64_t j = 0; j < d; ++j) {
      out[j] = q[c * d + j] / norm;
      if (std::abs(out[j]) > std::abs(out[largest])) largest = j;
    }
    if (out[largest] < 0) {
      for (std::int64_t j = 0; j < d; ++j) out[j] = -out[j];
    }
    // Eigenvalues of a covariance are >= 0; a tiny negative one is rounding.
    pca.explained_variance[c] = std::max(values[c], 0.0);
    pca.explained_variance_ratio[c] =
        total_variance > 0 ? pca.explained_variance[c] / total_variance : 0.0;
  }
  return pca;
}

std::vector<double> Pca::transform(const MatrixView& x) const {
  check_matrix(x, "PCA.transform: X");
  if (x.cols != n_features) {
    throw InvalidArgument("PCA.transform: X has " + std::to_string(x.cols) +
                          " columns, the PCA was fitted on " + std::to_string(n_features));
  }
  std::vector<double> out(static_cast<std::size_t>(x.rows * n_components));
  std::vector<double> centred(static_cast<std::size_t>(n_features));
  for (std::int64_t i = 0; i < x.rows; ++i) {
    const float* r = x.row(i);
    for (std::int64_t j = 0; j < n_features; ++j) centred[j] = r[j] - mean[j];
    for (std::int64_t c = 0; c < n_components; ++c) {
      out[i * n_components + c] = dot(centred.data(), &components[c * n_features], n_features);
    }
  }
  return out;
}

}  // namespace bertlite::learn
