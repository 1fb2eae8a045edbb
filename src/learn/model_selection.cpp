// learn/model_selection.cpp - C grids, cross-validated accuracy and the grid search over C.
#include "learn/model_selection.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <string>

#include "bertlite/error.h"
#include "learn/split.h"
#include "util/threads.h"

namespace bertlite::learn {
namespace {

// numpy's pairwise summation (add.reduce over a contiguous double array), so means of fold
// scores match numpy's to the last bit and ties between grid points break as they do there.
double numpy_sum(const double* a, std::size_t n) {
  if (n < 8) {
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum += a[i];
    return sum;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) sum += a[i];
    return sum;
  }
  std::size_t half = n / 2;
  half -= half % 8;
  return numpy_sum(a, half) + numpy_sum(a + half, n - half);
}

double parse_positive(std::string_view text, std::string_view whole) {
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !(value > 0) ||
      !std::isfinite(value)) {
    throw InvalidArgument("C grid \"" + std::string(whole) + "\": \"" + std::string(text) +
                          "\" is not a positive number (use \"walkthrough\", \"log\", or a "
                          "comma-separated list such as 0.1,1,10)");
  }
  return value;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void check_training_data(const MatrixView& x, std::span<const std::int64_t> labels,
                         std::string_view who) {
  check_matrix(x, std::string(who) + ": X");
  check_labels(x, labels);
  if (x.rows == 0) throw InvalidArgument(std::string(who) + ": no rows");
  check_finite(x, std::string(who) + ": X");
}

// Runs `body(i)` for i in [0, n) on `threads` threads, rethrowing the first error with `what(i)`
// in front of its message.
template <typename Body, typename What>
void run_tasks(std::size_t n, int threads, Body&& body, What&& what) {
  util::parallel_for(n, 1, threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      try {
        body(i);
      } catch (const InvalidArgument& e) {
        throw InvalidArgument(what(i) + ": " + e.what());
      }
    }
  });
}

std::string format_c(double c) {
  char buffer[32];
  const auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, c);
  return std::string(buffer, ptr);
}

}  // namespace

std::vector<double> linspace(double start, double stop, int num) {
  if (num < 0) throw InvalidArgument("linspace: negative count");
  std::vector<double> out(static_cast<std::size_t>(num));
  if (num == 0) return out;
  if (num == 1) {
    out[0] = start;
    return out;
  }
  const double step = (stop - start) / static_cast<double>(num - 1);
  for (int i = 0; i < num; ++i) out[i] = static_cast<double>(i) * step + start;
  out[num - 1] = stop;
  return out;
}

