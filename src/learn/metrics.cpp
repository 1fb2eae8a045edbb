// learn/metrics.cpp - accuracy, confusion matrix, precision/recall/F1, ROC AUC.
#include "learn/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "bertlite/error.h"

namespace bertlite::learn {
namespace {

void check_pair(std::size_t a, std::size_t b, const char* who) {
  if (a != b) {
    throw InvalidArgument(std::string(who) + ": " + std::to_string(a) + " true labels and " +
                          std::to_string(b) + " predictions");
  }
  if (a == 0) throw InvalidArgument(std::string(who) + ": no rows");
}

double ratio(std::int64_t num, std::int64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

}  // namespace

double accuracy(std::span<const std::int64_t> y_true, std::span<const std::int64_t> y_pred) {
  check_pair(y_true.size(), y_pred.size(), "accuracy");
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < y_true.size(); ++i) correct += y_true[i] == y_pred[i];
  return static_cast<double>(correct) / static_cast<double>(y_true.size());
}

std::vector<std::int64_t> confusion_matrix(std::span<const std::int64_t> y_true,
                                           std::span<const std::int64_t> y_pred,
                                           std::span<const std::int64_t> labels) {
  check_pair(y_true.size(), y_pred.size(), "confusion_matrix");
  std::vector<std::int64_t> sorted(labels.begin(), labels.end());
  std::vector<std::size_t> order(labels.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return labels[a] < labels[b]; });
  std::sort(sorted.begin(), sorted.end());
  auto index = [&](std::int64_t label) -> std::ptrdiff_t {
    const auto it = std::lower_bound(sorted.begin(), sorted.end(), label);
    if (it == sorted.end() || *it != label) return -1;
    return static_cast<std::ptrdiff_t>(order[it - sorted.begin()]);
  };
  const std::size_t k = labels.size();
  std::vector<std::int64_t> counts(k * k, 0);
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    const std::ptrdiff_t t = index(y_true[i]), p = index(y_pred[i]);
    if (t >= 0 && p >= 0) ++counts[t * k + p];
  }
  return counts;
}

ClassificationReport classification_report(std::span<const std::int64_t> y_true,
                                           std::span<const std::int64_t> y_pred) {
  check_pair(y_true.size(), y_pred.size(), "classification_report");
  ClassificationReport r;
  r.labels.assign(y_true.begin(), y_true.end());
  r.labels.insert(r.labels.end(), y_pred.begin(), y_pred.end());
  std::sort(r.labels.begin(), r.labels.end());
  r.labels.erase(std::unique(r.labels.begin(), r.labels.end()), r.labels.end());
  const std::size_t k = r.labels.size();
  r.confusion = confusion_matrix(y_true, y_pred, r.labels);
  std::int64_t correct = 0;
  for (std::size_t c = 0; c < k; ++c) {
    std::int64_t predicted = 0, actual = 0;
    for (std::size_t j = 0; j < k; ++j) {
      predicted += r.confusion[j * k + c];
      actual += r.confusion[c * k + j];
    }
    const std::int64_t hits = r.confusion[c * k + c];
    correct += hits;
    ClassMetrics m;
    m.label = r.labels[c];
    m.support = actual;
    m.precision = ratio(hits, predicted);
    m.recall = ratio(hits, actual);
    // sklearn: F1 = 2 tp / (2 tp + fp + fn), 0 when that denominator is 0.
    m.f1 = ratio(2 * hits, predicted + actual);
    r.macro_precision += m.precision;
    r.macro_recall += m.recall;
    r.macro_f1 += m.f1;
    r.per_class.push_back(m);
  }
  r.macro_precision /= static_cast<double>(k);
  r.macro_recall /= static_cast<double>(k);
  r.macro_f1 /= static_cast<double>(k);
  r.accuracy = static_cast<double>(correct) / static_cast<double>(y_true.size());
  return r;
}

double roc_auc(std::span<const std::int64_t> y_true, std::span<const double> scores) {
  if (y_true.size() != scores.size()) {
    throw InvalidArgument("roc_auc: " + std::to_string(y_true.size()) + " labels and " +
                          std::to_string(scores.size()) + " scores");
  }
  std::vector<std::int64_t> labels(y_true.begin(), y_true.end());
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  if (labels.size() != 2) {
    throw InvalidArgument("roc_auc: needs exactly two classes in the true labels, got " +
                          std::to_string(labels.size()));
  }
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (std::isnan(scores[i]))
      throw InvalidArgument("roc_auc: score " + std::to_string(i) + " is NaN");
  }
  const std::int64_t positive = labels[1];
  // Rows by decreasing score; each run of equal scores is one ROC point, so the trapezoid
  // between two points gives a tie between a positive and a negative row one half.
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  // Twice the area in units of (1 / (P N)), exact in integers.
  std::int64_t tp = 0, fp = 0, twice_area = 0;
  for (std::size_t i = 0; i < order.size();) {
    std::int64_t run_tp = 0, run_fp = 0;
    std::size_t j = i;
    for (; j < order.size() && scores[order[j]] == scores[order[i]]; ++j) {
      (y_true[order[j]] == positive ? run_tp : run_fp) += 1;
    }
    twice_area += run_fp * (2 * tp + run_tp);
    tp += run_tp;
    fp += run_fp;
    i = j;
  }
  return static_cast<double>(twice_area) /
         (2.0 * static_cast<double>(tp) * static_cast<double>(fp));
}

}  // namespace bertlite::learn
