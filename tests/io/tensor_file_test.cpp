// TensorFile and the checkpoint-folder loader: half-precision conversions, strided gathers,
// format choice, sharded indexes (and hostile ones), and the default model's real weights.
#include "io/tensor_file.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

#include "bertlite/error.h"
#include "io/safetensors.h"
#include "io_test_helpers.h"
#include "util/file.h"

namespace bertlite::io {
namespace {

namespace fs = std::filesystem;
using test::io_data;
using test::TempDir;
using test::throws_with;

// ---- Conversions ----

TEST(HalfPrecision, F16KnownValuesAndRounding) {
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x03FF), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(f16_to_f32(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7E00)));
  EXPECT_EQ(test::bits(f16_to_f32(0x8000)), 0x80000000u);

  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65519.99f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);  // halfway to 2^16 rounds up, to infinity
  EXPECT_EQ(f32_to_f16(1e10f), 0x7C00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie between 0 and 2^-24: even
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);         // tie between 1 and 2: even
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie: even
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(3.0f, -11)), 0x3C02);  // tie: even
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3C01);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(std::nanf("")), 0x7E00);
}

TEST(HalfPrecision, EveryF16RoundTrips) {
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float f = f16_to_f32(static_cast<std::uint16_t>(h));
    const bool nan = ((h >> 10) & 0x1F) == 0x1F && (h & 0x3FF) != 0;
    ASSERT_EQ(std::isnan(f), nan) << h;
    if (!nan) {
      ASSERT_EQ(f32_to_f16(f), h) << h;
    }
  }
}

#ifdef __FLT16_MAX__
// The compiler's own binary16 conversions are the oracle where the compiler has them.
TEST(HalfPrecision, MatchesTheCompilersFloat16) {
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float want = static_cast<float>(std::bit_cast<_Float16>(static_cast<std::uint16_t>(h)));
    const float got = f16_to_f32(static_cast<std::uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << h;
    } else {
      ASSERT_EQ(test::bits(got), test::bits(want)) << h;
    }
  }
  for (std::uint64_t x = 0; x <= 0xFFFFFFFFu; x += 997) {
    const float f = std::bit_cast<float>(static_cast<std::uint32_t>(x));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), std::bit_cast<std::uint16_t>(static_cast<_Float16>(f))) << x;
  }
}
#endif

TEST(HalfPrecision, BF16RoundsToNearestEven) {
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F808000u)), 0x3F80);  // tie: even
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F818000u)), 0x3F82);  // tie: even
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F808001u)), 0x3F81);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // overflows to inf
  EXPECT_EQ(f32_to_bf16(std::nanf("")), 0x7FC0);
  for (std::uint32_t b = 0; b <= 0xFFFF; ++b) {
    const float f = bf16_to_f32(static_cast<std::uint16_t>(b));
    if (!std::isnan(f)) {
      ASSERT_EQ(f32_to_bf16(f), b) << b;
    }
  }
}

TEST(Shapes, ElementCountIsOverflowChecked) {
  EXPECT_EQ(checked_element_count(std::vector<std::int64_t>{}), 1);
  EXPECT_EQ(checked_element_count(std::vector<std::int64_t>{2, 3}), 6);
  EXPECT_EQ(checked_element_count(std::vector<std::int64_t>{1LL << 40, 0, 1LL << 40}), 0);
  EXPECT_EQ(checked_element_count(std::vector<std::int64_t>{1LL << 32, 1LL << 31}), std::nullopt);
  EXPECT_EQ(checked_element_count(std::vector<std::int64_t>{2, -1}), std::nullopt);
  EXPECT_EQ(format_shape(std::vector<std::int64_t>{384, 768}), "[384, 768]");
  EXPECT_EQ(format_shape(std::vector<std::int64_t>{}), "[]");
}

// ---- TensorFile ----

