#include "util/file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
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

// A writer killed by SIGKILL leaves PATH.tmp.PID behind; the next write of PATH removes it once
// its process is gone and it is over a minute old, and leaves every other file alone.
TEST(File, AtomicWriteRemovesTempFilesOfKilledWriters) {
  const fs::path folder =
      fs::temp_directory_path() / ("bertlite_file_test_" + std::to_string(::getpid()));
  fs::remove_all(folder);
  fs::create_directories(folder);
  const fs::path target = folder / "out.npy";
  const auto make = [&](const std::string& name, std::chrono::minutes age) {
    write_file_atomic(folder / name, "x");
    fs::last_write_time(folder / name, fs::file_time_type::clock::now() - age);
    return folder / name;
  };
  // 99999999 is above Linux's largest pid: no such process.
  const fs::path abandoned = make("out.npy.tmp.99999999", std::chrono::minutes(5));
  const fs::path fresh = make("out.npy.tmp.99999998", std::chrono::minutes(0));
  const fs::path live = make("out.npy.tmp.1", std::chrono::minutes(5));  // init is alive
  const fs::path other_target = make("other.npy.tmp.99999999", std::chrono::minutes(5));
  const fs::path not_a_pid = make("out.npy.tmp.x1", std::chrono::minutes(5));
  write_file_atomic(target, "result");
  EXPECT_EQ(read_file(target), "result");
  EXPECT_FALSE(fs::exists(abandoned));
  for (const fs::path& kept : {fresh, live, other_target, not_a_pid}) {
    EXPECT_TRUE(fs::exists(kept)) << kept;
  }
  fs::remove_all(folder);
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

TEST(File, ContainedRelativePaths) {
  for (const char* inside : {"1_Pooling", "a/b/config.json", "x..y", ".hidden/file"}) {
    EXPECT_TRUE(is_contained_relative_path(inside)) << inside;
  }
  for (const char* outside :
       {"", "/etc", "../x", "a/../../x", "a/..", "./a", "a//b", "a/", "a\\..\\b", ".."}) {
    EXPECT_FALSE(is_contained_relative_path(outside)) << outside;
  }
  EXPECT_FALSE(is_contained_relative_path(std::string_view("a\0b", 3)));
}

}  // namespace
}  // namespace bertlite::util
