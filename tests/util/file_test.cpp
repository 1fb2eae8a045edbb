#include "util/file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

#include "bertlite/error.h"

namespace bertlite::util {
namespace {

namespace fs = std::filesystem;

TEST(File, AtomicWriteReplacesWholeOrNothing) {
  const fs::path path = fs::temp_directory_path() / "bertlite_file_test.txt";
  write_file_atomic(path, "first");
  EXPECT_EQ(read_file(path), "first");
  // A writer that fails half-way leaves the old contents and no temporary file behind.
  EXPECT_THROW(write_file_atomic(path,
                                 [](std::ostream& out) {
                                   out << "partial";
                                   throw std::runtime_error("interrupted");
                                 }),
               std::runtime_error);
  EXPECT_EQ(read_file(path), "first");
  for (const auto& entry : fs::directory_iterator(path.parent_path())) {
    EXPECT_EQ(entry.path().string().find("bertlite_file_test.txt.tmp"), std::string::npos);
  }
  fs::remove(path);
}

TEST(File, ErrorsNameThePath) {
  try {
    read_file("/nonexistent/dir/file.txt");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/file.txt"), std::string::npos);
  }
  EXPECT_THROW(write_file_atomic("/nonexistent/dir/out.txt", "x"), IoError);
}

}  // namespace
}  // namespace bertlite::util