TEST(TensorFile, GathersStridedTensorsOfAnyRank) {
  // A 2x3x4 block of 0..23 read as its (2, 0, 1) permutation: shape (4, 2, 3), strides (1, 12, 4).
  std::vector<float> storage(24);
  for (int i = 0; i < 24; ++i) storage[i] = static_cast<float>(i);
  TensorFile file("memory");
  file.add({{"p", {4, 2, 3}, DType::kF32, "memory"},
            reinterpret_cast<const std::byte*>(storage.data()),
            {1, 12, 4}});
  const FloatTensor t = file.floats("p");
  ASSERT_EQ(t.data.size(), 24u);
  for (int a = 0; a < 4; ++a) {
    for (int b = 0; b < 2; ++b) {
      for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(t.data[(a * 2 + b) * 3 + c], storage[b * 12 + c * 4 + a]);
      }
    }
  }
  EXPECT_FALSE(file.is_zero_copy("p"));
}

TEST(TensorFile, ContiguousStridesAreRecognised) {
  // Explicit row-major strides (and any stride on a size-1 dimension) need no copy.
  std::vector<float> storage{1, 2, 3, 4, 5, 6};
  TensorFile file("memory");
  file.add({{"a", {2, 1, 3}, DType::kF32, "memory"},
            reinterpret_cast<const std::byte*>(storage.data()),
            {3, 99, 1}});
  EXPECT_TRUE(file.is_zero_copy("a"));
  EXPECT_EQ(file.floats("a").data.data(), storage.data());
}

TEST(TensorFile, DuplicateNamesAreRefused) {
  const float value = 1;
  TensorFile a("a");
  a.add({{"x", {1}, DType::kF32, "a.bin"}, reinterpret_cast<const std::byte*>(&value), {}});
  EXPECT_TRUE(throws_with<ParseError>(
      [&] {
        a.add({{"x", {1}, DType::kF32, "b.bin"}, reinterpret_cast<const std::byte*>(&value), {}});
      },
      "b.bin: tensor 'x' is also in a.bin"));
  TensorFile b("b");
  b.add({{"x", {1}, DType::kF32, "c.bin"}, reinterpret_cast<const std::byte*>(&value), {}});
  EXPECT_TRUE(throws_with<ParseError>([&] { a.merge(std::move(b)); }, "is also in a.bin"));
}

// ---- Folders ----

void copy_into(const fs::path& folder, const std::string& fixture, const std::string& as) {
  fs::copy_file(io_data(fixture), folder / as);
}

TEST(OpenCheckpoint, PrefersSafetensorsOverPytorchModelBin) {
  TempDir dir;
  copy_into(dir.path(), "f32.safetensors", "model.safetensors");
  copy_into(dir.path(), "torch_zip.bin", "pytorch_model.bin");
  const TensorFile file = open_checkpoint(dir.path());
  EXPECT_EQ(file.source(), (dir / "model.safetensors").string());
  test::expect_tensors(file, test::expected_values()["f32.safetensors"]);
}

TEST(OpenCheckpoint, ReadsShardedSafetensors) {
  const TensorFile file = open_checkpoint(io_data("sharded"));
  test::expect_tensors(file, test::expected_values()["sharded"]);
  EXPECT_EQ(file.find("layer.0.bias")->file,
            (io_data("sharded") / "model-00002-of-00002.safetensors").string());
  EXPECT_TRUE(file.is_zero_copy("embeddings.weight"));
}

TEST(OpenCheckpoint, FallsBackToPytorchModelBin) {
  TempDir dir;
  copy_into(dir.path(), "torch_zip.bin", "pytorch_model.bin");
  test::expect_tensors(open_checkpoint(dir.path()), test::expected_values()["torch_zip.bin"]);
}

TEST(OpenCheckpoint, ReadsShardedPytorchModelBin) {
  const TensorFile file = open_checkpoint(io_data("torch_sharded"));
  nlohmann::json expected;
  for (const char* name : {"w32", "w32_t", "w16", "wbf16", "scalar"}) {
    expected[name] = test::expected_values()["torch_zip.bin"][name];
  }
  test::expect_tensors(file, expected);
}

TEST(OpenCheckpoint, MissingWeightsListWhatWasSearched) {
  TempDir dir;
  EXPECT_TRUE(throws_with<IoError>(
      [&] { open_checkpoint(dir.path()); },
      "no model weights: looked for model.safetensors, model.safetensors.index.json, "
      "pytorch_model.bin, pytorch_model.bin.index.json"));
  test::write_bytes(dir / "tf_model.h5", "x");
  EXPECT_TRUE(throws_with<IoError>([&] { open_checkpoint(dir.path()); },
                                   "found tf_model.h5, a format bertlite does not read"));
  EXPECT_TRUE(throws_with<IoError>([&] { open_checkpoint(dir / "nope"); }, "nope: not a folder"));
}

