// learn/logistic_regression.cpp - the logistic objective over fixed row blocks, the fit through
// lbfgs_minimize, prediction, and the majority-class baseline.
#include "learn/logistic_regression.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "bertlite/error.h"
#include "kernels/kernel_clones.h"
#include "util/threads.h"

namespace bertlite::learn {
namespace {

// x . w for a float32 row and float64 weights. Four partial sums keep the adds independent
// (and let the compiler use vectors); the order is fixed, so results do not depend on threads.
KERNEL_CLONES double dot_row(const float* x, const double* w, std::int64_t d) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::int64_t j = 0;
  for (; j + 4 <= d; j += 4) {
    s0 += static_cast<double>(x[j]) * w[j];
    s1 += static_cast<double>(x[j + 1]) * w[j + 1];
    s2 += static_cast<double>(x[j + 2]) * w[j + 2];
    s3 += static_cast<double>(x[j + 3]) * w[j + 3];
  }
  for (; j < d; ++j) s0 += static_cast<double>(x[j]) * w[j];
  return (s0 + s1) + (s2 + s3);
}

// out += a * x
KERNEL_CLONES void add_scaled_row(double a, const float* x, double* out, std::int64_t d) {
  for (std::int64_t j = 0; j < d; ++j) out[j] += a * static_cast<double>(x[j]);
}

// log(1 + exp(z)) without overflow or lost precision (the branch points scikit-learn's
// _loss module uses).
double log1pexp(double z) {
  if (z <= -37.0) return std::exp(z);
  if (z <= -2.0) return std::log1p(std::exp(z));
  if (z <= 18.0) return std::log(1.0 + std::exp(z));
  if (z <= 33.3) return z + std::exp(-z);
  return z;
}

double expit(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

// Rows per block of the objective's sum: fixed by the row count alone (at most 64 blocks), so
// the summation order, and the result, is the same for any thread count.
std::int64_t block_rows(std::int64_t rows) {
  return std::max<std::int64_t>(256, (rows + 63) / 64);
}

void check_options(const LogisticRegressionOptions& o) {
  if (!(o.C > 0) || !std::isfinite(o.C)) {
    throw InvalidArgument("LogisticRegression: C must be a positive finite number, got " +
                          std::to_string(o.C));
  }
  if (o.max_iter < 1) {
    throw InvalidArgument("LogisticRegression: max_iter must be >= 1, got " +
                          std::to_string(o.max_iter));
  }
  if (!(o.tol >= 0)) {
    throw InvalidArgument("LogisticRegression: tol must be >= 0, got " + std::to_string(o.tol));
  }
  for (const auto& [label, weight] : o.class_weights) {
    if (!(weight > 0) || !std::isfinite(weight)) {
      throw InvalidArgument("LogisticRegression: class weight of label " + std::to_string(label) +
                            " must be positive, got " + std::to_string(weight));
    }
  }
}

}  // namespace

std::int64_t logistic_parameter_count(const LogisticProblem& p) {
  const std::int64_t per_row = p.x.cols + (p.fit_intercept ? 1 : 0);
  return (p.classes == 2 ? 1 : p.classes) * per_row;
}

double logistic_loss_gradient(const LogisticProblem& p, std::span<const double> params,
                              std::span<double> gradient) {
  const std::int64_t n = p.x.rows, d = p.x.cols;
  const std::int64_t per_row = d + (p.fit_intercept ? 1 : 0);
  const std::int64_t coef_rows = p.classes == 2 ? 1 : p.classes;
  const std::int64_t count = coef_rows * per_row;
  if (static_cast<std::int64_t>(params.size()) != count ||
      static_cast<std::int64_t>(gradient.size()) != count) {
    throw InvalidArgument("logistic objective: expected " + std::to_string(count) +
                          " parameters, got " + std::to_string(params.size()) + " and gradient " +
                          std::to_string(gradient.size()));
  }
  const bool weighted = !p.sample_weight.empty();
  double weight_sum = static_cast<double>(n);
  if (weighted) {
    weight_sum = 0;
    for (double w : p.sample_weight) weight_sum += w;
  }

  const std::int64_t block = block_rows(n);
  const std::int64_t blocks = (n + block - 1) / block;
  // Per block: its loss sum, then its gradient sum.
  std::vector<double> partial(static_cast<std::size_t>(blocks * (1 + count)), 0.0);
  auto run_blocks = [&](std::size_t begin, std::size_t end) {
    std::vector<double> z(coef_rows);
    for (std::size_t b = begin; b < end; ++b) {
      double* loss = &partial[b * (1 + count)];
      double* grad = loss + 1;
      const std::int64_t r1 = std::min<std::int64_t>(n, (static_cast<std::int64_t>(b) + 1) * block);
      for (std::int64_t i = static_cast<std::int64_t>(b) * block; i < r1; ++i) {
        const float* xi = p.x.row(i);
        const double sw = weighted ? p.sample_weight[i] : 1.0;
        const int yi = p.class_index[i];
        for (std::int64_t k = 0; k < coef_rows; ++k) {
          const double* wk = params.data() + k * per_row;
          z[k] = dot_row(xi, wk, d) + (p.fit_intercept ? wk[d] : 0.0);
        }
        if (coef_rows == 1) {
          // Half binomial loss log(1 + e^z) - y z; its derivative expit(z) - y.
          const double y = yi == 1 ? 1.0 : 0.0;
          *loss += sw * (log1pexp(z[0]) - y * z[0]);
          const double g = sw * (expit(z[0]) - y);
          add_scaled_row(g, xi, grad, d);
          if (p.fit_intercept) grad[d] += g;
        } else {
          // Multinomial: logsumexp(z) - z_y; derivative softmax(z) - onehot(y).
          const double zmax = *std::max_element(z.begin(), z.end());
          double sum = 0;
          for (std::int64_t k = 0; k < coef_rows; ++k) sum += std::exp(z[k] - zmax);
          *loss += sw * (zmax + std::log(sum) - z[yi]);
          for (std::int64_t k = 0; k < coef_rows; ++k) {
            const double prob = std::exp(z[k] - zmax) / sum;
            const double g = sw * (prob - (k == yi ? 1.0 : 0.0));
            double* gk = grad + k * per_row;
            add_scaled_row(g, xi, gk, d);
            if (p.fit_intercept) gk[d] += g;
          }
        }
      }
    }
  };
  // Threads pay off only when a call has real work (thread start-up costs ~50 us per call).
  const bool parallel = p.threads > 1 && n * d * coef_rows >= (1 << 18);
  util::parallel_for(static_cast<std::size_t>(blocks), 1, parallel ? p.threads : 1, run_blocks);

  double loss = 0;
  std::fill(gradient.begin(), gradient.end(), 0.0);
  for (std::int64_t b = 0; b < blocks; ++b) {
    const double* block_sum = &partial[b * (1 + count)];
    loss += block_sum[0];
    for (std::int64_t j = 0; j < count; ++j) gradient[j] += block_sum[1 + j];
  }
  loss /= weight_sum;
  for (double& g : gradient) g /= weight_sum;
  // ||W||^2 / (2 C S): the intercepts are not penalized.
  const double l2 = 1.0 / (p.C * weight_sum);
  double norm2 = 0;
  for (std::int64_t k = 0; k < coef_rows; ++k) {
    for (std::int64_t j = 0; j < d; ++j) {
      const double w = params[k * per_row + j];
      norm2 += w * w;
      gradient[k * per_row + j] += l2 * w;
    }
  }
  return loss + 0.5 * l2 * norm2;
}

// ---- LogisticRegression

LogisticRegression::LogisticRegression(LogisticRegressionOptions options)
    : options_(std::move(options)) {}

LogisticRegression LogisticRegression::from_parameters(std::vector<std::int64_t> classes,
                                                       std::vector<double> coef,
                                                       std::vector<double> intercept,
                                                       std::int64_t n_features,
                                                       LogisticRegressionOptions options) {
  if (classes.size() < 2) {
    throw InvalidArgument("LogisticRegression: a model needs at least 2 classes, got " +
                          std::to_string(classes.size()));
  }
  for (std::size_t k = 1; k < classes.size(); ++k) {
    if (classes[k] <= classes[k - 1]) {
      throw InvalidArgument("LogisticRegression: classes must be strictly increasing");
    }
  }
  const std::size_t rows = classes.size() == 2 ? 1 : classes.size();
  if (n_features < 0 || intercept.size() != rows ||
      coef.size() != rows * static_cast<std::size_t>(n_features)) {
    throw InvalidArgument(
        "LogisticRegression: " + std::to_string(classes.size()) + " classes and " +
        std::to_string(n_features) + " features need coef [" + std::to_string(rows) + ", " +
        std::to_string(n_features) + "] and intercept [" + std::to_string(rows) + "], got " +
        std::to_string(coef.size()) + " and " + std::to_string(intercept.size()) + " values");
  }
  for (double v : coef) {
    if (!std::isfinite(v)) throw InvalidArgument("LogisticRegression: non-finite coefficient");
  }
  for (double v : intercept) {
    if (!std::isfinite(v)) throw InvalidArgument("LogisticRegression: non-finite intercept");
  }
  LogisticRegression model(std::move(options));
  model.classes_ = std::move(classes);
  model.coef_ = std::move(coef);
  model.intercept_ = std::move(intercept);
  model.n_features_ = n_features;
  return model;
}

void LogisticRegression::fit(const MatrixView& x, std::span<const std::int64_t> labels) {
  check_options(options_);
  check_matrix(x, "LogisticRegression.fit: X");
  check_labels(x, labels);
  if (x.rows == 0) throw InvalidArgument("LogisticRegression.fit: no training rows");
  check_finite(x, "LogisticRegression.fit: X");

  std::vector<std::int64_t> classes(labels.begin(), labels.end());
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  if (classes.size() < 2) {
    throw InvalidArgument("LogisticRegression.fit: the training labels hold only one class (" +
                          std::to_string(classes[0]) + "); at least 2 are needed");
  }
  const int n_classes = static_cast<int>(classes.size());
  std::vector<std::int32_t> class_index(labels.size());
  std::vector<std::int64_t> counts(classes.size(), 0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto k = std::lower_bound(classes.begin(), classes.end(), labels[i]) - classes.begin();
    class_index[i] = static_cast<std::int32_t>(k);
    ++counts[k];
  }

  // Class weights become sample weights, as scikit-learn does (so they also scale the penalty
  // through the weight sum).
  std::vector<double> sample_weight;
  if (options_.class_weight == ClassWeight::kBalanced || !options_.class_weights.empty()) {
    std::vector<double> per_class(classes.size(), 1.0);
    for (std::size_t k = 0; k < classes.size(); ++k) {
      if (options_.class_weight == ClassWeight::kBalanced) {
        per_class[k] = static_cast<double>(x.rows) /
                       (static_cast<double>(n_classes) * static_cast<double>(counts[k]));
      } else if (auto it = options_.class_weights.find(classes[k]);
                 it != options_.class_weights.end()) {
        per_class[k] = it->second;
      }
    }
    sample_weight.resize(labels.size());
    for (std::size_t i = 0; i < labels.size(); ++i) sample_weight[i] = per_class[class_index[i]];
  }

  LogisticProblem problem;
  problem.x = x;
  problem.class_index = class_index;
  problem.sample_weight = sample_weight;
  problem.classes = n_classes;
  problem.fit_intercept = options_.fit_intercept;
  problem.C = options_.C;
  problem.threads = util::resolve_threads(options_.threads);

  std::vector<double> params(static_cast<std::size_t>(logistic_parameter_count(problem)), 0.0);
  LbfgsOptions lbfgs;
  lbfgs.max_iterations = options_.max_iter;
  lbfgs.gradient_tolerance = options_.tol;
  const LbfgsResult result =
      lbfgs_minimize([&](std::span<const double> w,
                         std::span<double> g) { return logistic_loss_gradient(problem, w, g); },
                     params, lbfgs);

  const std::int64_t d = x.cols;
  const std::int64_t per_row = d + (options_.fit_intercept ? 1 : 0);
  const std::int64_t rows = n_classes == 2 ? 1 : n_classes;
  coef_.assign(static_cast<std::size_t>(rows * d), 0.0);
  intercept_.assign(static_cast<std::size_t>(rows), 0.0);
  for (std::int64_t k = 0; k < rows; ++k) {
    std::copy_n(params.begin() + k * per_row, d, coef_.begin() + k * d);
    if (options_.fit_intercept) intercept_[k] = params[k * per_row + d];
  }
  classes_ = std::move(classes);
  n_features_ = d;
  report_.iterations = result.iterations;
  report_.evaluations = result.evaluations;
  report_.converged = result.converged();
  report_.stop_reason = lbfgs_stop_name(result.stop);
  report_.objective = result.value;
  report_.max_abs_gradient = result.max_abs_gradient;
}

void LogisticRegression::check_input(const MatrixView& x) const {
  if (!fitted()) throw InvalidArgument("LogisticRegression: the model is not fitted");
  check_matrix(x, "LogisticRegression: X");
  if (x.cols != n_features_) {
    throw InvalidArgument("LogisticRegression: X has " + std::to_string(x.cols) +
                          " features, the model expects " + std::to_string(n_features_));
  }
}

std::vector<double> LogisticRegression::decision_function(const MatrixView& x) const {
  check_input(x);
  const std::int64_t rows = coef_rows();
  std::vector<double> scores(static_cast<std::size_t>(x.rows * rows));
  util::parallel_for(static_cast<std::size_t>(x.rows), 256, util::resolve_threads(options_.threads),
                     [&](std::size_t begin, std::size_t end) {
                       for (std::size_t i = begin; i < end; ++i) {
                         for (std::int64_t k = 0; k < rows; ++k) {
                           scores[i * rows + k] =
                               dot_row(x.row(static_cast<std::int64_t>(i)),
                                       coef_.data() + k * n_features_, n_features_) +
                               intercept_[k];
                         }
                       }
                     });
  return scores;
}

std::vector<double> LogisticRegression::predict_proba(const MatrixView& x) const {
  const std::vector<double> scores = decision_function(x);
  const std::size_t k = classes_.size();
  std::vector<double> proba(static_cast<std::size_t>(x.rows) * k);
  for (std::int64_t i = 0; i < x.rows; ++i) {
    double* p = &proba[i * k];
    if (k == 2) {
      p[1] = expit(scores[i]);
      p[0] = 1.0 - p[1];
    } else {
      const double* z = &scores[i * k];
      const double zmax = *std::max_element(z, z + k);
      double sum = 0;
      for (std::size_t c = 0; c < k; ++c) sum += p[c] = std::exp(z[c] - zmax);
      for (std::size_t c = 0; c < k; ++c) p[c] /= sum;
    }
  }
  return proba;
}

std::vector<std::int64_t> LogisticRegression::predict(const MatrixView& x) const {
  const std::vector<double> scores = decision_function(x);
  const std::int64_t rows = coef_rows();
  std::vector<std::int64_t> out(static_cast<std::size_t>(x.rows));
  for (std::int64_t i = 0; i < x.rows; ++i) {
    if (rows == 1) {
      out[i] = classes_[scores[i] > 0 ? 1 : 0];
    } else {
      const double* z = &scores[i * rows];
      out[i] = classes_[std::max_element(z, z + rows) - z];
    }
  }
  return out;
}

double LogisticRegression::score(const MatrixView& x, std::span<const std::int64_t> labels) const {
  check_labels(x, labels);
  if (x.rows == 0) throw InvalidArgument("LogisticRegression.score: no rows");
  const std::vector<std::int64_t> predicted = predict(x);
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == labels[i];
  return static_cast<double>(correct) / static_cast<double>(x.rows);
}

// ---- MajorityClassifier

void MajorityClassifier::fit(std::span<const std::int64_t> labels) {
  if (labels.empty()) throw InvalidArgument("MajorityClassifier.fit: no training labels");
  std::vector<std::int64_t> sorted(labels.begin(), labels.end());
  std::sort(sorted.begin(), sorted.end());
  classes_.clear();
  prior_.clear();
  std::int64_t best_count = 0;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    const auto count = static_cast<std::int64_t>(j - i);
    classes_.push_back(sorted[i]);
    prior_.push_back(static_cast<double>(count) / static_cast<double>(sorted.size()));
    // Strictly greater: the first (smallest) label wins a tie, as numpy's argmax.
    if (count > best_count) {
      best_count = count;
      majority_ = sorted[i];
    }
    i = j;
  }
}

std::vector<std::int64_t> MajorityClassifier::predict(std::int64_t rows) const {
  if (!fitted()) throw InvalidArgument("MajorityClassifier: not fitted");
  return std::vector<std::int64_t>(static_cast<std::size_t>(std::max<std::int64_t>(rows, 0)),
                                   majority_);
}

double MajorityClassifier::score(std::span<const std::int64_t> labels) const {
  if (!fitted()) throw InvalidArgument("MajorityClassifier: not fitted");
  if (labels.empty()) throw InvalidArgument("MajorityClassifier.score: no rows");
  std::int64_t correct = 0;
  for (std::int64_t label : labels) correct += label == majority_;
  return static_cast<double>(correct) / static_cast<double>(labels.size());
}

}  // namespace bertlite::learn
