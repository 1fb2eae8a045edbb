// tests/test_support.h - helpers every test layer uses: exception assertions, temporary
// folders, and "the same vector whatever its batch".
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

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

// The tolerance for "a row's result does not depend on its batch-mates". oneDNN 2.x's AVX2
// sgemm (gemm:jit) blocks and splits K by the GEMM's row count, so the same row rounds
// differently in batches of different sizes: measured up to 1e-7 per GEMM on a Zen 1, bit for
// bit on AVX-512 (brgemm). A real batch bug (rows or masks mixed across sequences) is far larger.
inline constexpr float kBatchRounding = 2e-6f;

// Succeeds when a and b have the same size and differ by at most `tolerance` everywhere.
inline ::testing::AssertionResult same_vector(const std::vector<float>& a,
                                              const std::vector<float>& b,
                                              float tolerance = kBatchRounding) {
  if (a.size() != b.size()) {
    return ::testing::AssertionFailure() << "sizes " << a.size() << " and " << b.size();
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(std::fabs(a[i] - b[i]) <= tolerance)) {
      return ::testing::AssertionFailure() << "element " << i << ": " << a[i] << " vs " << b[i]
                                           << " (tolerance " << tolerance << ")";
    }
  }
  return ::testing::AssertionSuccess();
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
