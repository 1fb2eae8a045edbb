// tests/test_support.h - helpers every test layer uses: exception assertions and temporary
// folders.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

namespace bertlite::test {

namespace fs = std::filesystem;

// Succeeds when `f` throws exactly an `E` whose message contains `needle`.
template <typename E, typename F>
::testing::AssertionResult throws_with(F&& f, std::string_view needle) {
  try {
    f();
  } catch (const E& e) {
    if (std::string_view(e.what()).find(needle) != std::string_view::npos) {
      return ::testing::AssertionSuccess() << e.what();
    }
    return ::testing::AssertionFailure()
           << "message \"" << e.what() << "\" lacks \"" << needle << "\"";
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw the wrong type: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

// A fresh folder under the system temp folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = fs::temp_directory_path() /
            ("bertlite_test_" + std::to_string(random()) + "_" + std::to_string(random()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

}  // namespace bertlite::test
