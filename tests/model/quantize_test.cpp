// tests/model/quantize_test.cpp - a `bertlite quantize` folder loads in its precision without
// re-quantizing: its features equal those of the original model run in that precision.
#include "model/quantize.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "bertlite/error.h"
#include "model/features.h"
#include "test_support.h"

namespace bertlite::model {
namespace {

namespace fs = std::filesystem;
const std::string kFixtures = std::string(BERTLITE_TEST_DATA) + "/encoder/";
const std::vector<std::string> kSentences = {"Good", "The movie was fun!",
                                             "it is not a good film, and the actors were bad."};

class QuantizeTest : public ::testing::Test {
 protected:
  test::TempDir temp_;
  const fs::path dir_ = temp_.path();
};

TEST_F(QuantizeTest, QuantizedFolderEqualsOnTheFlyPrecision) {
  for (const char* fixture : {"bert_tiny", "distilbert_tiny_prefixed"}) {
    for (kernels::Precision precision : {kernels::Precision::kInt8, kernels::Precision::kBF16}) {
      SCOPED_TRACE(std::string(fixture) + " " + kernels::precision_name(precision));
      const fs::path out = dir_ / (std::string(fixture) + kernels::precision_name(precision));
      const QuantizeReport report = quantize_model(kFixtures + fixture, out, precision);
      EXPECT_GT(report.quantized, 0u);
      EXPECT_LT(report.bytes_after, report.bytes_before);

      const auto stored = FeatureExtractor::load(out);  // its own precision by default
      EXPECT_EQ(stored.encoder().precision(), precision);
      const auto on_the_fly = FeatureExtractor::load(kFixtures + fixture, precision);
      EXPECT_EQ(stored.extract(kSentences, {}).data, on_the_fly.extract(kSentences, {}).data);

      // Asked for fp32, the stored weights are dequantized: close to, not equal to, the original.
      const auto as_float = FeatureExtractor::load(out, kernels::Precision::kF32);
      const auto original = FeatureExtractor::load(kFixtures + fixture);
      const auto a = as_float.extract(kSentences, {}).data,
                 b = original.extract(kSentences, {}).data;
      double max_diff = 0;
      for (std::size_t i = 0; i < a.size(); ++i)
        max_diff = std::max(max_diff, double(std::abs(a[i] - b[i])));
      EXPECT_GT(max_diff, 0.0);
      EXPECT_LT(max_diff, 0.1);
    }
  }
}

TEST_F(QuantizeTest, RefusesExistingFolderAndRequantizing) {
  EXPECT_THROW(quantize_model(kFixtures + "bert_tiny", dir_, kernels::Precision::kInt8), IoError);
  EXPECT_THROW(quantize_model(kFixtures + "bert_tiny", dir_ / "x", kernels::Precision::kF32),
               InvalidArgument);
  quantize_model(kFixtures + "bert_tiny", dir_ / "q", kernels::Precision::kInt8);
  EXPECT_THROW(quantize_model(dir_ / "q", dir_ / "qq", kernels::Precision::kInt8), InvalidArgument);
  EXPECT_FALSE(fs::exists(dir_ / "x"));
  EXPECT_FALSE(fs::exists(dir_ / "qq"));
}

}  // namespace
}  // namespace bertlite::model
