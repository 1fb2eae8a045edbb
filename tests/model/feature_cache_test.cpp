// tests/model/feature_cache_test.cpp - cached features are found only for exactly the same model,
// options and texts, equal what the encoder computes, and a damaged entry is recomputed.
#include "model/feature_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.h"
#include "util/file.h"

namespace bertlite::model {
namespace {

namespace fs = std::filesystem;
const std::string kFixtures = std::string(BERTLITE_TEST_DATA) + "/encoder/";

class FeatureCacheTest : public ::testing::Test {
 protected:
  test::TempDir temp_;
  const fs::path dir_ = temp_ / "cache";  // the cache creates it; a test checks it does not
};

TEST_F(FeatureCacheTest, SecondRunComesFromTheCacheAndIsEqual) {
  const auto extractor = FeatureExtractor::load(kFixtures + "bert_tiny");
  const FeatureCache cache(dir_);
  const std::vector<std::string> texts = {"Good", "The movie was fun!", "bad film"};
  const io::Pooling poolings[] = {io::Pooling::kCls, io::Pooling::kMean};
  int hits = -1;
  const auto first = extract_cached(extractor, cache, texts, poolings, {}, {}, &hits);
  EXPECT_EQ(hits, 0);
  std::int64_t progress = 0;
  const auto second = extract_cached(
      extractor, cache, texts, poolings, {}, [&](std::int64_t n) { progress += n; }, &hits);
  EXPECT_EQ(hits, 2);
  EXPECT_EQ(progress, 3);
  for (int k = 0; k < 2; ++k) {
    EXPECT_EQ(first[k].data, second[k].data);
    EXPECT_EQ(first[k].tokens, second[k].tokens);
    EXPECT_EQ(second[k].pooling, poolings[k]);
  }
  // Only the missing pooling is computed.
  const io::Pooling three[] = {io::Pooling::kCls, io::Pooling::kPooler};
  extract_cached(extractor, cache, texts, three, {}, {}, &hits);
  EXPECT_EQ(hits, 1);
}

TEST_F(FeatureCacheTest, KeyDependsOnEverythingThatChangesTheNumbers) {
  const auto tiny = FeatureExtractor::load(kFixtures + "bert_tiny");
  const auto other = FeatureExtractor::load(kFixtures + "bert_tiny_prefixed");
  const FeatureCache cache(dir_);
  const std::vector<std::string> texts = {"a", "b"};
  const FeatureOptions options = tiny.resolve({});
  const std::string base = cache.key(tiny, io::Pooling::kCls, options, texts);
  EXPECT_EQ(base, cache.key(tiny, io::Pooling::kCls, options, texts));
  EXPECT_NE(base, cache.key(tiny, io::Pooling::kMean, options, texts));
  EXPECT_NE(base, cache.key(other, io::Pooling::kCls, other.resolve({}), texts));
  EXPECT_NE(base, cache.key(tiny, io::Pooling::kCls, options, std::vector<std::string>{"ab", ""}));
  FeatureOptions normalized = options;
  normalized.normalize = true;
  EXPECT_NE(base, cache.key(tiny, io::Pooling::kCls, normalized, texts));
  FeatureOptions shorter = options;
  shorter.max_length = 8;
  EXPECT_NE(base, cache.key(tiny, io::Pooling::kCls, shorter, texts));
}

TEST_F(FeatureCacheTest, DamagedEntryIsRecomputed) {
  const auto extractor = FeatureExtractor::load(kFixtures + "bert_tiny");
  const FeatureCache cache(dir_);
  const std::vector<std::string> texts = {"Good", "bad film"};
  const io::Pooling cls[] = {io::Pooling::kCls};
  const auto first = extract_cached(extractor, cache, texts, cls, {});
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.path().extension() == ".npy") std::ofstream(entry.path()) << "garbage";
  }
  int hits = -1;
  const auto again = extract_cached(extractor, cache, texts, cls, {}, {}, &hits);
  EXPECT_EQ(hits, 0);
  EXPECT_EQ(again[0].data, first[0].data);
}

// Each way an entry can be damaged after it was written; all are recomputed, none is read as
// features. The flipped bit keeps the .npy valid and its shape right: only the checksum sees it.
TEST_F(FeatureCacheTest, EntryThatNoLongerMatchesItsChecksumIsRecomputed) {
  const auto extractor = FeatureExtractor::load(kFixtures + "bert_tiny");
  const FeatureCache cache(dir_);
  const std::vector<std::string> texts = {"Good", "bad film", "fun"};
  const io::Pooling cls[] = {io::Pooling::kCls};
  const auto clean = extract_cached(extractor, cache, texts, cls, {});
  const std::string key = cache.key(extractor, io::Pooling::kCls, extractor.resolve({}), texts);
  const fs::path npy = dir_ / (key + ".npy"), meta = dir_ / (key + ".json");
  ASSERT_TRUE(fs::exists(npy) && fs::exists(meta));
  const std::string npy_bytes = util::read_file(npy), meta_text = util::read_file(meta);

  const auto damaged_is_recomputed = [&](const char* what) {
    SCOPED_TRACE(what);
    EXPECT_FALSE(cache.load(key).has_value());
    int hits = -1;
    const auto again = extract_cached(extractor, cache, texts, cls, {}, {}, &hits);
    EXPECT_EQ(hits, 0);
    EXPECT_EQ(again[0].data, clean[0].data);
    // The recomputed entry replaced the damaged one.
    EXPECT_TRUE(cache.load(key).has_value());
  };
  std::string flipped = npy_bytes;
  flipped[flipped.size() - 5] ^= 0x10;  // a bit of the next-to-last value
  util::write_file_atomic(npy, flipped);
  damaged_is_recomputed("a flipped bit in the matrix");

  util::write_file_atomic(npy, npy_bytes.substr(0, npy_bytes.size() - 4));
  damaged_is_recomputed("a truncated matrix");

  fs::remove(npy);
  damaged_is_recomputed("a missing matrix");

  nlohmann::json info = nlohmann::json::parse(meta_text);
  info.erase("checksum");
  util::write_file_atomic(meta, info.dump());
  damaged_is_recomputed("an entry from before checksums");

  util::write_file_atomic(meta, meta_text.substr(0, meta_text.size() / 2));
  damaged_is_recomputed("a truncated description");

  // Numbers that no integer field holds (feature_cache_fuzz: a token count too long for 64
  // bits parses as a float, and converting it was undefined behaviour).
  info = nlohmann::json::parse(meta_text);
  info["tokens"] = 9.2233720368547758e19;
  util::write_file_atomic(meta, info.dump());
  damaged_is_recomputed("a token count of 9.2e19");

  info = nlohmann::json::parse(meta_text);
  info["max_length"] = -1;
  util::write_file_atomic(meta, info.dump());
  damaged_is_recomputed("a negative max_length");
}

TEST_F(FeatureCacheTest, DisabledCacheStoresNothing) {
  const auto extractor = FeatureExtractor::load(kFixtures + "bert_tiny");
  const FeatureCache cache{fs::path()};
  const io::Pooling cls[] = {io::Pooling::kCls};
  int hits = -1;
  extract_cached(extractor, cache, std::vector<std::string>{"Good"}, cls, {}, {}, &hits);
  extract_cached(extractor, cache, std::vector<std::string>{"Good"}, cls, {}, {}, &hits);
  EXPECT_EQ(hits, 0);
  EXPECT_FALSE(fs::exists(dir_));
}

}  // namespace
}  // namespace bertlite::model
