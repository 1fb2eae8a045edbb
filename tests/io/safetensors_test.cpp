// safetensors: values against the reference writer's files, zero-copy views, every hostile
// header a ParseError naming the problem, and a writer that reproduces the reference bytes.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <sstream>
#include <thread>

#include "bertlite/error.h"
#include "io_test_helpers.h"
#include "util/file.h"

namespace bertlite::io {
namespace {

using test::io_data;
using test::safetensors_bytes;
using test::TempDir;
using test::throws_with;

TEST(Safetensors, LoadsF32F16AndBF16AsTheReferenceConvertsThem) {
  for (const char* name : {"f32.safetensors", "f16.safetensors", "bf16.safetensors"}) {
    const TensorFile file = open_safetensors(io_data(name));
    test::expect_tensors(file, test::expected_values()[name]);
  }
}

TEST(Safetensors, ListsTensorsSortedWithShapeAndDtype) {
  const TensorFile file = open_safetensors(io_data("f16.safetensors"));
  const std::vector<TensorInfo> tensors = file.tensors();
  std::vector<std::string> names;
  for (const TensorInfo& t : tensors) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"embeddings.weight", "empty", "layer.0.bias",
                                             "position_ids", "scalar", "specials"}));
  EXPECT_EQ(tensors[0].shape, (std::vector<std::int64_t>{5, 4}));
  EXPECT_EQ(tensors[0].source_dtype, DType::kF16);
  EXPECT_EQ(tensors[0].file, io_data("f16.safetensors").string());
  EXPECT_EQ(tensors[3].source_dtype, DType::kI64);
  EXPECT_TRUE(tensors[4].shape.empty());  // a scalar
}

TEST(Safetensors, NonFloatTensorIsListedButNotLoadable) {
  const TensorFile file = open_safetensors(io_data("f32.safetensors"));
  EXPECT_TRUE(throws_with<Unsupported>([&] { file.floats("position_ids"); },
                                       "f32.safetensors: tensor 'position_ids' is I64"));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { file.floats("nope"); }, "no tensor named 'nope'"));
}

TEST(Safetensors, F32IsAViewIntoTheMemoryMap) {
  const TensorFile file = open_safetensors(io_data("f32.safetensors"));
  ASSERT_TRUE(file.is_zero_copy("embeddings.weight"));
  const FloatTensor t = file.floats("embeddings.weight");
  EXPECT_EQ(test::mapped_file_at(t.data.data()), io_data("f32.safetensors").string());
  EXPECT_EQ(file.floats("embeddings.weight").data.data(), t.data.data());
}

TEST(Safetensors, F16IsConvertedOnceIntoAnAlignedBuffer) {
  const TensorFile file = open_safetensors(io_data("f16.safetensors"));
  EXPECT_FALSE(file.is_zero_copy("embeddings.weight"));
  const FloatTensor t = file.floats("embeddings.weight");
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data.data()) % 64, 0u);
  EXPECT_NE(test::mapped_file_at(t.data.data()), io_data("f16.safetensors").string());
  EXPECT_EQ(file.floats("embeddings.weight").data.data(), t.data.data());
}

TEST(Safetensors, ConcurrentFirstLoadsShareOneConversion) {
  const TensorFile file = open_safetensors(io_data("bf16.safetensors"));
  std::vector<const float*> seen(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] { seen[i] = file.floats("embeddings.weight").data.data(); });
  }
  for (std::thread& t : threads) t.join();
  for (const float* p : seen) EXPECT_EQ(p, seen[0]);
}

TEST(Safetensors, ViewsSurviveMovingTheFile) {
  TensorFile file = open_safetensors(io_data("f16.safetensors"));
  const FloatTensor before = file.floats("layer.0.bias");
  const std::vector<float> copy(before.data.begin(), before.data.end());
  TensorFile moved = std::move(file);
  const FloatTensor after = moved.floats("layer.0.bias");
  EXPECT_EQ(after.data.data(), before.data.data());
  EXPECT_EQ(std::vector<float>(before.data.begin(), before.data.end()), copy);
}

