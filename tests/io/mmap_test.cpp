// util::MappedFile: contents, page alignment, empty files, errors naming the path, moves.
#include "util/mmap.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <utility>

#include "bertlite/error.h"
#include "io_test_helpers.h"

namespace bertlite {
namespace {

using test::TempDir;
using test::throws_with;

TEST(MappedFile, MapsTheWholeFilePageAligned) {
  TempDir dir;
  const std::string contents = "hello, mapped world\n";
  test::write_bytes(dir / "a.bin", contents);
  const util::MappedFile file(dir / "a.bin");
  ASSERT_EQ(file.size(), contents.size());
  EXPECT_EQ(std::memcmp(file.data(), contents.data(), contents.size()), 0);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(file.data()) % 4096, 0u);
  EXPECT_EQ(file.path(), dir / "a.bin");
  EXPECT_EQ(test::mapped_file_at(file.data()), (dir / "a.bin").string());
}

TEST(MappedFile, EmptyFileGivesAnEmptySpan) {
  TempDir dir;
  test::write_bytes(dir / "empty", "");
  const util::MappedFile file(dir / "empty");
  EXPECT_EQ(file.size(), 0u);
  EXPECT_TRUE(file.bytes().empty());
}

TEST(MappedFile, MissingFileIsAnIoErrorNamingIt) {
  TempDir dir;
  EXPECT_TRUE(throws_with<IoError>([&] { util::MappedFile file(dir / "missing.safetensors"); },
                                   "missing.safetensors: cannot open"));
}

TEST(MappedFile, FolderIsAnIoError) {
  TempDir dir;
  EXPECT_TRUE(
      throws_with<IoError>([&] { util::MappedFile file(dir.path()); }, "not a regular file"));
}

TEST(MappedFile, MovingTransfersTheMapping) {
  TempDir dir;
  test::write_bytes(dir / "a.bin", "abcdef");
  util::MappedFile first(dir / "a.bin");
  const std::byte* data = first.data();
  util::MappedFile second(std::move(first));
  EXPECT_EQ(first.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(first.data(), nullptr);
  EXPECT_EQ(second.data(), data);
  EXPECT_EQ(static_cast<char>(second.bytes()[5]), 'f');

  test::write_bytes(dir / "b.bin", "xyz");
  util::MappedFile third(dir / "b.bin");
  third = std::move(second);
  EXPECT_EQ(third.size(), 6u);
  EXPECT_EQ(static_cast<char>(third.bytes()[0]), 'a');
}

}  // namespace
}  // namespace bertlite
