// tests/model/precision_guard_test.cpp - bf16 and int8 are never silently worse: on the real
// default model (all-MiniLM-L6-v2) and all 872 SST-2 dev sentences, every sentence's features
// stay within cosine 0.999 (bf16) and 0.99 (int8) of the fp32 features, for both [CLS] and
// mean pooling. (The classifier-accuracy guard is in tests/python/test_precision_accuracy.py.)
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "io/dataset.h"
#include "model/features.h"

namespace bertlite::model {
namespace {

const std::string kModel = std::string(BERTLITE_SOURCE_DIR) + "/models/all-MiniLM-L6-v2";
const std::string kDev = std::string(BERTLITE_SOURCE_DIR) + "/data/sst2/dev.tsv";

struct Cosines {
  double min = 1, mean = 0;
};

Cosines cosines(const Features& a, const Features& b) {
  Cosines c;
  for (std::int64_t r = 0; r < a.rows; ++r) {
    double dot = 0, aa = 0, bb = 0;
    for (std::int64_t j = 0; j < a.cols; ++j) {
      const double x = a.data[r * a.cols + j], y = b.data[r * b.cols + j];
      dot += x * y;
      aa += x * x;
      bb += y * y;
    }
    const double cosine = dot / std::sqrt(aa * bb);
    c.min = std::min(c.min, cosine);
    c.mean += cosine / static_cast<double>(a.rows);
  }
  return c;
}

TEST(PrecisionGuard, FeaturesStayCloseToFp32OnSst2Dev) {
  const std::vector<std::string> sentences = io::column(io::read_table(kDev), "0");
  ASSERT_EQ(sentences.size(), 872u);
  const io::Pooling poolings[] = {io::Pooling::kCls, io::Pooling::kMean};
  const auto fp32 = FeatureExtractor::load(kModel).extract(sentences, poolings, {});
  const struct {
    kernels::Precision precision;
    double min_cosine;
  } guards[] = {{kernels::Precision::kBF16, 0.999}, {kernels::Precision::kInt8, 0.99}};
  for (const auto& guard : guards) {
    const auto extractor = FeatureExtractor::load(kModel, guard.precision);
    const auto reduced = extractor.extract(sentences, poolings, {});
    for (std::size_t k = 0; k < 2; ++k) {
      const Cosines c = cosines(fp32[k], reduced[k]);
      std::printf("%s %s pooling: cosine to fp32 min %.5f mean %.5f (GEMMs: %s)\n",
                  kernels::precision_name(guard.precision), io::pooling_name(poolings[k]), c.min,
                  c.mean, extractor.encoder().gemm_implementation().c_str());
      EXPECT_GE(c.min, guard.min_cosine)
          << kernels::precision_name(guard.precision) << " " << io::pooling_name(poolings[k]);
      // And the reduced path really ran: its features are not bit-equal to fp32.
      EXPECT_LT(c.min, 1.0 - 1e-9);
    }
  }
}

}  // namespace
}  // namespace bertlite::model