// ---- Hostile shard indexes ----

void write_index(const TempDir& dir, const std::string& json) {
  test::write_bytes(dir / "model.safetensors.index.json", json);
}

TEST(OpenCheckpointHostile, ShardIndexErrorsNameTheIndex) {
  TempDir dir;
  for (const char* shard :
       {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
    fs::copy_file(io_data("sharded") / shard, dir / shard);
  }
  const std::string index = (dir / "model.safetensors.index.json").string();

  write_index(dir, "{not json");
  EXPECT_TRUE(
      throws_with<ParseError>([&] { open_checkpoint(dir.path()); }, index + ": not valid JSON"));
  write_index(dir, R"({"metadata": {}})");
  EXPECT_TRUE(throws_with<ParseError>([&] { open_checkpoint(dir.path()); },
                                      "expected an object with a \"weight_map\" object"));
  write_index(dir, R"({"weight_map": {}})");
  EXPECT_TRUE(throws_with<ParseError>([&] { open_checkpoint(dir.path()); }, "weight_map is empty"));
  write_index(dir, R"({"weight_map": {"x": 3}})");
  EXPECT_TRUE(throws_with<ParseError>([&] { open_checkpoint(dir.path()); },
                                      "weight_map['x']: expected a file name"));
  write_index(dir, R"({"weight_map": {"x": "../model-00001-of-00002.safetensors"}})");
  EXPECT_TRUE(throws_with<ParseError>(
      [&] { open_checkpoint(dir.path()); },
      "shard '../model-00001-of-00002.safetensors' is not a file name in the same folder"));
  write_index(dir, R"({"weight_map": {"x": "missing.safetensors"}})");
  EXPECT_TRUE(throws_with<IoError>([&] { open_checkpoint(dir.path()); },
                                   "missing.safetensors: cannot open"));
  write_index(dir, R"({"weight_map": {"scalar": "model-00002-of-00002.safetensors"}})");
  EXPECT_TRUE(throws_with<ParseError>([&] { open_checkpoint(dir.path()); },
                                      index + ": tensor 'scalar' is not in its shard"));
  // Two shards holding the same tensor.
  fs::copy_file(dir / "model-00001-of-00002.safetensors", dir / "copy.safetensors");
  write_index(dir, R"({"weight_map": {"scalar": "model-00001-of-00002.safetensors",
                                      "embeddings.weight": "copy.safetensors"}})");
  EXPECT_TRUE(throws_with<ParseError>([&] { open_checkpoint(dir.path()); }, "is also in"));
}

// ---- The default model's real weights, against safetensors' own reader ----

TEST(OpenCheckpoint, DefaultModelMatchesTheReferenceReader) {
  const fs::path folder = fs::path(BERTLITE_SOURCE_DIR) / "models" / "all-MiniLM-L6-v2";
  const TensorFile file = open_checkpoint(folder);
  const nlohmann::json expected = nlohmann::json::parse(util::read_file(io_data("minilm.json")));
  ASSERT_EQ(file.size(), expected.size());
  for (const auto& [name, e] : expected.items()) {
    SCOPED_TRACE(name);
    const TensorInfo* info = file.find(name);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->shape, e["shape"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(dtype_name(info->source_dtype), e["dtype"].get<std::string>());
    if (!e.contains("head_bits")) continue;  // a non-float tensor
    EXPECT_TRUE(file.is_zero_copy(name));
    const FloatTensor t = file.floats(name);
    const auto head = e["head_bits"].get<std::vector<std::uint32_t>>();
    for (std::size_t i = 0; i < head.size(); ++i) EXPECT_EQ(test::bits(t.data[i]), head[i]);
    double sum = 0;
    for (float v : t.data) sum += v;
    const double want = e["sum"].get<double>();
    EXPECT_NEAR(sum, want, 1e-9 * std::max(1.0, std::abs(want)) * std::sqrt(t.data.size()));
  }
}

}  // namespace
}  // namespace bertlite::io
