// tests/train/finetune_test.cpp - the training loop's parts that need no model: batching, the
// learning-rate schedule, AdamW against hand-computed steps, gradient clipping.
#include "train/finetune.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "bertlite/error.h"
#include "train/optimizer.h"

namespace bertlite::train {
namespace {

std::vector<std::int64_t> varied_lengths(std::size_t n) {
  std::vector<std::int64_t> lengths(n);
  for (std::size_t i = 0; i < n; ++i) lengths[i] = 3 + static_cast<std::int64_t>((i * 37) % 60);
  return lengths;
}

TEST(MakeBatches, EveryRowOnceWithinTheBudgets) {
  const std::vector<std::int64_t> lengths = varied_lengths(1000);
  const BatchingOptions options{.batch_tokens = 256, .batch_size = 12, .bucket_batches = 20};
  const auto batches = make_batches(lengths, options, 42, 0);
  std::vector<int> seen(lengths.size(), 0);
  for (const auto& batch : batches) {
    ASSERT_FALSE(batch.empty());
    EXPECT_LE(static_cast<std::int64_t>(batch.size()), options.batch_size);
    std::int64_t tokens = 0;
    for (std::int64_t row : batch) {
      ++seen[static_cast<std::size_t>(row)];
      tokens += lengths[static_cast<std::size_t>(row)];
    }
    EXPECT_LE(tokens, options.batch_tokens);
  }
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
}

TEST(MakeBatches, ARowLongerThanTheBudgetIsABatchOfItsOwn) {
  const auto batches = make_batches({5, 500, 5}, {.batch_tokens = 100}, 1, 0);
  bool alone = false;
  for (const auto& batch : batches) alone |= batch == std::vector<std::int64_t>{1};
  EXPECT_TRUE(alone);
}

TEST(MakeBatches, AFunctionOfSeedAndEpoch) {
  const std::vector<std::int64_t> lengths = varied_lengths(500);
  const BatchingOptions options{.batch_tokens = 300};
  EXPECT_EQ(make_batches(lengths, options, 42, 1), make_batches(lengths, options, 42, 1));
  EXPECT_NE(make_batches(lengths, options, 42, 1), make_batches(lengths, options, 42, 2));
  EXPECT_NE(make_batches(lengths, options, 42, 1), make_batches(lengths, options, 43, 1));
}

TEST(MakeBatches, BucketingCutsPaddingAgainstRandomBatches) {
  const std::vector<std::int64_t> lengths = varied_lengths(4000);
  const auto bucketed = make_batches(lengths, {.batch_size = 32, .bucket_batches = 50}, 7, 0);
  const auto random = make_batches(lengths, {.batch_size = 32, .bucket_batches = 1}, 7, 0);
  const std::int64_t real = std::accumulate(lengths.begin(), lengths.end(), std::int64_t{0});
  EXPECT_GE(padded_tokens(random, lengths), padded_tokens(bucketed, lengths));
  // Random batches of 32 rows of lengths 3..62 pad to nearly the longest: about 1.7x the real
  // tokens; sorted pools of 1,600 rows pad almost nothing.
  EXPECT_GT(padded_tokens(random, lengths), real * 3 / 2);
  EXPECT_LT(padded_tokens(bucketed, lengths), real * 21 / 20);
}

TEST(MakeBatches, NeedsABudget) {
  EXPECT_THROW(make_batches({1, 2}, {.batch_tokens = 0, .batch_size = 0}, 0, 0), InvalidArgument);
}

TEST(LinearSchedule, WarmupThenLinearDecayAsTransformers) {
  // get_linear_schedule_with_warmup(num_warmup_steps=4, num_training_steps=20).
  EXPECT_DOUBLE_EQ(linear_schedule_factor(0, 4, 20), 0.0);
  EXPECT_DOUBLE_EQ(linear_schedule_factor(2, 4, 20), 0.5);
  EXPECT_DOUBLE_EQ(linear_schedule_factor(4, 4, 20), 1.0);
  EXPECT_DOUBLE_EQ(linear_schedule_factor(12, 4, 20), 0.5);
  EXPECT_DOUBLE_EQ(linear_schedule_factor(20, 4, 20), 0.0);
  EXPECT_DOUBLE_EQ(linear_schedule_factor(0, 0, 10), 1.0);
}

Parameter make_parameter(std::vector<float> value, std::vector<float> grad, bool decay) {
  Parameter p;
  p.shape = {static_cast<std::int64_t>(value.size())};
  p.value = std::move(value);
  p.grad = std::move(grad);
  p.decay = decay;
  p.parts.push_back({"p", 0, p.shape});
  return p;
}

TEST(AdamW, TwoStepsByHand) {
  std::vector<Parameter> params;
  params.push_back(make_parameter({1.0f, -2.0f}, {0.5f, -1.0f}, true));
  params.push_back(make_parameter({3.0f}, {2.0f}, false));
  AdamW adam(params, {.weight_decay = 0.1f});
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
  // The same steps in double, as torch.optim.AdamW writes them.
  std::vector<double> p = {1.0, -2.0, 3.0}, m(3, 0), v(3, 0);
  const std::vector<double> g = {0.5, -1.0, 2.0};
  const std::vector<bool> decay = {true, true, false};
  for (int t = 1; t <= 2; ++t) {
    adam.step(static_cast<float>(lr));
    for (int i = 0; i < 3; ++i) {
      if (decay[i]) p[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const double m_hat = m[i] / (1 - std::pow(b1, t));
      const double v_hat = v[i] / (1 - std::pow(b2, t));
      p[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
  EXPECT_NEAR(params[0].value[0], p[0], 1e-6);
  EXPECT_NEAR(params[0].value[1], p[1], 1e-6);
  EXPECT_NEAR(params[1].value[0], p[2], 1e-6);
  EXPECT_EQ(adam.steps(), 2);
}

TEST(ClipGradNorm, ScalesToTheMaximumAndReturnsTheNorm) {
  std::vector<Parameter> params;
  params.push_back(make_parameter({0, 0}, {3.0f, 0.0f}, true));
  params.push_back(make_parameter({0}, {4.0f}, true));
  EXPECT_NEAR(clip_grad_norm(params, 1.0), 5.0, 1e-9);
  EXPECT_NEAR(params[0].grad[0], 3.0 / (5.0 + 1e-6), 1e-7);
  EXPECT_NEAR(params[1].grad[0], 4.0 / (5.0 + 1e-6), 1e-7);
  // Under the maximum: unchanged.
  EXPECT_NEAR(clip_grad_norm(params, 10.0), 1.0, 1e-6);
  EXPECT_NEAR(params[1].grad[0], 4.0 / (5.0 + 1e-6), 1e-7);
}

TEST(SoftmaxRows, RowsSumToOne) {
  const std::vector<double> p = softmax_rows({0.0f, 0.0f, 1000.0f, 0.0f}, 2);
  EXPECT_DOUBLE_EQ(p[0], 0.5);
  EXPECT_DOUBLE_EQ(p[1], 0.5);
  EXPECT_DOUBLE_EQ(p[2], 1.0);
  EXPECT_NEAR(p[3], 0.0, 1e-300);
}

}  // namespace
}  // namespace bertlite::train
