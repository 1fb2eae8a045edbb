// learn/matrix.h - the feature matrix the learn layer reads: float32 rows, row-major, borrowed.
//
// Features come from the encoder (model::Features) or a .npy file (io::NpyMatrix) as float32
// [rows, cols]; every learner here takes a MatrixView of them and never copies the whole
// matrix unless it must select rows (take_rows, for a split or a fold).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace bertlite::learn {

// A borrowed float32 [rows, cols] matrix, row-major. `data.size()` must be rows * cols; every
// entry point checks it (check_matrix) and throws InvalidArgument otherwise.
struct MatrixView {
  std::span<const float> data;
  std::int64_t rows = 0;
  std::int64_t cols = 0;

  const float* row(std::int64_t i) const { return data.data() + i * cols; }
};

// An owned float32 [rows, cols] matrix (the rows of a split or a fold).
struct Matrix {
  std::vector<float> data;
  std::int64_t rows = 0;
  std::int64_t cols = 0;

  MatrixView view() const { return {data, rows, cols}; }
};

// Throws InvalidArgument, naming `what` ("X", "train features"), when the sizes disagree or
// rows/cols are negative.
void check_matrix(const MatrixView& x, std::string_view what);

// Throws InvalidArgument naming the first row and column that is NaN or infinite.
void check_finite(const MatrixView& x, std::string_view what);

// Throws InvalidArgument when `labels` does not have one entry per row of `x`.
void check_labels(const MatrixView& x, std::span<const std::int64_t> labels);

// The listed rows of `x`, in the order given. Throws InvalidArgument for an index out of range.
Matrix take_rows(const MatrixView& x, std::span<const std::int64_t> rows);

// The listed entries of `values`, in the order given.
std::vector<std::int64_t> take(std::span<const std::int64_t> values,
                               std::span<const std::int64_t> indices);

}  // namespace bertlite::learn
