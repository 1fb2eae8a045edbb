// tests/learn/split_test.cpp - numpy's legacy permutation, train_test_split and
// StratifiedKFold, row for row against the goldens from numpy and scikit-learn.
#include "learn/split.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "bertlite/error.h"
#include "learn_test_helpers.h"

namespace bertlite::learn {
namespace {

using test::goldens;
using test::throws_with;

std::int64_t checksum(const std::vector<std::int64_t>& values) {
  const auto modulus = goldens()["permutation_checksum_modulus"].get<std::int64_t>();
  // i * p[i] < 2^33 for the sizes used, so the sum never leaves int64.
  std::int64_t sum = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    sum = (sum + static_cast<std::int64_t>(i) * values[i]) % modulus;
  }
  return sum;
}

std::vector<std::int64_t> head(const std::vector<std::int64_t>& v, std::size_t n) {
  return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(std::min(n, v.size()))};
}

TEST(NumpyRandomState, FirstDrawsOfSeed5489) {
  // The MT19937 reference output for init_genrand(5489) (the C++ standard's
  // std::mt19937 check: its 10000th value is 4123659995).
  NumpyRandomState random(5489);
  EXPECT_EQ(random.next_uint32(), 3499211612u);
  for (int i = 1; i < 9999; ++i) random.next_uint32();
  EXPECT_EQ(random.next_uint32(), 4123659995u);
}

TEST(NumpyPermutation, MatchesNumpy) {
  int checked = 0;
  for (const auto& e : goldens()["permutations"]) {
    const auto seed = e["seed"].get<std::uint32_t>();
    const auto n = e["n"].get<std::int64_t>();
    SCOPED_TRACE("seed " + std::to_string(seed) + " n " + std::to_string(n));
    const std::vector<std::int64_t> p = numpy_permutation(seed, n);
    ASSERT_EQ(static_cast<std::int64_t>(p.size()), n);
    if (e.contains("perm")) {
      EXPECT_EQ(p, e["perm"].get<std::vector<std::int64_t>>());
    } else {
      EXPECT_EQ(head(p, 50), e["head"].get<std::vector<std::int64_t>>());
      EXPECT_EQ(std::vector<std::int64_t>(p.end() - 50, p.end()),
                e["tail"].get<std::vector<std::int64_t>>());
      EXPECT_EQ(checksum(p), e["checksum"].get<std::int64_t>());
    }
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

TEST(TrainTestSplit, MatchesScikitLearn) {
  for (const auto& e : goldens()["train_test_splits"]) {
    const auto seed = e["seed"].get<std::uint32_t>();
    const auto n = e["n"].get<std::int64_t>();
    const auto test_size = e["test_size"].get<double>();
    SCOPED_TRACE("seed " + std::to_string(seed) + " n " + std::to_string(n) + " test_size " +
                 std::to_string(test_size));
    const TrainTestSplit s = train_test_split(n, seed, test_size);
    EXPECT_EQ(static_cast<std::int64_t>(s.train.size()), e["n_train"].get<std::int64_t>());
    EXPECT_EQ(s.test, e["test"].get<std::vector<std::int64_t>>());
    if (e.contains("train")) {
      EXPECT_EQ(s.train, e["train"].get<std::vector<std::int64_t>>());
    } else {
      EXPECT_EQ(head(s.train, 50), e["train_head"].get<std::vector<std::int64_t>>());
      EXPECT_EQ(checksum(s.train), e["train_checksum"].get<std::int64_t>());
    }
  }
}

TEST(TrainTestSplit, WalkthroughSizesAndErrors) {
  const TrainTestSplit s = train_test_split(2000, 0);
  EXPECT_EQ(s.train.size(), 1500u);
  EXPECT_EQ(s.test.size(), 500u);
  EXPECT_EQ(train_test_split(7, 0).test.size(), 2u);  // ceil(0.25 * 7)
  std::vector<std::int64_t> all = s.train;
  all.insert(all.end(), s.test.begin(), s.test.end());
  std::sort(all.begin(), all.end());
  std::vector<std::int64_t> want(2000);
  std::iota(want.begin(), want.end(), 0);
  EXPECT_EQ(all, want);
  EXPECT_TRUE(throws_with<InvalidArgument>([] { train_test_split(1, 0); }, "leave 0 training"));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { train_test_split(10, 0, 1.0); }, "(0, 1)"));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { train_test_split(10, 0, 0.0); }, "(0, 1)"));
}

TEST(StratifiedKFold, MatchesScikitLearn) {
  for (const auto& e : goldens()["stratified_kfold"]) {
    SCOPED_TRACE(e["name"].get<std::string>());
    const auto y = e["y"].get<std::vector<std::int64_t>>();
    const std::vector<int> folds = stratified_kfold(y, e["k"].get<int>());
    EXPECT_EQ(folds, e["folds"].get<std::vector<int>>());
  }
}

TEST(StratifiedKFold, FoldRowsAndErrors) {
  const std::vector<int> folds = {0, 1, 0, 2, 1};
  const TrainTestSplit s = fold_rows(folds, 0);
  EXPECT_EQ(s.test, (std::vector<std::int64_t>{0, 2}));
  EXPECT_EQ(s.train, (std::vector<std::int64_t>{1, 3, 4}));
  const std::vector<std::int64_t> y = {0, 1, 0, 1};
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { stratified_kfold(y, 5); },
                                           "cannot make 5 folds of 4 rows"));
  EXPECT_TRUE(
      throws_with<InvalidArgument>([&] { stratified_kfold(y, 3); }, "no class has that many rows"));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { stratified_kfold(y, 1); }, "at least 2"));
}

}  // namespace
}  // namespace bertlite::learn