std::vector<double> parse_grid(std::string_view name_or_list) {
  const std::string_view name = trim(name_or_list);
  if (name == "walkthrough") return linspace(0.0001, 100, 20);
  if (name == "log") {
    std::vector<double> grid = linspace(-4, 4, 17);
    for (double& v : grid) v = std::pow(10.0, v);
    return grid;
  }
  std::vector<double> grid;
  std::string_view rest = name;
  while (true) {
    const std::size_t comma = rest.find(',');
    grid.push_back(parse_positive(trim(rest.substr(0, comma)), name_or_list));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return grid;
}

CrossValidation summarize_scores(std::vector<double> scores) {
  CrossValidation cv;
  cv.scores = std::move(scores);
  const std::size_t n = cv.scores.size();
  if (n == 0) return cv;
  cv.mean = numpy_sum(cv.scores.data(), n) / static_cast<double>(n);
  std::vector<double> squares(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double deviation = cv.scores[i] - cv.mean;
    squares[i] = deviation * deviation;
  }
  cv.std = std::sqrt(numpy_sum(squares.data(), n) / static_cast<double>(n));
  return cv;
}

CrossValidation cross_val_score(const MatrixView& x, std::span<const std::int64_t> labels,
                                const LogisticRegressionOptions& options, int folds) {
  check_training_data(x, labels, "cross_val_score");
  const std::vector<int> fold_of = stratified_kfold(labels, folds);
  std::vector<double> scores(static_cast<std::size_t>(folds));
  LogisticRegressionOptions fold_options = options;
  fold_options.threads = 1;  // the folds are the parallel unit
  run_tasks(
      scores.size(), util::resolve_threads(options.threads),
      [&](std::size_t f) {
        const TrainTestSplit split = fold_rows(fold_of, static_cast<int>(f));
        const Matrix train_x = take_rows(x, split.train);
        const Matrix test_x = take_rows(x, split.test);
        LogisticRegression model(fold_options);
        model.fit(train_x.view(), take(labels, split.train));
        scores[f] = model.score(test_x.view(), take(labels, split.test));
      },
      [](std::size_t f) { return "cross-validation fold " + std::to_string(f); });
  return summarize_scores(std::move(scores));
}

CrossValidation cross_val_score_majority(std::span<const std::int64_t> labels, int folds) {
  if (labels.empty()) throw InvalidArgument("cross_val_score: no rows");
  const std::vector<int> fold_of = stratified_kfold(labels, folds);
  std::vector<double> scores;
  for (int f = 0; f < folds; ++f) {
    const TrainTestSplit split = fold_rows(fold_of, f);
    MajorityClassifier baseline;
    baseline.fit(take(labels, split.train));
    scores.push_back(baseline.score(take(labels, split.test)));
  }
  return summarize_scores(std::move(scores));
}

GridSearchResult fit_with_grid_search(const MatrixView& x, std::span<const std::int64_t> labels,
                                      std::span<const double> grid,
                                      const GridSearchOptions& options) {
  if (grid.empty()) throw InvalidArgument("grid search: the C grid is empty");
  for (double c : grid) {
    if (!(c > 0) || !std::isfinite(c)) {
      throw InvalidArgument("grid search: C must be positive and finite, got " + format_c(c));
    }
  }
  check_training_data(x, labels, "grid search");
  const std::vector<int> fold_of = stratified_kfold(labels, options.folds);
  const int threads = util::resolve_threads(options.threads);
  const std::size_t points = grid.size();
  const auto folds = static_cast<std::size_t>(options.folds);

  std::vector<double> scores(points * folds);
  std::vector<int> iterations(points * folds);
  std::vector<char> converged(points * folds);
  // Fold by fold, so one copy of a fold's rows serves every C (fitted in parallel).
  for (std::size_t f = 0; f < folds; ++f) {
    const TrainTestSplit split = fold_rows(fold_of, static_cast<int>(f));
    const Matrix train_x = take_rows(x, split.train);
    const Matrix test_x = take_rows(x, split.test);
    const std::vector<std::int64_t> train_y = take(labels, split.train);
    const std::vector<std::int64_t> test_y = take(labels, split.test);
    run_tasks(
        points, threads,
        [&](std::size_t g) {
          LogisticRegressionOptions o = options.base;
          o.C = grid[g];
          o.threads = 1;
          LogisticRegression model(o);
          model.fit(train_x.view(), train_y);
          scores[g * folds + f] = model.score(test_x.view(), test_y);
          iterations[g * folds + f] = model.fit_report().iterations;
          converged[g * folds + f] = model.fit_report().converged;
        },
        [&](std::size_t g) {
          return "grid search, C=" + format_c(grid[g]) + ", fold " + std::to_string(f);
        });
  }

  GridSearchResult result;
  result.folds = options.folds;
  for (std::size_t g = 0; g < points; ++g) {
    GridPoint point;
    point.C = grid[g];
    point.cv = summarize_scores(
        std::vector<double>(scores.begin() + g * folds, scores.begin() + (g + 1) * folds));
    for (std::size_t f = 0; f < folds; ++f) {
      point.max_iterations = std::max(point.max_iterations, iterations[g * folds + f]);
      point.unconverged_folds += converged[g * folds + f] ? 0 : 1;
    }
    result.points.push_back(std::move(point));
  }
  for (std::size_t g = 0; g < points; ++g) {
    int better = 0;
    for (const GridPoint& other : result.points) better += other.cv.mean > result.points[g].cv.mean;
    result.points[g].rank = 1 + better;
    if (result.points[g].cv.mean > result.points[result.best_index].cv.mean) result.best_index = g;
  }
  result.best_C = grid[result.best_index];
  result.best_score = result.points[result.best_index].cv.mean;

  LogisticRegressionOptions refit = options.base;
  refit.C = result.best_C;
  refit.threads = options.threads;
  result.model = LogisticRegression(refit);
  result.model.fit(x, labels);
  return result;
}

}  // namespace bertlite::learn
