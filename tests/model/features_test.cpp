// tests/model/features_test.cpp - FeatureExtractor: sentences -> pooled features, in input order,
// whatever the batching; defaults from the model folder; truncation counted or refused.
#include "model/features.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "bertlite/error.h"
#include "test_support.h"

namespace bertlite::model {
namespace {

const std::string kFixtures = std::string(BERTLITE_TEST_DATA) + "/encoder/";

std::vector<std::string> sentences() {
  return {"Good",
          "The movie was fun!",
          "a visually stunning rumination on love",
          "it is not a good film, and the actors were bad.",
          "Fun.",
          "the the the the the the the the the the the the the the the the the the the"};
}

// Features of each sentence computed alone: the oracle for any batching.
std::vector<float> one_by_one(const FeatureExtractor& extractor,
                              const std::vector<std::string>& texts, io::Pooling pooling,
                              bool normalize) {
  std::vector<float> out;
  for (const std::string& text : texts) {
    const Encoding e = extractor.tokenizer().encode(text);
    PackedBatch batch;
    batch.add(e.ids, e.type_ids);
    std::vector<float> hidden;
    extractor.encoder().forward(batch, hidden);
    const std::vector<float> pooled = extractor.encoder().pool(batch, hidden, pooling, normalize);
    out.insert(out.end(), pooled.begin(), pooled.end());
  }
  return out;
}

TEST(FeatureExtractor, InputOrderAndBatchIndependence) {
  for (const char* name : {"bert_tiny", "distilbert_tiny"}) {
    SCOPED_TRACE(name);
    const auto extractor = FeatureExtractor::load(kFixtures + name);
    const std::vector<std::string> texts = sentences();
    const std::vector<float> want = one_by_one(extractor, texts, io::Pooling::kMean, true);
    // A budget of 8 tokens puts most sentences alone; 4096 puts all in one batch.
    for (std::int64_t budget : {8, 20, 4096}) {
      FeatureOptions options;
      options.pooling = io::Pooling::kMean;
      options.normalize = true;
      options.batch_tokens = budget;
      std::int64_t progress = 0;
      const Features got =
          extractor.extract(texts, options, [&](std::int64_t n) { progress += n; });
      EXPECT_EQ(progress, static_cast<std::int64_t>(texts.size()));
      ASSERT_EQ(got.rows, static_cast<std::int64_t>(texts.size()));
      ASSERT_EQ(got.cols, extractor.encoder().config().hidden);
      ASSERT_EQ(got.data.size(), want.size());
      double max_abs = 0, max_value = 0;
      for (std::size_t i = 0; i < want.size(); ++i) {
        max_abs = std::max(max_abs, std::abs(double(got.data[i]) - want[i]));
        max_value = std::max(max_value, std::abs(double(want[i])));
      }
      EXPECT_LE(max_abs, 1e-6 * std::max(1.0, max_value)) << "batch tokens " << budget;
    }
  }
}

TEST(FeatureExtractor, DefaultsComeFromTheFolder) {
  const auto extractor = FeatureExtractor::load(kFixtures + "bert_tiny");
  const Features f = extractor.extract(sentences(), {});
  EXPECT_EQ(f.pooling, io::Pooling::kCls);  // a plain Hugging Face folder: the walkthrough's
  EXPECT_FALSE(f.normalize);
  EXPECT_EQ(f.max_length, static_cast<std::size_t>(extractor.encoder().config().max_positions));
  const std::vector<float> want = one_by_one(extractor, sentences(), io::Pooling::kCls, false);
  ASSERT_EQ(f.data.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(f.data[i], want[i], 1e-5);
  EXPECT_EQ(f.truncated, 0);
}

TEST(FeatureExtractor, TruncatesAndCountsOrRefuses) {
  const auto extractor = FeatureExtractor::load(kFixtures + "bert_tiny");
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "fun ";
  const std::vector<std::string> texts = {"Good", long_text};
  FeatureOptions options;
  options.max_length = 10;
  const Features f = extractor.extract(texts, options);
  EXPECT_EQ(f.truncated, 1);
  EXPECT_EQ(f.tokens, 3 + 10);

  options.long_text = model::LongText::kError;
  options.row_name = [](std::size_t i) { return "input.tsv:" + std::to_string(i + 7); };
  try {
    extractor.extract(texts, options);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()),
              "input.tsv:8: 102 tokens, more than the limit of 10 (--long-text error; truncate or "
              "window read it)");
  }
}

TEST(LongText, WindowsCoverTheTextWithTheStrideAsOverlap) {
  const Tokenizer tokenizer = Tokenizer::from_folder(kFixtures + "bert_tiny");
  std::string text;
  for (int i = 0; i < 40; ++i) text += "fun good bad ";
  const Encoding full = tokenizer.encode(text);
  ASSERT_EQ(full.size(), 122u);  // [CLS] + 120 + [SEP]
  for (std::size_t stride : {0u, 3u, 7u}) {
    SCOPED_TRACE(stride);
    const std::vector<Window> windows = plan_windows(full, 12, stride);
    ASSERT_GE(windows.size(), 2u);
    EXPECT_EQ(windows.front().begin, 1u);
    EXPECT_EQ(windows.back().end, 121u);
    for (std::size_t w = 0; w < windows.size(); ++w) {
      EXPECT_LE(windows[w].content_tokens(), 10u);
      if (w + 1 < windows.size()) {
        EXPECT_EQ(windows[w].content_tokens(), 10u);
        EXPECT_EQ(windows[w].end - windows[w + 1].begin, stride);  // the overlap
      }
      const Encoding e = window_encoding(full, windows[w]);
      EXPECT_LE(e.size(), 12u);
      EXPECT_EQ(e.ids.front(), full.ids.front());  // [CLS]
      EXPECT_EQ(e.ids.back(), full.ids.back());    // [SEP]
      EXPECT_EQ(e.offsets[1].begin, windows[w].byte_begin);
      EXPECT_EQ(text.substr(windows[w].byte_begin, 3), e.offsets[1].begin % 13 == 0   ? "fun"
                                                       : e.offsets[1].begin % 13 == 4 ? "goo"
                                                                                      : "bad");
    }
  }
  // Windows of 10 tokens stepping by 10 - 3: ceil((120 - 10) / 7) + 1 = 17.
  EXPECT_EQ(plan_windows(full, 12, 3).size(), 17u);
  EXPECT_EQ(plan_windows(full, 122, 3).size(), 1u);           // it fits: the whole text
  EXPECT_THROW(plan_windows(full, 12, 10), InvalidArgument);  // no progress
  EXPECT_THROW(plan_windows(full, 2, 0), InvalidArgument);    // no room for text
  EXPECT_EQ(default_stride(512, 2), 127u);
}

TEST(LongText, WindowFeaturesAreTheWindowsOwnPooled) {
  for (const char* name : {"bert_tiny", "distilbert_tiny"}) {
    SCOPED_TRACE(name);
    const auto extractor = FeatureExtractor::load(kFixtures + name);
    std::string long_text;
    for (int i = 0; i < 30; ++i) long_text += "the movie was fun but the actors were bad . ";
    const std::vector<std::string> texts = {"Good", long_text, "Fun."};
    const std::int64_t H = extractor.encoder().config().hidden;
    const std::size_t max_length = 16, stride = 4;

    // The oracle: every window as a text of its own, pooled and normalized, then combined.
    const Encoding full = extractor.tokenizer().encode(long_text);
    const std::vector<Window> windows = plan_windows(full, max_length, stride);
    std::vector<float> each;
    for (const Window& w : windows) {
      const Encoding e = window_encoding(full, w);
      PackedBatch batch;
      batch.add(e.ids, e.type_ids);
      std::vector<float> hidden;
      extractor.encoder().forward(batch, hidden);
      const std::vector<float> pooled =
          extractor.encoder().pool(batch, hidden, io::Pooling::kMean, true);
      each.insert(each.end(), pooled.begin(), pooled.end());
    }
    const std::vector<float> short_ones =
        one_by_one(extractor, {"Good", "Fun."}, io::Pooling::kMean, true);

    for (WindowPooling pooling :
         {WindowPooling::kMean, WindowPooling::kMax, WindowPooling::kWeighted}) {
      SCOPED_TRACE(window_pooling_name(pooling));
      std::vector<double> want(static_cast<std::size_t>(H), 0.0);
      double total = 0;
      for (std::size_t w = 0; w < windows.size(); ++w) {
        const double weight = pooling == WindowPooling::kWeighted
                                  ? static_cast<double>(windows[w].content_tokens())
                                  : 1.0;
        for (std::int64_t d = 0; d < H; ++d) {
          const float v = each[w * H + d];
          if (pooling == WindowPooling::kMax) {
            want[d] = w == 0 ? v : std::max<double>(want[d], v);
          } else {
            want[d] += weight * v;
          }
        }
        total += weight;
      }
      double norm = 0;
      for (std::int64_t d = 0; d < H; ++d) {
        if (pooling != WindowPooling::kMax) want[d] /= total;
        norm += want[d] * want[d];
      }
      for (double& v : want) v /= std::sqrt(norm);

      for (std::int64_t budget : {8, 4096}) {  // batches of one window, and all in one
        FeatureOptions options;
        options.pooling = io::Pooling::kMean;
        options.normalize = true;
        options.max_length = max_length;
        options.long_text = LongText::kWindow;
        options.stride = stride;
        options.window_pooling = pooling;
        options.keep_windows = true;
        options.batch_tokens = budget;
        std::int64_t progress = 0;
        const Features f =
            extractor.extract(texts, options, [&](std::int64_t n) { progress += n; });
        EXPECT_EQ(progress, 3);
        EXPECT_EQ(f.windowed, 1);
        EXPECT_EQ(f.truncated, 0);
        EXPECT_EQ(f.stride, stride);
        for (std::int64_t d = 0; d < H; ++d) {
          EXPECT_NEAR(f.data[H + d], want[d], 1e-5) << d;
          // Texts that fit are what they always were (to the batch's float rounding).
          EXPECT_NEAR(f.data[d], short_ones[d], test::kBatchRounding);
          EXPECT_NEAR(f.data[2 * H + d], short_ones[H + d], test::kBatchRounding);
        }
        ASSERT_EQ(f.window_begin,
                  (std::vector<std::size_t>{0, 1, 1 + windows.size(), 2 + windows.size()}));
        ASSERT_EQ(f.window_data.size(), (windows.size() + 2) * H);
        for (std::size_t w = 0; w < windows.size(); ++w) {
          EXPECT_EQ(f.windows[1 + w].byte_begin, windows[w].byte_begin);
          for (std::int64_t d = 0; d < H; ++d)
            EXPECT_NEAR(f.window_data[(1 + w) * H + d], each[w * H + d], 1e-6);
        }
      }
    }
  }
}

TEST(FeatureExtractor, RejectsWhatTheModelCannotDo) {
  const auto extractor = FeatureExtractor::load(kFixtures + "distilbert_tiny");
  FeatureOptions options;
  options.pooling = io::Pooling::kPooler;  // DistilBERT has no pooler
  EXPECT_THROW(extractor.extract(sentences(), options), InvalidArgument);
  options.pooling.reset();
  options.max_length = 100000;  // beyond the position table
  EXPECT_THROW(extractor.extract(sentences(), options), InvalidArgument);
  options.max_length = 1;  // no room for [CLS] and [SEP]
  EXPECT_THROW(extractor.extract(sentences(), options), InvalidArgument);
}

TEST(FeatureExtractor, SeveralPoolingsFromOnePass) {
  const auto extractor = FeatureExtractor::load(kFixtures + "bert_tiny");
  const io::Pooling poolings[] = {io::Pooling::kCls, io::Pooling::kMean, io::Pooling::kPooler};
  const std::vector<Features> all = extractor.extract(sentences(), poolings, {});
  ASSERT_EQ(all.size(), 3u);
  for (std::size_t k = 0; k < 3; ++k) {
    SCOPED_TRACE(k);
    FeatureOptions one;
    one.pooling = poolings[k];
    const Features want = extractor.extract(sentences(), one);
    EXPECT_EQ(all[k].pooling, poolings[k]);
    EXPECT_EQ(all[k].tokens, want.tokens);
    EXPECT_EQ(all[k].data, want.data);
  }
}

TEST(FeatureExtractor, ClsRowsOnlyEqualsTheFullLastLayer) {
  for (const char* name : {"bert_tiny", "distilbert_tiny"}) {
    SCOPED_TRACE(name);
    const auto extractor = FeatureExtractor::load(kFixtures + name);
    std::vector<io::Pooling> poolings = {io::Pooling::kCls};
    if (extractor.encoder().has_pooler()) poolings.push_back(io::Pooling::kPooler);
    FeatureOptions full, shortcut;
    full.cls_rows_only = false;
    ForwardProfile profile_full, profile_shortcut;
    full.profile = &profile_full;
    shortcut.profile = &profile_shortcut;
    const auto want = extractor.extract(sentences(), poolings, full);
    const auto got = extractor.extract(sentences(), poolings, shortcut);
    for (std::size_t k = 0; k < poolings.size(); ++k) {
      ASSERT_EQ(got[k].data.size(), want[k].data.size());
      for (std::size_t i = 0; i < want[k].data.size(); ++i) {
        EXPECT_NEAR(got[k].data[i], want[k].data[i], 1e-6) << "pooling " << k << " i " << i;
      }
    }
    // The shortcut did less work in the last layer's FFN, and the profile saw it.
    EXPECT_LT(profile_shortcut.flops[ForwardProfile::kFfnIn],
              profile_full.flops[ForwardProfile::kFfnIn]);
    EXPECT_EQ(profile_shortcut.flops[ForwardProfile::kQkv],
              profile_full.flops[ForwardProfile::kQkv]);
    EXPECT_GT(profile_full.total_seconds(), 0.0);
    EXPECT_EQ(profile_full.layer_seconds.size(),
              static_cast<std::size_t>(extractor.encoder().config().layers));
  }
}

TEST(FeatureExtractor, EmptyInputGivesNoRows) {
  const auto extractor = FeatureExtractor::load(kFixtures + "bert_tiny");
  const Features f = extractor.extract(std::vector<std::string>{}, {});
  EXPECT_EQ(f.rows, 0);
  EXPECT_TRUE(f.data.empty());
}

}  // namespace
}  // namespace bertlite::model
