// learn/matrix.cpp - shape checks and row selection for the learn layer's feature matrices.
#include "learn/matrix.h"

#include <cmath>
#include <cstring>
#include <string>

#include "bertlite/error.h"

namespace bertlite::learn {

void check_matrix(const MatrixView& x, std::string_view what) {
  if (x.rows < 0 || x.cols < 0) {
    throw InvalidArgument(std::string(what) + ": negative shape [" + std::to_string(x.rows) + ", " +
                          std::to_string(x.cols) + "]");
  }
  if (static_cast<std::uint64_t>(x.data.size()) !=
      static_cast<std::uint64_t>(x.rows) * static_cast<std::uint64_t>(x.cols)) {
    throw InvalidArgument(std::string(what) + ": shape [" + std::to_string(x.rows) + ", " +
                          std::to_string(x.cols) + "] needs " + std::to_string(x.rows * x.cols) +
                          " values, got " + std::to_string(x.data.size()));
  }
}

void check_finite(const MatrixView& x, std::string_view what) {
  for (std::int64_t i = 0; i < x.rows; ++i) {
    const float* r = x.row(i);
    for (std::int64_t j = 0; j < x.cols; ++j) {
      if (!std::isfinite(r[j])) {
        throw InvalidArgument(std::string(what) + ": row " + std::to_string(i) + ", column " +
                              std::to_string(j) + " is " + std::to_string(r[j]) +
                              " (features must be finite)");
      }
    }
  }
}

void check_labels(const MatrixView& x, std::span<const std::int64_t> labels) {
  if (static_cast<std::int64_t>(labels.size()) != x.rows) {
    throw InvalidArgument("labels: " + std::to_string(labels.size()) + " labels for " +
                          std::to_string(x.rows) + " feature rows");
  }
}

Matrix take_rows(const MatrixView& x, std::span<const std::int64_t> rows) {
  check_matrix(x, "X");
  Matrix out;
  out.rows = static_cast<std::int64_t>(rows.size());
  out.cols = x.cols;
  out.data.resize(rows.size() * static_cast<std::size_t>(x.cols));
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (rows[k] < 0 || rows[k] >= x.rows) {
      throw InvalidArgument("row index " + std::to_string(rows[k]) + " out of range [0, " +
                            std::to_string(x.rows) + ")");
    }
    if (x.cols > 0) {
      std::memcpy(out.data.data() + k * x.cols, x.row(rows[k]), x.cols * sizeof(float));
    }
  }
  return out;
}

std::vector<std::int64_t> take(std::span<const std::int64_t> values,
                               std::span<const std::int64_t> indices) {
  std::vector<std::int64_t> out;
  out.reserve(indices.size());
  for (std::int64_t i : indices) {
    if (i < 0 || i >= static_cast<std::int64_t>(values.size())) {
      throw InvalidArgument("index " + std::to_string(i) + " out of range [0, " +
                            std::to_string(values.size()) + ")");
    }
    out.push_back(values[i]);
  }
  return out;
}

}  // namespace bertlite::learn
