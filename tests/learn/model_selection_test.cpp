// tests/learn/model_selection_test.cpp - C grids, cross_val_score, the majority baseline's CV
// and GridSearchCV, against scikit-learn's results for the same rows.
#include "learn/model_selection.h"

#include <gtest/gtest.h>

#include "bertlite/error.h"
#include "learn_test_helpers.h"

namespace bertlite::learn {
namespace {

using test::dataset;
using test::flat;
using test::goldens;
using test::throws_with;

TEST(Grids, AsNumpyMakesThem) {
  // linspace: bit for bit (same arithmetic). logspace: numpy's power may use a vector math
  // library, so allow an ulp or two.
  EXPECT_EQ(parse_grid("walkthrough"), flat(goldens()["grids"]["walkthrough"]));
  const std::vector<double> log = parse_grid(" log ");
  const std::vector<double> want = flat(goldens()["grids"]["log"]);
  ASSERT_EQ(log.size(), want.size());
  for (std::size_t i = 0; i < log.size(); ++i) EXPECT_NEAR(log[i], want[i], 4e-16 * want[i]);
  EXPECT_EQ(log.front(), 1e-4);
  EXPECT_EQ(log[8], 1.0);
  EXPECT_EQ(parse_grid("0.5, 2,1e3"), (std::vector<double>{0.5, 2, 1000}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { parse_grid("1,-2"); }, "\"-2\" is not a positive"));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { parse_grid("logarithmic"); }, "walkthrough"));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { parse_grid("1,,2"); }, "\"\""));
  EXPECT_EQ(linspace(0, 1, 1), (std::vector<double>{0}));
  EXPECT_TRUE(linspace(0, 1, 0).empty());
}

TEST(CrossValidation, MatchesScikitLearn) {
  for (const auto& e : goldens()["cross_val_score"]) {
    SCOPED_TRACE(e["dataset"].get<std::string>());
    const test::Dataset& d = dataset(e["dataset"]);
    LogisticRegressionOptions o;
    o.C = e["C"].get<double>();
    o.max_iter = e["max_iter"].get<int>();
    o.tol = e["tol"].get<double>();
    const CrossValidation cv = cross_val_score(d.train_x.view(), d.train_y, o);
    EXPECT_EQ(cv.scores, flat(e["scores"]));
    EXPECT_EQ(cv.mean, e["mean"].get<double>());
    EXPECT_NEAR(cv.std, e["std"].get<double>(), 1e-15);
  }
  for (const auto& e : goldens()["dummy_cv"]) {
    SCOPED_TRACE("majority " + e["dataset"].get<std::string>());
    const CrossValidation cv = cross_val_score_majority(dataset(e["dataset"]).train_y);
    EXPECT_EQ(cv.scores, flat(e["scores"]));
    EXPECT_EQ(cv.mean, e["mean"].get<double>());
    EXPECT_NEAR(cv.std, e["std"].get<double>(), 1e-15);
  }
}

TEST(CrossValidation, NumpyMeanAndPopulationStd) {
  const CrossValidation cv = summarize_scores({0.5, 0.75, 1.0, 0.75});
  EXPECT_DOUBLE_EQ(cv.mean, 0.75);
  EXPECT_DOUBLE_EQ(cv.std, std::sqrt(0.125 / 4));  // divides by n, not n - 1
  // Nine values: numpy's 8-way unrolled sum, which differs from a plain left-to-right sum.
  std::vector<double> nine = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1e16};
  const double unrolled = (((0.1 + 0.2) + (0.3 + 0.4)) + ((0.5 + 0.6) + (0.7 + 0.8))) + 1e16;
  EXPECT_EQ(summarize_scores(nine).mean, unrolled / 9);
}

