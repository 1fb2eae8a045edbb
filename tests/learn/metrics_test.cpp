// tests/learn/metrics_test.cpp - accuracy, confusion matrix, precision/recall/F1 and ROC AUC
// against scikit-learn.metrics on the goldens' cases (ties, zero divisions, unseen labels).
#include "learn/metrics.h"

#include <gtest/gtest.h>

#include "bertlite/error.h"
#include "learn_test_helpers.h"

namespace bertlite::learn {
namespace {

using test::flat;
using test::goldens;
using test::throws_with;

TEST(Metrics, ClassificationReportMatchesScikitLearn) {
  for (const auto& e : goldens()["classification"]) {
    SCOPED_TRACE(e["name"].get<std::string>());
    const auto y_true = e["y_true"].get<std::vector<std::int64_t>>();
    const auto y_pred = e["y_pred"].get<std::vector<std::int64_t>>();
    const ClassificationReport r = classification_report(y_true, y_pred);
    EXPECT_EQ(r.labels, e["labels"].get<std::vector<std::int64_t>>());
    ASSERT_EQ(r.per_class.size(), r.labels.size());
    for (std::size_t k = 0; k < r.labels.size(); ++k) {
      EXPECT_EQ(r.per_class[k].label, r.labels[k]);
      EXPECT_NEAR(r.per_class[k].precision, e["precision"][k].get<double>(), 1e-15);
      EXPECT_NEAR(r.per_class[k].recall, e["recall"][k].get<double>(), 1e-15);
      EXPECT_NEAR(r.per_class[k].f1, e["f1"][k].get<double>(), 1e-15);
      EXPECT_EQ(r.per_class[k].support, e["support"][k].get<std::int64_t>());
    }
    EXPECT_NEAR(r.macro_precision, e["macro_precision"].get<double>(), 1e-15);
    EXPECT_NEAR(r.macro_recall, e["macro_recall"].get<double>(), 1e-15);
    EXPECT_NEAR(r.macro_f1, e["macro_f1"].get<double>(), 1e-15);
    EXPECT_DOUBLE_EQ(r.accuracy, e["accuracy"].get<double>());
    EXPECT_DOUBLE_EQ(accuracy(y_true, y_pred), e["accuracy"].get<double>());
    std::vector<std::int64_t> want_confusion;
    for (const auto& row : e["confusion"]) {
      for (const auto& v : row) want_confusion.push_back(v.get<std::int64_t>());
    }
    EXPECT_EQ(r.confusion, want_confusion);
  }
}

TEST(Metrics, ConfusionMatrixWithGivenLabels) {
  const std::vector<std::int64_t> t = {1, 2, 3, 3}, p = {1, 3, 3, 9};
  // Labels in the caller's order; rows with other labels (9) are left out.
  EXPECT_EQ(confusion_matrix(t, p, std::vector<std::int64_t>{3, 1, 2}),
            (std::vector<std::int64_t>{1, 0, 0,  //
                                       0, 1, 0,  //
                                       1, 0, 0}));
}

TEST(Metrics, RocAucMatchesScikitLearn) {
  for (const auto& e : goldens()["roc_auc"]) {
    SCOPED_TRACE(e["name"].get<std::string>());
    const double auc = roc_auc(e["y"].get<std::vector<std::int64_t>>(), flat(e["scores"]));
    EXPECT_NEAR(auc, e["auc"].get<double>(), 1e-15);
  }
}

TEST(Metrics, Errors) {
  const std::vector<std::int64_t> a = {0, 1}, b = {0};
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { accuracy(a, b); }, "2 true labels and 1"));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { accuracy({}, {}); }, "no rows"));
  const std::vector<double> s2 = {0.1, 0.2};
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        roc_auc(std::vector<std::int64_t>{1, 1}, s2);
      },
      "exactly two classes"));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        roc_auc(std::vector<std::int64_t>{0, 1, 2}, std::vector<double>{1, 2, 3});
      },
      "got 3"));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        roc_auc(a, std::vector<double>{0.5, std::nan("")});
      },
      "NaN"));
}

}  // namespace
}  // namespace bertlite::learn
