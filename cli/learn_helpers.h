// cli/learn_helpers.h - small glue between the encoder's features and the learn layer, shared
// by `train` and `guide`.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "learn/matrix.h"
#include "learn/metrics.h"
#include "model/features.h"

namespace bertlite::cli {

inline learn::MatrixView view_of(const model::Features& f) {
  return {f.data, f.rows, f.cols};
}

// ROC AUC of the second class from predict_proba's [rows, classes]; none unless two classes.
inline std::optional<double> binary_roc_auc(std::span<const std::int64_t> truth,
                                            const std::vector<double>& probabilities,
                                            std::size_t classes) {
  if (classes != 2) return std::nullopt;
  std::vector<double> positive(truth.size());
  for (std::size_t i = 0; i < positive.size(); ++i) positive[i] = probabilities[2 * i + 1];
  return learn::roc_auc(truth, positive);
}

}  // namespace bertlite::cli