// GridSearchCV over the walkthrough grid (binary) and the log grid (3 classes): every fold
// accuracy, mean, rank, the chosen C (ties: the earliest) and the refit model.
TEST(GridSearch, MatchesScikitLearn) {
  for (const auto& e : goldens()["grid_search"]) {
    SCOPED_TRACE(e["dataset"].get<std::string>() + " " + e["grid"].get<std::string>());
    const test::Dataset& d = dataset(e["dataset"]);
    GridSearchOptions o;
    o.base.max_iter = e["max_iter"].get<int>();
    o.base.tol = e["tol"].get<double>();
    const std::vector<double> grid = parse_grid(e["grid"].get<std::string>());
    ASSERT_EQ(grid.size(), e["C"].size());
    const GridSearchResult r = fit_with_grid_search(d.train_x.view(), d.train_y, grid, o);
    ASSERT_EQ(r.points.size(), grid.size());
    for (std::size_t g = 0; g < grid.size(); ++g) {
      SCOPED_TRACE("C=" + std::to_string(grid[g]));
      for (int f = 0; f < 5; ++f) {
        EXPECT_EQ(r.points[g].cv.scores[f], e["fold_scores"][f][g].get<double>()) << "fold " << f;
      }
      EXPECT_EQ(r.points[g].cv.mean, e["mean"][g].get<double>());
      EXPECT_NEAR(r.points[g].cv.std, e["std"][g].get<double>(), 1e-15);
      EXPECT_EQ(r.points[g].rank, e["rank"][g].get<int>());
      EXPECT_EQ(r.points[g].unconverged_folds, 0);
    }
    EXPECT_EQ(r.best_index, e["best_index"].get<std::size_t>());
    EXPECT_EQ(r.best_C, e["best_C"].get<double>());
    EXPECT_EQ(r.model.options().C, r.best_C);
    EXPECT_LE(test::relative_error(r.model.coef(), flat(e["refit_coef"])), 1e-3);
    EXPECT_LE(test::max_abs_error(r.model.intercept(), flat(e["refit_intercept"])), 1e-3);
    EXPECT_EQ(r.model.score(d.test_x.view(), d.test_y), e["test_score"].get<double>());
  }
}

TEST(GridSearch, TiesGoToTheEarliestPoint) {
  // Separable in one feature, 12 rows of class 0 and 8 of class 1: a tiny C leaves only the
  // intercept (majority class, 0.6); from C = 1 up every fold scores 1.0.
  std::vector<float> x;
  std::vector<std::int64_t> y;
  for (int i = 0; i < 20; ++i) {
    const bool positive = i % 5 < 2;
    x.push_back(static_cast<float>(positive ? 1 + i : -1 - i));
    y.push_back(positive);
  }
  GridSearchOptions o;
  o.base.max_iter = 50;
  const std::vector<double> grid = {1e-6, 1, 10, 100};
  const GridSearchResult r = fit_with_grid_search({x, 20, 1}, y, grid, o);
  EXPECT_EQ(r.points[0].cv.mean, 0.6);
  EXPECT_EQ(r.points[1].cv.mean, 1.0);
  EXPECT_EQ(r.points[3].cv.mean, 1.0);
  EXPECT_EQ(r.best_index, 1u);
  EXPECT_EQ(r.points[0].rank, 4);
  EXPECT_EQ(r.points[1].rank, 1);
  EXPECT_EQ(r.points[2].rank, 1);
  EXPECT_EQ(r.best_C, 1.0);
}

TEST(GridSearch, RefusesBadInput) {
  const test::Dataset& d = dataset("binary");
  const std::vector<double> empty;
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { fit_with_grid_search(d.train_x.view(), d.train_y, empty); }, "grid is empty"));
  const std::vector<double> negative = {1, -1};
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { fit_with_grid_search(d.train_x.view(), d.train_y, negative); }, "C must be"));
  std::vector<float> x = {0, 1, 2, 3, 4, 5};
  const std::vector<std::int64_t> y = {0, 0, 0, 0, 0, 1};
  const std::vector<double> one = {1.0};
  // Fold 1 trains on rows 0-2, all label 0: the fit refuses, and the error says where.
  GridSearchOptions o;
  o.folds = 2;
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        fit_with_grid_search({x, 6, 1}, y, one, o);
      },
      "grid search, C=1, fold 1: "));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        fit_with_grid_search({x, 6, 1}, std::vector<std::int64_t>{0, 1}, one);
      },
      "2 labels for 6 feature rows"));
}

}  // namespace
}  // namespace bertlite::learn