TEST(Safetensors, UnalignedF32IsCopied) {
  // Pad the header so the data starts 2 bytes past a 4-byte boundary.
  std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  while ((8 + header.size()) % 4 != 2) header += ' ';
  TempDir dir;
  test::write_bytes(dir / "u.safetensors",
                    safetensors_bytes(header, test::float_bytes({1.5f, -2})));
  const TensorFile file = open_safetensors(dir / "u.safetensors");
  EXPECT_FALSE(file.is_zero_copy("x"));
  const FloatTensor t = file.floats("x");
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data.data()) % alignof(float), 0u);
  EXPECT_EQ(std::vector<float>(t.data.begin(), t.data.end()), (std::vector<float>{1.5f, -2}));
}

TEST(Safetensors, MetadataAndEmptyTensorsAreAccepted) {
  const std::string header =
      R"({"__metadata__":{"format":"pt","note":"x"},"a":{"dtype":"F32","shape":[0],)"
      R"("data_offsets":[0,0]},"b":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]},)"
      R"("c":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  const TensorFile file = read_safetensors(safetensors_bytes(header, test::float_bytes({7})), "m");
  EXPECT_EQ(file.size(), 3u);
  EXPECT_TRUE(file.floats("a").data.empty());
  EXPECT_EQ(file.floats("c").data[0], 7.0f);
  EXPECT_EQ(read_safetensors(safetensors_bytes("{}"), "none").size(), 0u);
}

// ---- Hostile headers: each a ParseError whose message names the problem. ----

struct BadHeader {
  const char* label;
  std::string bytes;
  const char* message;
};

std::string tensor_header(const std::string& fields) {
  return R"({"x":{)" + fields + "}}";
}

std::vector<BadHeader> bad_headers() {
  const std::string f32x2 = test::float_bytes({1, 2});
  return {
      {"short", std::string(5, '\0'), "t.safetensors: 5 bytes is too short"},
      {"huge length", safetensors_bytes("{}", "", 100'000'001),
       "header length 100000001 exceeds the limit of 100000000 bytes"},
      {"length past end", safetensors_bytes("{}", "", 100),
       "header length 100 exceeds the 2 bytes that follow it"},
      {"length 2^64-1", safetensors_bytes("{}", "", ~std::uint64_t{0}), "exceeds the limit"},
      {"not json", safetensors_bytes("{not json"), "header is not valid JSON"},
      {"invalid utf-8", safetensors_bytes("{\"\xff\":1}"), "header is not valid JSON"},
      {"not an object", safetensors_bytes("[1,2]"), "header is not a JSON object"},
      {"tensor not an object", safetensors_bytes(R"({"x":3})"), "tensor 'x': expected an object"},
      {"missing dtype", safetensors_bytes(tensor_header(R"("shape":[1],"data_offsets":[0,4])")),
       "tensor 'x': dtype: expected a string"},
      {"unknown dtype",
       safetensors_bytes(tensor_header(R"("dtype":"F99","shape":[1],"data_offsets":[0,4])")),
       "tensor 'x': unknown dtype 'F99'"},
      {"negative dim",
       safetensors_bytes(tensor_header(R"("dtype":"F32","shape":[-1],"data_offsets":[0,4])")),
       "tensor 'x': shape: expected an array of non-negative integers"},
      {"fractional dim",
       safetensors_bytes(tensor_header(R"("dtype":"F32","shape":[1.5],"data_offsets":[0,4])")),
       "shape: expected an array"},
      {"dim above int64",
       safetensors_bytes(
           tensor_header(R"("dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4])")),
       "shape: expected an array"},
      {"shape not an array",
       safetensors_bytes(tensor_header(R"("dtype":"F32","shape":"2","data_offsets":[0,4])")),
       "shape: expected an array"},
      {"element count overflow",
       safetensors_bytes(
           tensor_header(R"("dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4])")),
       "shape [4294967296, 4294967296] F32 overflows a 64-bit byte count"},
      {"byte count overflow",
       safetensors_bytes(
           tensor_header(R"("dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4])")),
       "overflows a 64-bit byte count"},
      {"missing offsets", safetensors_bytes(tensor_header(R"("dtype":"F32","shape":[1])")),
       "data_offsets: expected [begin, end]"},
      {"one offset",
       safetensors_bytes(tensor_header(R"("dtype":"F32","shape":[1],"data_offsets":[4])")),
       "data_offsets: expected [begin, end]"},
      {"negative offset",
       safetensors_bytes(tensor_header(R"("dtype":"F32","shape":[1],"data_offsets":[-4,0])")),
       "data_offsets: expected [begin, end]"},
      {"begin after end",
       safetensors_bytes(tensor_header(R"("dtype":"F32","shape":[1],"data_offsets":[8,4])"), f32x2),
       "tensor 'x': data_offsets [8, 4]: begin is after end"},
      {"end past data",
       safetensors_bytes(tensor_header(R"("dtype":"F32","shape":[100],"data_offsets":[0,400])"),
                         f32x2),
       "tensor 'x': data_offsets [0, 400] ends past the 8 bytes of tensor data"},
      {"size mismatch",
       safetensors_bytes(tensor_header(R"("dtype":"F32","shape":[2,2],"data_offsets":[0,12])"),
                         f32x2 + "    "),
       "t.safetensors: tensor 'x': data_offsets [0, 12] hold 12 bytes, shape [2, 2] F32 needs 16"},
      {"overlap",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                         f32x2 + "    "),
       "tensors 'a' [0, 8] and 'b' [4, 12] overlap"},
      {"metadata not strings", safetensors_bytes(R"({"__metadata__":{"k":1}})"),
       "__metadata__: expected an object of strings"},
      {"metadata not an object", safetensors_bytes(R"({"__metadata__":[]})"),
       "__metadata__: expected an object of strings"},
      {"duplicate tensor",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                         R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                         f32x2),
       "tensor 'a' appears twice"},
      {"deep nesting", safetensors_bytes(R"({"x":{"shape":[[[[[[[1]]]]]]]}})"),
       "header nests deeper than"},
  };
}

