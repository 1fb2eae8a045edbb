// tests/server/service_test.cpp - the service on the real default model (set-up links it):
// vectors equal FeatureExtractor::extract's, a sentence's vector is the same (to float rounding:
// test_support.h's kBatchRounding) whatever it is batched with (alone, with others, from concurrent
// requests, under a small token budget), and every limit is the RequestError its HTTP status comes
// from; with --long-text window, a long text's vector is FeatureExtractor's window-pooled one.
#include "server/service.h"

#include <gtest/gtest.h>

#include <thread>

#include "io/model_path.h"
#include "model/features.h"
#include "server/errors.h"
#include "test_support.h"

namespace bertlite::server {
namespace {

const std::string kModel = std::string(BERTLITE_SOURCE_DIR) + "/models/all-MiniLM-L6-v2";

const std::vector<std::string> kSentences = {
    "a visually stunning rumination on love , memory , history and the war between art and "
    "commerce .",
    "it 's slow -- very , very slow .",
    "the acting , costumes , music , cinematography and sound are all astounding given the "
    "production 's austere locales .",
    "unflinchingly bleak and desperate",
    "a",
    "",
    "Café naïve — 東京タワー",
    "the year 's best and most unpredictable comedy ."};

std::vector<float> row(const EmbedResult& r, std::int64_t i) {
  return {r.data.begin() + i * r.cols, r.data.begin() + (i + 1) * r.cols};
}

ErrorKind kind_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const RequestError& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no RequestError";
  return ErrorKind::kBackend;
}

class ServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServiceOptions options;
    options.model = kModel;
    options.max_batch_tokens = 64;  // small: the sentences span several batches
    options.max_client_batch_size = 16;
    service_ = Service::load(options).release();
  }
  static void TearDownTestSuite() {
    delete service_;
    service_ = nullptr;
  }
  static Service* service_;
};
Service* ServiceTest::service_ = nullptr;

TEST_F(ServiceTest, VectorsEqualFeatureExtractor) {
  const auto extractor = model::FeatureExtractor::load(kModel);
  model::FeatureOptions options;
  options.normalize = true;
  const model::Features expected = extractor.extract(kSentences, options);
  const EmbedResult got = service_->embed(kSentences, {.normalize = true, .truncate = {}});
  ASSERT_EQ(got.rows, expected.rows);
  ASSERT_EQ(got.cols, expected.cols);
  EXPECT_TRUE(test::same_vector(got.data, expected.data));
  EXPECT_EQ(got.tokens, expected.tokens);
}

