// pytorch_model.bin: torch.save's zip and legacy layouts against torch's own values, views and
// shared storages, ZIP64, and hostile archives and pickles that must fail by name.
#include "io/torch_checkpoint.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "bertlite/error.h"
#include "io_test_helpers.h"
#include "util/file.h"

namespace bertlite::io {
namespace {

using test::float_bytes;
using test::io_data;
using test::PickleBuilder;
using test::throws_with;
using test::torch_zip;
using test::ZipBuilder;

TEST(TorchCheckpoint, ZipFormatMatchesTorch) {
  const TensorFile file = open_torch_checkpoint(io_data("torch_zip.bin"));
  test::expect_tensors(file, test::expected_values()["torch_zip.bin"]);
}

TEST(TorchCheckpoint, Zip64ArchiveFromAnotherWriterMatchesTorch) {
  const TensorFile file = open_torch_checkpoint(io_data("torch_zip64.bin"));
  test::expect_tensors(file, test::expected_values()["torch_zip.bin"]);
}

TEST(TorchCheckpoint, LegacyFormatMatchesTorch) {
  const TensorFile file = open_torch_checkpoint(io_data("torch_legacy.bin"));
  test::expect_tensors(file, test::expected_values()["torch_zip.bin"]);
}

TEST(TorchCheckpoint, ParametersWithOrderedDictMetadata) {
  const TensorFile file = open_torch_checkpoint(io_data("torch_params.bin"));
  test::expect_tensors(file, test::expected_values()["torch_params.bin"]);
}

TEST(TorchCheckpoint, ContiguousF32ViewsPointIntoTheMapping) {
  const TensorFile file = open_torch_checkpoint(io_data("torch_zip.bin"));
  const std::string path = io_data("torch_zip.bin").string();
  ASSERT_TRUE(file.is_zero_copy("w32"));
  const float* w32 = file.floats("w32").data.data();
  EXPECT_EQ(test::mapped_file_at(w32), path);
  // "row" is w32[1]: the same storage at element offset 4; "tied" is w32 itself.
  ASSERT_TRUE(file.is_zero_copy("row"));
  EXPECT_EQ(file.floats("row").data.data(), w32 + 4);
  EXPECT_EQ(file.floats("tied").data.data(), w32);
  // A transpose and a column are strided, so they are gathered into copies.
  EXPECT_FALSE(file.is_zero_copy("w32_t"));
  EXPECT_FALSE(file.is_zero_copy("col"));
  EXPECT_NE(test::mapped_file_at(file.floats("w32_t").data.data()), path);
}

TEST(TorchCheckpoint, HandBuiltStridedTensorIsGatheredRowMajor) {
  // Storage [0..5] viewed as the transpose of a 2x3 matrix: shape (3, 2), strides (1, 3).
  PickleBuilder p;
  p.proto().empty_dict().mark().str("t").tensor("FloatStorage", "0", 6, 0, {3, 2}, {1, 3});
  p.setitems().stop();
  const TensorFile file =
      read_torch_checkpoint(torch_zip(p.bytes(), {{"0", float_bytes({0, 1, 2, 3, 4, 5})}}), "t");
  const FloatTensor t = file.floats("t");
  EXPECT_EQ(std::vector<float>(t.data.begin(), t.data.end()),
            (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(TorchCheckpoint, HandBuiltZip64ArchiveWithSaturatedEndRecord) {
  PickleBuilder p;
  p.proto().empty_dict().mark().str("x").tensor("FloatStorage", "0", 2, 0, {2}, {1});
  p.setitems().stop();
  const TensorFile file =
      read_torch_checkpoint(torch_zip(p.bytes(), {{"0", float_bytes({4, 5})}}, true), "t");
  EXPECT_EQ(file.floats("x").data[1], 5.0f);
}

// ---- Hostile archives ----

std::string simple_pickle() {
  PickleBuilder p;
  p.proto().empty_dict().mark().str("x").tensor("FloatStorage", "0", 2, 0, {2}, {1});
  p.setitems().stop();
  return p.bytes();
}

TEST(TorchCheckpointHostile, NotACheckpoint) {
  EXPECT_TRUE(throws_with<ParseError>([] { read_torch_checkpoint("hello world", "t.bin"); },
                                      "t.bin: not a PyTorch checkpoint"));
  std::string tar(512, '\0');
  tar.replace(257, 5, "ustar");
  EXPECT_TRUE(throws_with<Unsupported>([&] { read_torch_checkpoint(tar, "t.bin"); },
                                       "tar-format checkpoints"));
}

TEST(TorchCheckpointHostile, TruncatedZipHasNoEndRecord) {
  const std::string good = util::read_file(io_data("torch_zip.bin"));
  EXPECT_TRUE(throws_with<ParseError>([&] { read_torch_checkpoint(good.substr(0, 200), "t.bin"); },
                                      "no zip end-of-central-directory record"));
}

TEST(TorchCheckpointHostile, CompressedOrEncryptedEntriesAreUnsupported) {
  ZipBuilder deflated;
  deflated.add("archive/data.pkl", simple_pickle(), 8);
  EXPECT_TRUE(throws_with<Unsupported>([&] { read_torch_checkpoint(deflated.build(), "t.bin"); },
                                       "zip entry 'archive/data.pkl' is compressed (method 8)"));
  ZipBuilder encrypted;
  encrypted.add("archive/data.pkl", simple_pickle(), 0, 1);
  EXPECT_TRUE(throws_with<Unsupported>([&] { read_torch_checkpoint(encrypted.build(), "t.bin"); },
                                       "is encrypted"));
}

TEST(TorchCheckpointHostile, ZipStructureErrors) {
  ZipBuilder no_pickle;
  no_pickle.add("archive/data/0", float_bytes({1, 2}));
  EXPECT_TRUE(throws_with<ParseError>([&] { read_torch_checkpoint(no_pickle.build(), "t.bin"); },
                                      "no <archive>/data.pkl"));

  ZipBuilder big_endian;
  big_endian.add("archive/data.pkl", simple_pickle()).add("archive/byteorder", "big");
  EXPECT_TRUE(throws_with<Unsupported>([&] { read_torch_checkpoint(big_endian.build(), "t.bin"); },
                                       "byteorder is 'big'"));

  ZipBuilder twice;
  twice.add("archive/data.pkl", simple_pickle()).add("archive/data.pkl", simple_pickle());
  EXPECT_TRUE(throws_with<ParseError>([&] { read_torch_checkpoint(twice.build(), "t.bin"); },
                                      "appears twice"));

  // Point the central directory past the end of the file.
  std::string bad_offset = torch_zip(simple_pickle(), {{"0", float_bytes({1, 2})}});
  const std::size_t end = bad_offset.size() - 22;
  bad_offset[end + 16] = '\xff';
  bad_offset[end + 17] = '\xff';
  EXPECT_TRUE(throws_with<ParseError>([&] { read_torch_checkpoint(bad_offset, "t.bin"); },
                                      "central directory"));

  // An entry whose size runs past the end of the file.
  std::string bad_size = torch_zip(simple_pickle(), {{"0", float_bytes({1, 2})}});
  const std::uint64_t directory = static_cast<unsigned char>(bad_size[end + 16]) |
                                  static_cast<unsigned char>(bad_size[end + 17]) << 8;
  for (int i = 20; i < 28; ++i) bad_size[directory + i] = '\x7f';
  EXPECT_TRUE(throws_with<ParseError>([&] { read_torch_checkpoint(bad_size, "t.bin"); },
                                      "run past the end of the file"));

  // Saturated end-record fields with no ZIP64 record behind them.
  std::string no_zip64 = torch_zip(simple_pickle(), {{"0", float_bytes({1, 2})}});
  no_zip64[end + 10] = '\xff';
  no_zip64[end + 11] = '\xff';
  EXPECT_TRUE(throws_with<ParseError>([&] { read_torch_checkpoint(no_zip64, "t.bin"); },
                                      "ZIP64 record that is missing"));
}

// ---- Hostile pickles ----

struct BadPickle {
  const char* label;
  std::string pickle;
  std::string storage;  // the bytes of storage "0"
  const char* message;
  bool unsupported;  // Unsupported rather than ParseError
};

std::vector<BadPickle> bad_pickles() {
  const std::string two = float_bytes({1, 2});
  auto state = [](const std::function<void(PickleBuilder&)>& value) {
    PickleBuilder p;
    p.proto().empty_dict().mark().str("x");
    value(p);
    p.setitems().stop();
    return p.bytes();
  };
  auto tensor = [&](std::int64_t numel, std::int64_t offset,
                    std::initializer_list<std::int64_t> shape,
                    std::initializer_list<std::int64_t> strides) {
    return state(
        [&](PickleBuilder& p) { p.tensor("FloatStorage", "0", numel, offset, shape, strides); });
  };
  return {
      {"os.system", PickleBuilder().proto().global("posix", "system").stop().bytes(), two,
       "global 'posix.system' is not allowed", true},
      {"builtins.eval via STACK_GLOBAL",
       PickleBuilder().proto().str("builtins").str("eval").op(0x93).stop().bytes(), two,
       "global 'builtins.eval' is not allowed", true},
      {"INST", PickleBuilder().proto().raw("iposix\nsystem\n").stop().bytes(), two,
       "pickle opcode INST (0x69) is not allowed", true},
      {"BINFLOAT", PickleBuilder().proto().op('G').raw(std::string(8, '\0')).stop().bytes(), two,
       "pickle opcode BINFLOAT (0x47)", true},
      {"unknown opcode", PickleBuilder().proto().op(0xff).bytes(), two,
       "byte 2: unknown pickle opcode 0xff", false},
      {"no STOP", PickleBuilder().proto().empty_dict().bytes(), two, "opcode at byte 3", false},
      {"string past end",
       PickleBuilder()
           .proto()
           .op('X')
           .raw(std::string("\xff\xff\xff\x00"
                            "abc",
                            7))
           .bytes(),
       two, "string at byte 7 needs 16777215 bytes, past the end", false},
      {"stack underflow", PickleBuilder().proto().op(0x85).stop().bytes(), two,
       "TUPLE1 needs a value but the stack is empty", false},
      {"pop across a mark", PickleBuilder().proto().none().mark().op(0x85).stop().bytes(), two,
       "TUPLE1 needs a value", false},
      {"TUPLE without MARK", PickleBuilder().proto().tuple().stop().bytes(), two,
       "TUPLE without a MARK", false},
      {"memo never stored", PickleBuilder().proto().op('h').op(7).stop().bytes(), two,
       "memo entry 7 was never stored", false},
      {"leftover values", PickleBuilder().proto().none().none().stop().bytes(), two,
       "STOP leaves 2 values", false},
      {"LONG1 too long",
       PickleBuilder().proto().op(0x8a).op(9).raw(std::string(9, '\1')).stop().bytes(), two,
       "LONG1 of 9 bytes", false},
      {"protocol 6", PickleBuilder().op(0x80).op(6).stop().bytes(), two, "pickle protocol 6 > 5",
       false},
      {"not a dict", PickleBuilder().proto().op(']').stop().bytes(), two,
       "holds a list, not a state dict", false},
      {"OrderedDict with arguments",
       PickleBuilder()
           .proto()
           .global("collections", "OrderedDict")
           .mark()
           .none()
           .tuple()
           .reduce()
           .stop()
           .bytes(),
       two, "OrderedDict() with arguments", false},
      {"calling a storage type",
       PickleBuilder()
           .proto()
           .global("torch", "FloatStorage")
           .empty_tuple()
           .reduce()
           .stop()
           .bytes(),
       two, "calling a storage type is not supported", true},
      {"BUILD on a tensor", state([](PickleBuilder& p) {
         p.tensor("FloatStorage", "0", 2, 0, {2}, {1}).empty_dict().op('b');
       }),
       two, "BUILD on a tensor is not supported", true},
      {"value not a tensor", state([](PickleBuilder& p) { p.integer(3); }), two,
       "'x' is a int, not a tensor", true},
      {"key not a string",
       PickleBuilder().proto().empty_dict().mark().integer(1).integer(2).setitems().stop().bytes(),
       two, "state dict key 0 is a int, not a str", false},
      {"bad persistent id",
       state([](PickleBuilder& p) { p.mark().str("storage").tuple().persid(); }), two,
       "persistent id has 1 items", false},
      {"persistent id with a non-storage type", state([](PickleBuilder& p) {
         p.mark()
             .str("storage")
             .global("collections", "OrderedDict")
             .str("0")
             .str("cpu")
             .integer(2);
         p.tuple().persid();
       }),
       two, "expected a storage type", false},
      {"rebuild with a wrong argument", state([](PickleBuilder& p) {
         p.global("torch._utils", "_rebuild_tensor_v2").mark().none().integer(0);
         p.int_tuple({2}).int_tuple({1}).boolean(false).empty_dict().tuple().reduce();
       }),
       two, "_rebuild_tensor_v2 storage: expected storage, found None", false},
      {"storage missing", tensor(2, 0, {2}, {1}), "", "storage '0' is missing from the file",
       false},
      {"storage too small", tensor(4, 0, {4}, {1}), two,
       "storage '0' holds 8 bytes, fewer than 4 F32 elements need", false},
      {"view past the storage", tensor(2, 1, {2}, {1}), two,
       "tensor 'x': storage_offset 1, size [2], stride [1]: reaches element 2 of a storage of 2",
       false},
      {"negative offset", tensor(2, -1, {1}, {1}), two, "negative storage offset", false},
      {"negative size", tensor(2, 0, {-1}, {1}), two, "negative size", false},
      {"negative stride", tensor(2, 1, {2}, {-1}), two, "negative stride", false},
      {"stride overflow", tensor(2, 0, {3, 2}, {INT64_MAX / 2 + 1, 1}), two,
       "element offsets overflow", false},
      {"size and stride lengths", tensor(2, 0, {2}, {1, 1}), two,
       "size and stride differ in length", false},
      {"element count overflow", tensor(2, 0, {INT64_MAX, 4}, {0, 0}), two,
       "element count overflows", false},
      {"expanded view", tensor(2, 0, {1000000, 1000000}, {0, 0}), two,
       "views 1000000000000 elements of a storage of 2", true},
      {"storage declared twice differently",
       [] {
         PickleBuilder p;
         p.proto().empty_dict().mark();
         p.str("a").tensor("FloatStorage", "0", 2, 0, {2}, {1});
         p.str("b").tensor("HalfStorage", "0", 4, 0, {4}, {1});
         p.setitems().stop();
         return p.bytes();
       }(),
       two, "storage '0' is declared as 2 F32 and as 4 F16", false},
      {"duplicate key",
       [] {
         PickleBuilder p;
         p.proto().empty_dict().mark();
         p.str("a").tensor("FloatStorage", "0", 2, 0, {2}, {1});
         p.str("a").tensor("FloatStorage", "0", 2, 0, {2}, {1});
         p.setitems().stop();
         return p.bytes();
       }(),
       two, "key 'a' appears twice", false},
  };
}

TEST(TorchCheckpointHostile, EveryBadPickleFailsByName) {
  for (const BadPickle& bad : bad_pickles()) {
    SCOPED_TRACE(bad.label);
    std::string bytes = bad.storage.empty() ? torch_zip(bad.pickle, {})
                                            : torch_zip(bad.pickle, {{"0", bad.storage}});
    auto load = [&] { read_torch_checkpoint(bytes, "t.bin"); };
    if (bad.unsupported) {
      EXPECT_TRUE(throws_with<Unsupported>(load, bad.message));
    } else {
      EXPECT_TRUE(throws_with<ParseError>(load, bad.message));
    }
  }
}

TEST(TorchCheckpointHostile, ObjectCountIsBounded) {
  // Four million NONEs: a pickle no state dict resembles, refused before it exhausts memory.
  PickleBuilder p;
  p.proto().mark().raw(std::string(4'000'001, 'N'));
  EXPECT_TRUE(throws_with<ParseError>([&] { read_torch_checkpoint(torch_zip(p.bytes(), {}), "t"); },
                                      "more than 4000000 objects"));
}

TEST(TorchCheckpointHostile, RepeatedMemoReferencesStayCheap) {
  // Each tuple holds the previous one twice; copies of values are references, so 60 levels
  // (2^60 leaves if expanded) cost 60 objects.
  PickleBuilder p;
  p.proto().mark().empty_tuple().op('q').op(0);
  for (int i = 0; i < 60; ++i) p.op('h').op(0).op('h').op(0).op(0x86).op('q').op(0);
  p.tuple().stop();
  EXPECT_TRUE(throws_with<ParseError>([&] { read_torch_checkpoint(torch_zip(p.bytes(), {}), "t"); },
                                      "holds a tuple, not a state dict"));
}

// Every truncation and many single-byte corruptions of real torch.save files either load or
// throw a bertlite::Error: never a crash or an out-of-bounds read (the sanitizer build checks).
TEST(TorchCheckpointHostile, TruncatedAndCorruptedFilesNeverCrash) {
  for (const char* name : {"torch_zip.bin", "torch_legacy.bin"}) {
    const std::string good = util::read_file(io_data(name));
    auto try_load = [](const std::string& bytes) {
      try {
        const TensorFile file = read_torch_checkpoint(bytes, "fuzz");
        for (const TensorInfo& t : file.tensors()) {
          try {
            file.floats(t.name);
          } catch (const Unsupported&) {
          }
        }
      } catch (const Error&) {
      }
    };
    for (std::size_t n = 0; n < good.size(); ++n) try_load(good.substr(0, n));
    for (std::size_t i = 0; i < good.size(); ++i) {
      for (char value : {'\0', '\xff', '\x01', 'K'}) {
        std::string bad = good;
        bad[i] = value;
        try_load(bad);
      }
    }
  }
}

}  // namespace
}  // namespace bertlite::io