TEST(SafetensorsHostile, EveryBadHeaderIsAParseErrorNamingTheProblem) {
  for (const BadHeader& bad : bad_headers()) {
    SCOPED_TRACE(bad.label);
    EXPECT_TRUE(throws_with<ParseError>([&] { read_safetensors(bad.bytes, "t.safetensors"); },
                                        bad.message));
  }
}

TEST(SafetensorsHostile, BadFileOnDiskNamesThePath) {
  TempDir dir;
  test::write_bytes(dir / "model.safetensors", "abc");
  EXPECT_TRUE(throws_with<ParseError>([&] { open_safetensors(dir / "model.safetensors"); },
                                      (dir / "model.safetensors").string() + ": 3 bytes"));
  EXPECT_TRUE(throws_with<IoError>([&] { open_safetensors(dir / "missing.safetensors"); },
                                   "missing.safetensors: cannot open"));
}

// Every truncation and many single-byte corruptions of a real file either load or throw a
// bertlite::Error: never a crash, never a read outside the buffer (the sanitizer build checks).
TEST(SafetensorsHostile, TruncatedAndCorruptedFilesNeverCrash) {
  const std::string good = util::read_file(io_data("f16.safetensors"));
  auto try_load = [](const std::string& bytes) {
    try {
      const TensorFile file = read_safetensors(bytes, "fuzz");
      for (const TensorInfo& t : file.tensors()) {
        try {
          file.floats(t.name);
        } catch (const Unsupported&) {
        }
      }
    } catch (const ParseError&) {
    }
  };
  for (std::size_t n = 0; n < good.size(); ++n) try_load(good.substr(0, n));
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (char value : {'\0', '\xff', '9', '-', '[', '"'}) {
      std::string bad = good;
      bad[i] = value;
      try_load(bad);
    }
  }
}

// ---- Writer ----

struct ReferenceTensors {
  std::vector<float> f32{0, 0.5f, 1, 1.5f, 2, 2.5f};
  std::vector<std::uint16_t> f16{f32_to_f16(0.25f), f32_to_f16(1.25f), f32_to_f16(2.25f)};
  std::vector<std::uint16_t> bf16{f32_to_bf16(-1.5f), f32_to_bf16(-0.5f)};
  std::vector<std::int64_t> i64{-1, 7};
  std::vector<std::uint8_t> u8{1, 2, 255};
  std::vector<double> f64{3.25};
  std::vector<float> one{1};