TEST_F(ServiceTest, ResultDoesNotDependOnBatchMates) {
  const EmbedResult together = service_->embed(kSentences, {.normalize = false, .truncate = {}});
  // One at a time, from concurrent threads (so they pack into shared batches in any order).
  std::vector<EmbedResult> alone(kSentences.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < kSentences.size(); ++i) {
    threads.emplace_back([&, i] {
      alone[i] = service_->embed({kSentences[i]}, {.normalize = false, .truncate = {}});
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < kSentences.size(); ++i) {
    EXPECT_TRUE(test::same_vector(row(alone[i], 0), row(together, static_cast<std::int64_t>(i))))
        << kSentences[i];
  }
  // Reversed order: other neighbours in every batch.
  const std::vector<std::string> reversed(kSentences.rbegin(), kSentences.rend());
  const EmbedResult backwards = service_->embed(reversed, {.normalize = false, .truncate = {}});
  for (std::size_t i = 0; i < kSentences.size(); ++i) {
    EXPECT_TRUE(
        test::same_vector(row(backwards, static_cast<std::int64_t>(kSentences.size() - 1 - i)),
                          row(together, static_cast<std::int64_t>(i))));
  }
}

TEST_F(ServiceTest, ClsPoolingIsBatchIndependentToo) {
  ServiceOptions options;
  options.model = kModel;
  options.pooling = io::Pooling::kCls;
  options.max_batch_tokens = 48;
  const auto cls = Service::load(options);
  const EmbedResult together = cls->embed(kSentences, {.normalize = false, .truncate = {}});
  for (std::size_t i = 0; i < kSentences.size(); ++i) {
    const EmbedResult alone = cls->embed({kSentences[i]}, {.normalize = false, .truncate = {}});
    EXPECT_TRUE(test::same_vector(row(alone, 0), row(together, static_cast<std::int64_t>(i))))
        << kSentences[i];
  }
}

TEST_F(ServiceTest, LimitsAreRequestErrors) {
  EXPECT_EQ(kind_of([] { service_->embed({}, {}); }), ErrorKind::kEmpty);
  EXPECT_EQ(kind_of([] { service_->embed(std::vector<std::string>(17, "a"), {}); }),
            ErrorKind::kTooLarge);
  EXPECT_EQ(kind_of([] { service_->embed({"ok", "caf\xc3"}, {}); }), ErrorKind::kTokenizer);
  std::string long_text;
  for (int i = 0; i < 600; ++i) long_text += "word ";
  EXPECT_EQ(kind_of([&] { service_->embed({long_text}, {.normalize = true, .truncate = false}); }),
            ErrorKind::kValidation);
  EXPECT_EQ(service_->embed({long_text}, {.normalize = true, .truncate = true}).tokens, 512);
  EXPECT_EQ(kind_of([] { service_->predict({{"a", std::nullopt}}, {}); }), ErrorKind::kNotFound);
  EXPECT_EQ(kind_of([] { service_->tokenize({}, true); }), ErrorKind::kEmpty);
}

TEST_F(ServiceTest, TokenizeKeepsByteOffsets) {
  const std::string text = "Café naïve";
  const auto encodings = service_->tokenize({text}, true);
  ASSERT_EQ(encodings.size(), 1u);
  const Encoding& e = encodings[0];
  EXPECT_EQ(service_->token(e.ids.front()), "[CLS]");
  EXPECT_EQ(text.substr(e.offsets[1].begin, e.offsets[1].end - e.offsets[1].begin), "Café");
}

// Short windows (max length 32, stride 8) so that a few sentences make several of them.
TEST(ServiceLongText, WindowsEqualFeatureExtractor) {
  std::string long_text;
  for (const std::string& s : kSentences) long_text += s + " ";
  const std::vector<std::string> texts = {kSentences[0], long_text, kSentences[3]};
  const auto extractor = model::FeatureExtractor::load(kModel);
  for (const model::WindowPooling pooling :
       {model::WindowPooling::kMean, model::WindowPooling::kMax, model::WindowPooling::kWeighted}) {
    ServiceOptions options;
    options.model = kModel;
    options.max_input_length = 32;
    options.max_batch_tokens = 40;  // windows of one text land in different batches
    options.long_text = model::LongText::kWindow;
    options.stride = 8;
    options.window_pooling = pooling;
    const auto service = Service::load(options);
    EXPECT_EQ(service->info().long_text, "window");
    EXPECT_EQ(service->info().stride, 8u);
    model::FeatureOptions features;
    features.max_length = 32;
    features.long_text = model::LongText::kWindow;
    features.stride = 8;
    features.window_pooling = pooling;
    for (const bool normalize : {true, false}) {
      features.normalize = normalize;
      const model::Features expected = extractor.extract(texts, features);
      ASSERT_GT(expected.windowed, 0);
      const EmbedResult got = service->embed(texts, {.normalize = normalize, .truncate = false});
      ASSERT_EQ(got.data.size(), expected.data.size());
      EXPECT_EQ(got.tokens, expected.tokens);
      for (std::size_t d = 0; d < got.data.size(); ++d) {
        ASSERT_NEAR(got.data[d], expected.data[d], 1e-6) << "value " << d;
      }
      // Alone, the long text gets the same vector as among the short ones.
      EXPECT_TRUE(test::same_vector(
          row(service->embed({long_text}, {.normalize = normalize, .truncate = {}}), 0),
          row(got, 1)));
    }
  }
}

TEST(ServiceLongText, ErrorRefusesEvenWhenAskedToCut) {
  ServiceOptions options;
  options.model = kModel;
  options.max_input_length = 16;
  options.long_text = model::LongText::kError;
  const auto service = Service::load(options);
  const std::string long_text = kSentences[0] + " " + kSentences[2];
  EXPECT_EQ(kind_of([&] { service->embed({long_text}, {.normalize = true, .truncate = true}); }),
            ErrorKind::kValidation);
  EXPECT_EQ(service->embed({"short"}, {}).rows, 1);
  // --auto-truncate means cutting, which only truncate mode does; a stride must fit a window.
  options.auto_truncate = true;
  EXPECT_THROW(Service::load(options), InvalidArgument);
  options.auto_truncate = false;
  options.long_text = model::LongText::kWindow;
  options.stride = 14;
  EXPECT_THROW(Service::load(options), InvalidArgument);
}

TEST(ServiceLoad, BadOptionsThrow) {
  ServiceOptions options;
  options.model = kModel;
  options.max_input_length = 100000;
  EXPECT_THROW(Service::load(options), InvalidArgument);
}

}  // namespace
}  // namespace bertlite::server
