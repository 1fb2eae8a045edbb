// tests/model/precision_guard_test.cpp - bf16 and int8 are never silently worse. On the real
// default model (all-MiniLM-L6-v2) and all 872 SST-2 dev sentences, for both [CLS] and mean
// pooling:
//   - every sentence's features stay within cosine 0.999 (bf16) and 0.99 (int8) of fp32;
//   - the walkthrough's classifier (logistic regression, C = 1, on the 1,500 training rows of
//     the first 2,000 SST-2 train sentences split 75/25 with seed 42, as `bertlite guide`) on
//     the model's own pooling (mean), trained on each precision's features, scores within 0.3
//     points (bf16) and 0.5 points (int8) of the fp32 classifier's accuracy on dev, either way
//     (one dev sentence is 0.11 points).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "io/dataset.h"
#include "learn/logistic_regression.h"
#include "learn/split.h"
#include "model/features.h"

namespace bertlite::model {
namespace {

const std::string kModel = std::string(BERTLITE_SOURCE_DIR) + "/models/all-MiniLM-L6-v2";
const std::string kTrain = std::string(BERTLITE_SOURCE_DIR) + "/data/sst2/train.tsv";
const std::string kDev = std::string(BERTLITE_SOURCE_DIR) + "/data/sst2/dev.tsv";
constexpr std::int64_t kWalkthroughRows = 2000;
constexpr io::Pooling kPoolings[] = {io::Pooling::kCls, io::Pooling::kMean};

struct Guard {
  kernels::Precision precision;
  double min_cosine;
  double max_accuracy_change;  // accuracy points (percent), either way
};
constexpr Guard kGuards[] = {{kernels::Precision::kBF16, 0.999, 0.3},
                             {kernels::Precision::kInt8, 0.99, 0.5}};

struct LabeledSentences {
  std::vector<std::string> texts;
  std::vector<std::int64_t> labels;
};

LabeledSentences read_sst2(const std::string& path, std::int64_t max_rows) {
  const io::Table table = io::read_table(path);
  LabeledSentences out;
  out.texts = io::column(table, "0");
  for (const std::string& label : io::column(table, "1")) out.labels.push_back(std::stoll(label));
  if (std::ssize(out.texts) > max_rows) {
    out.texts.resize(max_rows);
    out.labels.resize(max_rows);
  }
  return out;
}

// One precision's features of the walkthrough's training rows and of dev, per pooling.
struct PrecisionFeatures {
  std::string gemms;
  std::vector<Features> train, dev;  // [k] for kPoolings[k]
};

// Encoding is the slow part, so each precision runs once for both tests.
class PrecisionGuard : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    train_ = new LabeledSentences(read_sst2(kTrain, kWalkthroughRows));
    dev_ = new LabeledSentences(read_sst2(kDev, 1 << 30));
    const std::optional<kernels::Precision> precisions[] = {
        kernels::Precision::kF32, kGuards[0].precision, kGuards[1].precision};
    for (const auto& precision : precisions) {
      const auto extractor = FeatureExtractor::load(kModel, precision);
      features_.push_back({extractor.encoder().gemm_implementation(),
                           extractor.extract(train_->texts, kPoolings, {}),
                           extractor.extract(dev_->texts, kPoolings, {})});
    }
  }
  static void TearDownTestSuite() {
    delete train_;
    delete dev_;
    features_.clear();
  }

  // [0] fp32, then kGuards' precisions in order.
  static inline std::vector<PrecisionFeatures> features_;
  static inline LabeledSentences* train_ = nullptr;
  static inline LabeledSentences* dev_ = nullptr;
};

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

TEST_F(PrecisionGuard, FeaturesStayCloseToFp32OnSst2Dev) {
  ASSERT_EQ(dev_->texts.size(), 872u);
  const auto& fp32 = features_[0].dev;
  for (std::size_t g = 0; g < std::size(kGuards); ++g) {
    const Guard& guard = kGuards[g];
    const auto& reduced = features_[g + 1].dev;
    for (std::size_t k = 0; k < std::size(kPoolings); ++k) {
      const Cosines c = cosines(fp32[k], reduced[k]);
      std::printf("%s %s pooling: cosine to fp32 min %.5f mean %.5f (GEMMs: %s)\n",
                  kernels::precision_name(guard.precision), io::pooling_name(kPoolings[k]), c.min,
                  c.mean, features_[g + 1].gemms.c_str());
      EXPECT_GE(c.min, guard.min_cosine)
          << kernels::precision_name(guard.precision) << " " << io::pooling_name(kPoolings[k]);
      // And the reduced path really ran: its features are not bit-equal to fp32.
      EXPECT_LT(c.min, 1.0 - 1e-9);
    }
  }
}

learn::MatrixView view(const Features& f) {
  return {f.data, f.rows, f.cols};
}

// Dev accuracy (percent) of the walkthrough's classifier trained on these features.
double walkthrough_dev_accuracy(const Features& train, const std::vector<std::int64_t>& labels,
                                const Features& dev, const std::vector<std::int64_t>& dev_labels) {
  const learn::TrainTestSplit split = learn::train_test_split(train.rows, 42, 0.25);
  const learn::Matrix train_x = learn::take_rows(view(train), split.train);
  learn::LogisticRegression classifier({.C = 1.0});
  classifier.fit(train_x.view(), learn::take(labels, split.train));
  return 100.0 * classifier.score(view(dev), dev_labels);
}

TEST_F(PrecisionGuard, WalkthroughClassifierKeepsItsAccuracyOnSst2Dev) {
  ASSERT_EQ(train_->texts.size(), static_cast<std::size_t>(kWalkthroughRows));
  for (std::size_t k = 0; k < std::size(kPoolings); ++k) {
    // Guarded: the model's own pooling, which `bertlite guide` uses (MiniLM: mean). Its [CLS]
    // row was never trained as a sentence feature: that classifier is weak (about 69%, against
    // 79% for mean and 50.9% for the majority class) and dev sentences near its decision
    // boundary flip with last-bit changes (int8 went from -0.34 to -0.80 points when the
    // softmax's summation order changed). It is printed for the record, not held to the guard.
    const bool guarded = kPoolings[k] == io::Pooling::kMean;
    const double fp32 = walkthrough_dev_accuracy(features_[0].train[k], train_->labels,
                                                 features_[0].dev[k], dev_->labels);
    std::printf("fp32 %s pooling: dev accuracy %.2f%%%s\n", io::pooling_name(kPoolings[k]), fp32,
                guarded ? "" : " (not guarded)");
    EXPECT_GT(fp32,
              guarded ? 75.0 : 60.0);  // a working classifier, so the comparison means something
    for (std::size_t g = 0; g < std::size(kGuards); ++g) {
      const Guard& guard = kGuards[g];
      const double reduced = walkthrough_dev_accuracy(features_[g + 1].train[k], train_->labels,
                                                      features_[g + 1].dev[k], dev_->labels);
      std::printf("%s %s pooling: dev accuracy %.2f%% (%+.2f points)\n",
                  kernels::precision_name(guard.precision), io::pooling_name(kPoolings[k]), reduced,
                  reduced - fp32);
      if (guarded) {
        EXPECT_LE(std::abs(reduced - fp32), guard.max_accuracy_change)
            << kernels::precision_name(guard.precision) << " " << io::pooling_name(kPoolings[k]);
      }
    }
  }
}

}  // namespace
}  // namespace bertlite::model
