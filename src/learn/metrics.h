// learn/metrics.h - classification metrics as scikit-learn.metrics computes them.
//
//   learn::ClassificationReport r = learn::classification_report(y_true, y_pred);
//   r.accuracy, r.per_class[k].f1, r.macro_f1, r.confusion (row = true label)
//   double auc = learn::roc_auc(y_true, positive_scores);
//
// Labels are the union of the true and predicted labels, increasing (scikit-learn's
// unique_labels). A precision or recall whose denominator is zero is 0 (scikit-learn's
// zero_division="warn" value), and so is F1 when precision + recall is 0.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace bertlite::learn {

// Fraction of rows where they agree. Throws InvalidArgument for different lengths or no rows.
double accuracy(std::span<const std::int64_t> y_true, std::span<const std::int64_t> y_pred);

// [labels.size(), labels.size()] counts, row = true label, column = predicted label; rows
// whose labels are not listed are ignored (as sklearn's confusion_matrix(labels=...)).
std::vector<std::int64_t> confusion_matrix(std::span<const std::int64_t> y_true,
                                           std::span<const std::int64_t> y_pred,
                                           std::span<const std::int64_t> labels);

struct ClassMetrics {
  std::int64_t label = 0;
  double precision = 0;
  double recall = 0;
  double f1 = 0;
  std::int64_t support = 0;  // true rows of this label
};

struct ClassificationReport {
  std::vector<std::int64_t> labels;     // sorted union of true and predicted labels
  std::vector<ClassMetrics> per_class;  // one per label
  double macro_precision = 0;           // unweighted means over labels
  double macro_recall = 0;
  double macro_f1 = 0;
  double accuracy = 0;
  std::vector<std::int64_t> confusion;  // [labels, labels], row = true label
};

ClassificationReport classification_report(std::span<const std::int64_t> y_true,
                                           std::span<const std::int64_t> y_pred);

// Area under the ROC curve for two classes: the larger label of y_true is positive, `scores`
// rank rows by how positive they are (probability or decision value). Tied scores count one
// half, as the trapezoids of sklearn's roc_auc_score do. Throws InvalidArgument unless y_true
// holds exactly two labels and the lengths agree, or for a NaN score.
double roc_auc(std::span<const std::int64_t> y_true, std::span<const double> scores);

}  // namespace bertlite::learn
