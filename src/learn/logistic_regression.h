// learn/logistic_regression.h - L2-regularized logistic regression, as scikit-learn's
// LogisticRegression(solver="lbfgs") fits it, over float32 feature rows.
//
//   learn::LogisticRegression model({.C = 1.0});
//   model.fit(x, labels);                       // x: MatrixView [n, d]; labels: int64 per row
//   std::vector<std::int64_t> predicted = model.predict(test_x);
//   std::vector<double> p = model.predict_proba(test_x);     // [rows, classes]
//
// The objective (scikit-learn >= 1.4), with sample weights s_i (1, or the class weights):
//   (1 / S) sum_i s_i loss_i + ||W||^2 / (2 C S),   S = sum_i s_i (n when unweighted),
// where loss_i is the logistic loss of z_i = x_i . w + b for two classes (one coefficient row;
// the second class is the positive one) and the multinomial (softmax) loss over all classes'
// rows for more. The intercepts are not penalized. It is solved in float64 by lbfgs_minimize
// with scikit-learn's stopping rules (tol on the largest gradient entry, history 10, at most
// 50 evaluations per line search, max_iter iterations), starting from zero.
//
// Labels are any int64 values; classes() lists the distinct ones in increasing order, as
// scikit-learn's classes_. For text labels, see encode_labels in learn/labels.h.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "learn/lbfgs.h"
#include "learn/matrix.h"

namespace bertlite::learn {

enum class ClassWeight {
  kNone,      // every row weighs 1
  kBalanced,  // row of class c weighs n / (classes * count(c)), as class_weight="balanced"
};

struct LogisticRegressionOptions {
  double C = 1.0;      // inverse regularization strength, > 0
  int max_iter = 100;  // L-BFGS iterations
  double tol = 1e-4;   // stop when max |gradient entry| <= tol
  bool fit_intercept = true;
  ClassWeight class_weight = ClassWeight::kNone;
  // Explicit weights per label (scikit-learn's class_weight dict); labels not listed weigh 1.
  // Used when class_weight is kNone.
  std::map<std::int64_t, double> class_weights = {};
  // Threads for the gradient (0 = all available). Results do not depend on it: rows are
  // summed in fixed blocks whatever the thread count.
  int threads = 0;
};

// How the last fit went.
struct FitReport {
  int iterations = 0;  // L-BFGS iterations (scikit-learn's n_iter_)
  int evaluations = 0;
  bool converged = false;   // false where scikit-learn warns ConvergenceWarning
  std::string stop_reason;  // lbfgs_stop_name
  double objective = 0;     // at the solution
  double max_abs_gradient = 0;
};

class LogisticRegression {
 public:
  explicit LogisticRegression(LogisticRegressionOptions options = {});

  // A fitted model from its parameters (a saved classifier): `classes` increasing (>= 2),
  // `coef` [coef_rows, n_features] and `intercept` [coef_rows] with coef_rows = 1 for two
  // classes, else classes.size(). Throws InvalidArgument on inconsistent sizes.
  static LogisticRegression from_parameters(std::vector<std::int64_t> classes,
                                            std::vector<double> coef, std::vector<double> intercept,
                                            std::int64_t n_features,
                                            LogisticRegressionOptions options = {});

  // Fits on rows of `x` with one label each. Throws InvalidArgument for no rows, fewer than two
  // classes, a label count that differs from x.rows, non-finite features, or bad options.
  // Not converging is not an error: see fit_report().
  void fit(const MatrixView& x, std::span<const std::int64_t> labels);

  bool fitted() const { return !classes_.empty(); }
  const LogisticRegressionOptions& options() const { return options_; }
  const std::vector<std::int64_t>& classes() const { return classes_; }
  std::int64_t n_features() const { return n_features_; }
  // 1 for two classes, else the number of classes.
  std::int64_t coef_rows() const { return static_cast<std::int64_t>(intercept_.size()); }
  const std::vector<double>& coef() const { return coef_; }            // [coef_rows, n_features]
  const std::vector<double>& intercept() const { return intercept_; }  // [coef_rows]
  const FitReport& fit_report() const { return report_; }

  // Scores [rows, coef_rows]: x . coef_k + intercept_k. For two classes, > 0 means classes()[1].
  std::vector<double> decision_function(const MatrixView& x) const;
  // Probabilities [rows, classes]: the logistic function for two classes, softmax for more.
  std::vector<double> predict_proba(const MatrixView& x) const;
  // The most probable class per row (ties: the earlier class, as argmax).
  std::vector<std::int64_t> predict(const MatrixView& x) const;
  // Accuracy of predict(x) against `labels`.
  double score(const MatrixView& x, std::span<const std::int64_t> labels) const;

 private:
  void check_input(const MatrixView& x) const;

  LogisticRegressionOptions options_;
  std::vector<std::int64_t> classes_;
  std::int64_t n_features_ = 0;
  std::vector<double> coef_;
  std::vector<double> intercept_;
  FitReport report_;
};

// The predicted class of a majority-class baseline: scikit-learn's DummyClassifier("prior")
// predicts the most frequent training label (ties: the smallest label) for every row.
class MajorityClassifier {
 public:
  // Throws InvalidArgument for no labels.
  void fit(std::span<const std::int64_t> labels);
  bool fitted() const { return !classes_.empty(); }
  std::int64_t majority() const { return majority_; }
  const std::vector<std::int64_t>& classes() const { return classes_; }
  const std::vector<double>& class_prior() const { return prior_; }  // fraction per class
  std::vector<std::int64_t> predict(std::int64_t rows) const;
  // Accuracy of always predicting majority() against `labels`.
  double score(std::span<const std::int64_t> labels) const;

 private:
  std::vector<std::int64_t> classes_;
  std::vector<double> prior_;
  std::int64_t majority_ = 0;
};

// ---- The objective, exposed for tests (gradient checks) and for callers who want the value.

// One logistic regression problem: rows, their class index (0 .. classes-1), optional weights.
struct LogisticProblem {
  MatrixView x;
  std::span<const std::int32_t> class_index;  // [rows]
  std::span<const double> sample_weight;      // [rows], or empty for all 1
  int classes = 2;                            // 2: binary, one coefficient row; > 2: multinomial
  bool fit_intercept = true;
  double C = 1.0;
  int threads = 1;
};

// Parameters per coefficient row: n_features weights, then the intercept if fitted.
// Binary: one row; multinomial: `classes` rows, row k for class k.
std::int64_t logistic_parameter_count(const LogisticProblem& problem);

// The objective at `params` (see the file comment), its gradient written to `gradient`.
double logistic_loss_gradient(const LogisticProblem& problem, std::span<const double> params,
                              std::span<double> gradient);

}  // namespace bertlite::learn
