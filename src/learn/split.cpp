// learn/split.cpp - numpy's legacy permutation, train/test split and stratified k-fold.
#include "learn/split.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "bertlite/error.h"

namespace bertlite::learn {

NumpyRandomState::NumpyRandomState(std::uint32_t seed) {
  // init_genrand, which numpy's legacy seeding uses for an integer seed.
  state_[0] = seed;
  for (int i = 1; i < 624; ++i) {
    state_[i] =
        1812433253u * (state_[i - 1] ^ (state_[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
  }
  position_ = 624;
}

std::uint32_t NumpyRandomState::next_uint32() {
  constexpr std::uint32_t kUpper = 0x80000000u, kLower = 0x7fffffffu, kMatrixA = 0x9908b0dfu;
  if (position_ >= 624) {
    for (int i = 0; i < 624; ++i) {
      const std::uint32_t y = (state_[i] & kUpper) | (state_[(i + 1) % 624] & kLower);
      state_[i] = state_[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
    }
    position_ = 0;
  }
  std::uint32_t y = state_[position_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

std::uint64_t NumpyRandomState::interval(std::uint64_t max) {
  if (max == 0) return 0;
  // The smallest all-ones mask covering max; draw and reject until the value fits.
  std::uint64_t mask = max;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  std::uint64_t value;
  if (max <= 0xffffffffull) {
    while ((value = (next_uint32() & mask)) > max) {
    }
  } else {
    // numpy's next_uint64 for MT19937: two 32-bit draws, the first the high half.
    auto next64 = [&] {
      const std::uint64_t hi = next_uint32();
      return (hi << 32) | next_uint32();
    };
    while ((value = (next64() & mask)) > max) {
    }
  }
  return value;
}

std::vector<std::int64_t> numpy_permutation(std::uint32_t seed, std::int64_t n) {
  if (n < 0) throw InvalidArgument("permutation: negative length " + std::to_string(n));
  std::vector<std::int64_t> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) out[i] = i;
  NumpyRandomState random(seed);
  // RandomState.shuffle: for i from n-1 down to 1, swap i with a uniform j in [0, i].
  for (std::int64_t i = n - 1; i >= 1; --i) {
    const auto j = static_cast<std::int64_t>(random.interval(static_cast<std::uint64_t>(i)));
    std::swap(out[i], out[j]);
  }
  return out;
}

TrainTestSplit train_test_split(std::int64_t n, std::uint32_t seed, double test_fraction) {
  if (!(test_fraction > 0.0 && test_fraction < 1.0)) {
    throw InvalidArgument("train_test_split: the test fraction must be in (0, 1), got " +
                          std::to_string(test_fraction));
  }
  // scikit-learn: n_test = ceil(test_size * n), n_train = n - n_test.
  const auto n_test = static_cast<std::int64_t>(std::ceil(test_fraction * static_cast<double>(n)));
  const std::int64_t n_train = n - n_test;
  if (n_test < 1 || n_train < 1) {
    throw InvalidArgument("train_test_split: " + std::to_string(n) + " rows with test fraction " +
                          std::to_string(test_fraction) + " leave " + std::to_string(n_train) +
                          " training and " + std::to_string(n_test) + " test rows");
  }
  const std::vector<std::int64_t> permutation = numpy_permutation(seed, n);
  TrainTestSplit split;
  split.test.assign(permutation.begin(), permutation.begin() + n_test);
  split.train.assign(permutation.begin() + n_test, permutation.end());
  return split;
}

std::vector<int> stratified_kfold(std::span<const std::int64_t> labels, int n_splits) {
  const auto n = static_cast<std::int64_t>(labels.size());
  if (n_splits < 2) {
    throw InvalidArgument("stratified k-fold: need at least 2 folds, got " +
                          std::to_string(n_splits));
  }
  if (n_splits > n) {
    throw InvalidArgument("stratified k-fold: cannot make " + std::to_string(n_splits) +
                          " folds of " + std::to_string(n) + " rows");
  }
  // Class numbers by first appearance.
  std::map<std::int64_t, int> class_of;
  std::vector<int> encoded(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto [it, inserted] = class_of.emplace(labels[i], static_cast<int>(class_of.size()));
    encoded[i] = it->second;
  }
  const int classes = static_cast<int>(class_of.size());
  std::vector<std::int64_t> counts(classes, 0);
  for (int c : encoded) ++counts[c];
  if (*std::max_element(counts.begin(), counts.end()) < n_splits) {
    throw InvalidArgument("stratified k-fold: " + std::to_string(n_splits) +
                          " folds, but no class has that many rows");
  }
  // allocation[f][c]: rows of class c in fold f = how many of positions f, f+k, f+2k, ... of
  // the class-sorted labels hold class c.
  std::vector<int> sorted = encoded;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::vector<std::int64_t>> allocation(n_splits, std::vector<std::int64_t>(classes));
  for (std::int64_t i = 0; i < n; ++i) ++allocation[i % n_splits][sorted[i]];
  // Each class's rows, in order, fill fold 0's share, then fold 1's, ...
  std::vector<int> fold_of(labels.size());
  for (int c = 0; c < classes; ++c) {
    int fold = 0;
    std::int64_t left = allocation[0][c];
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (encoded[i] != c) continue;
      while (left == 0) left = allocation[++fold][c];
      fold_of[i] = fold;
      --left;
    }
  }
  return fold_of;
}

TrainTestSplit fold_rows(std::span<const int> folds, int fold) {
  TrainTestSplit split;
  for (std::size_t i = 0; i < folds.size(); ++i) {
    (folds[i] == fold ? split.test : split.train).push_back(static_cast<std::int64_t>(i));
  }
  return split;
}

}  // namespace bertlite::learn
