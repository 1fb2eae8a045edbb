// learn/model_selection.h - cross-validated accuracy and the grid search over C, as
// scikit-learn's cross_val_score and GridSearchCV(LogisticRegression(), {"C": grid}) with
// cv=None (StratifiedKFold(5), no shuffle, accuracy, refit on all rows).
//
//   auto grid = learn::named_grid("walkthrough");          // or "log", or "0.1,1,10"
//   learn::GridSearchResult r = learn::fit_with_grid_search(train_x, train_y, grid);
//   r.points[i].mean / .std   r.best_C   r.model.predict(test_x)
//
// The best grid point has the highest mean fold accuracy; ties go to the earliest point (as
// GridSearchCV's rank_test_score.argmin()). Means and (population) standard deviations are
// computed as numpy's mean and std over the folds.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "learn/logistic_regression.h"
#include "learn/matrix.h"

namespace bertlite::learn {

// np.linspace(start, stop, num): start + i * step, the last point exactly `stop`.
std::vector<double> linspace(double start, double stop, int num);

// The C grids by name:
//   "walkthrough": np.linspace(0.0001, 100, 20), the grid the "first BERT" notebook shows;
//   "log":         np.logspace(-4, 4, 17), 1e-4 .. 1e4 at half decades: C spans regimes from
//                  "all regularization" to "almost none" evenly, which a linear grid does not
//                  (the walkthrough's steps of 5.26 skip everything between 1e-4 and 5).
// Or a comma-separated list of positive numbers ("0.01,0.1,1"), kept in the order given.
// Throws InvalidArgument naming the bad entry.
std::vector<double> parse_grid(std::string_view name_or_list);

// Per-fold scores and their numpy mean and population std.
struct CrossValidation {
  std::vector<double> scores;
  double mean = 0;
  double std = 0;
};

// Mean and population standard deviation as numpy computes them (pairwise-free for short
// arrays: a plain left-to-right sum).
CrossValidation summarize_scores(std::vector<double> scores);

// cross_val_score(LogisticRegression(options), X, y, cv=folds): accuracy per stratified fold.
// Folds run in parallel on options.threads threads.
CrossValidation cross_val_score(const MatrixView& x, std::span<const std::int64_t> labels,
                                const LogisticRegressionOptions& options, int folds = 5);

// The same for the majority-class baseline (DummyClassifier()).
CrossValidation cross_val_score_majority(std::span<const std::int64_t> labels, int folds = 5);

struct GridPoint {
  double C = 0;
  CrossValidation cv;         // fold accuracies, mean, std
  int rank = 0;               // 1 = best; equal means share the smaller rank (rank_test_score)
  int max_iterations = 0;     // most L-BFGS iterations over the folds
  int unconverged_folds = 0;  // folds whose fit hit max_iter (scikit-learn warns)
};

struct GridSearchResult {
  std::vector<GridPoint> points;  // in grid order
  std::size_t best_index = 0;
  double best_C = 0;
  double best_score = 0;  // points[best_index].cv.mean
  int folds = 0;
  LogisticRegression model;  // refit on all rows with best_C
};

struct GridSearchOptions {
  LogisticRegressionOptions base;  // everything but C
  int folds = 5;
  int threads = 0;  // (C, fold) fits run in parallel on this many threads (0 = all available)
};

// GridSearchCV(LogisticRegression(**base), {"C": grid}, cv=folds).fit(X, y), in one call.
// Throws InvalidArgument for an empty grid, a non-positive C, or data the folds or the
// classifier refuse (see stratified_kfold and LogisticRegression::fit).
GridSearchResult fit_with_grid_search(const MatrixView& x, std::span<const std::int64_t> labels,
                                      std::span<const double> grid,
                                      const GridSearchOptions& options = {});

}  // namespace bertlite::learn