  std::vector<TensorToWrite> list() const {
    return {
        f32_tensor("f32", {2, 3}, f32),
        {"f16", DType::kF16, {3}, std::as_bytes(std::span(f16))},
        {"bf16", DType::kBF16, {2}, std::as_bytes(std::span(bf16))},
        {"i64", DType::kI64, {2}, std::as_bytes(std::span(i64))},
        {"u8", DType::kU8, {3}, std::as_bytes(std::span(u8))},
        {"f64", DType::kF64, {1}, std::as_bytes(std::span(f64))},
        f32_tensor("a \xc3\xa9\n\"name", {1}, one),
        f32_tensor("empty", {0}, {}),
    };
  }
};

TEST(SafetensorsWriter, ReproducesTheReferenceWriterByteForByte) {
  const ReferenceTensors reference;
  std::ostringstream out;
  write_safetensors(out, reference.list(), {{"format", "pt"}});
  const std::string expected = util::read_file(io_data("writer_reference.safetensors"));
  EXPECT_EQ(out.str().size(), expected.size());
  EXPECT_EQ(out.str(), expected);
}

TEST(SafetensorsWriter, RoundTripsThroughAFile) {
  const ReferenceTensors reference;
  TempDir dir;
  write_safetensors(dir / "out.safetensors", reference.list());
  EXPECT_FALSE(std::filesystem::exists(dir / "out.safetensors.tmp"));
  const TensorFile file = open_safetensors(dir / "out.safetensors");
  ASSERT_EQ(file.size(), 8u);
  const FloatTensor f32 = file.floats("f32");
  EXPECT_EQ(std::vector<float>(f32.data.begin(), f32.data.end()), reference.f32);
  EXPECT_EQ(std::vector<std::int64_t>(f32.shape.begin(), f32.shape.end()),
            (std::vector<std::int64_t>{2, 3}));
  EXPECT_TRUE(file.is_zero_copy("f32"));  // the 8-byte padding keeps F32 data aligned
  EXPECT_EQ(file.floats("f16").data[1], 1.25f);
  EXPECT_EQ(file.floats("bf16").data[0], -1.5f);
  EXPECT_EQ(file.floats("a \xc3\xa9\n\"name").data[0], 1.0f);
  EXPECT_EQ(file.find("u8")->source_dtype, DType::kU8);
  EXPECT_EQ(file.find("f64")->shape, (std::vector<std::int64_t>{1}));

  // The header is padded with spaces to a multiple of 8.
  const std::string bytes = util::read_file(dir / "out.safetensors");
  std::uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  EXPECT_EQ(header % 8, 0u);
}

TEST(SafetensorsWriter, RejectsInconsistentTensors) {
  const std::vector<float> four(4, 1.0f);
  std::ostringstream out;
  const std::vector<TensorToWrite> mismatch{f32_tensor("w", {2, 3}, four)};
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { write_safetensors(out, mismatch); },
                                           "tensor 'w': 16 bytes for shape [2, 3] F32"));
  const std::vector<TensorToWrite> twice{f32_tensor("w", {4}, four), f32_tensor("w", {4}, four)};
  EXPECT_TRUE(
      throws_with<InvalidArgument>([&] { write_safetensors(out, twice); }, "'w' is given twice"));
  const std::vector<TensorToWrite> reserved{f32_tensor("__metadata__", {4}, four)};
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { write_safetensors(out, reserved); },
                                           "the name is reserved"));
  const std::vector<TensorToWrite> negative{f32_tensor("w", {-4}, four)};
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { write_safetensors(out, negative); },
                                           "invalid shape [-4]"));
  const std::vector<TensorToWrite> bad_utf8{f32_tensor("\xff", {4}, four)};
  EXPECT_TRUE(
      throws_with<InvalidArgument>([&] { write_safetensors(out, bad_utf8); }, "not valid UTF-8"));
  EXPECT_TRUE(out.str().empty());  // nothing written before the checks pass
}

TEST(SafetensorsWriter, FailedWriteLeavesNothingBehind) {
  TempDir dir;
  const std::vector<float> four(4, 1.0f);
  const std::vector<TensorToWrite> bad{f32_tensor("w", {5}, four)};
  EXPECT_THROW(write_safetensors(dir / "out.safetensors", bad), InvalidArgument);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  const std::vector<TensorToWrite> good{f32_tensor("w", {4}, four)};
  EXPECT_TRUE(throws_with<IoError>(
      [&] { write_safetensors(dir / "missing" / "out.safetensors", good); }, "out.safetensors"));
}

}  // namespace
}  // namespace bertlite::io
