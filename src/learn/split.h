// learn/split.h - seeded train/test splits and stratified k-fold, row for row as scikit-learn.
//
//   learn::TrainTestSplit s = learn::train_test_split(n, /*seed=*/42);   // 25% test
//   learn::Matrix train_x = learn::take_rows(x, s.train);
//   std::vector<int> fold = learn::stratified_kfold(labels, 5);          // fold of each row
//
// train_test_split(n, seed) picks the rows train_test_split(X, y, random_state=seed) picks in
// scikit-learn: the permutation is numpy.random.RandomState(seed).permutation(n) (MT19937
// seeded by init_genrand, numpy's legacy Fisher-Yates shuffle with masked rejection sampling),
// its first ceil(test_fraction * n) entries are the test rows and the rest the training rows,
// in that order.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace bertlite::learn {

// numpy's legacy MT19937 stream (numpy.random.RandomState(seed)).
class NumpyRandomState {
 public:
  explicit NumpyRandomState(std::uint32_t seed);
  std::uint32_t next_uint32();
  // A uniform integer in [0, max], as numpy's random_interval (mask, then reject).
  std::uint64_t interval(std::uint64_t max);

 private:
  std::uint32_t state_[624];
  int position_ = 624;
};

// numpy.random.RandomState(seed).permutation(n).
std::vector<std::int64_t> numpy_permutation(std::uint32_t seed, std::int64_t n);

struct TrainTestSplit {
  std::vector<std::int64_t> train;  // row indices, in scikit-learn's order
  std::vector<std::int64_t> test;
};

// Throws InvalidArgument unless 0 < test_fraction < 1 and both parts get at least one row.
TrainTestSplit train_test_split(std::int64_t n, std::uint32_t seed, double test_fraction = 0.25);

// scikit-learn's StratifiedKFold(n_splits, shuffle=False) (>= 0.22): the test fold (0 ..
// n_splits-1) of every row. Classes are numbered by first appearance; each class's rows, in
// order, go to folds in blocks sized by dealing the class-sorted labels round robin. Throws
// InvalidArgument when n_splits < 2, n_splits > rows, or every class has fewer than n_splits
// rows (scikit-learn only warns when some class has, and so do we: the folds are still made).
std::vector<int> stratified_kfold(std::span<const std::int64_t> labels, int n_splits = 5);

// The rows of fold `fold` (test) and of all other folds (train), each increasing.
TrainTestSplit fold_rows(std::span<const int> folds, int fold);

}  // namespace bertlite::learn
