// fuzz/npy_fuzz.cpp - fuzz target: arbitrary bytes as a NumPy .npy file (the features
// `bertlite embed --output x.npy` writes and `bertlite train` reads).
//
// Input: the whole file - magic, version, header length, the header dict ('descr',
// 'fortran_order', 'shape'), then the data. read_npy takes only a path, so the harness writes
// the input to a scratch file first.
//
// What must hold (a violation traps, see fuzz_checks.h):
//   - read_npy returns or throws a bertlite::Error with a message; no other exception escapes,
//     nothing crashes or trips a sanitizer;
//   - what it returns has rows * cols values, rows and cols non-negative, and no more values
//     than the input has bytes for (float32: 4 bytes each), so a shape of 10^12 is an Error;
//   - a matrix it read writes back with write_npy and reads back identical (bit for bit).
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "bertlite/error.h"
#include "fuzz_checks.h"
#include "io/npy.h"

namespace bertlite::fuzz {
namespace {

void run(const std::uint8_t* data, std::size_t size) {
  const auto path =
      write_scratch_file("input.npy", std::string_view(reinterpret_cast<const char*>(data), size));
  io::NpyMatrix m;
  try {
    m = io::read_npy(path);
  } catch (const Error& error) {
    FUZZ_CHECK(error.what()[0] != '\0');  // an error says what is wrong
    return;
  }
  FUZZ_CHECK(m.rows >= 0 && m.cols >= 0);
  FUZZ_CHECK(m.cols == 0 || static_cast<std::uint64_t>(m.rows) <= size / 4);
  FUZZ_CHECK(m.data.size() == static_cast<std::size_t>(m.rows) * static_cast<std::size_t>(m.cols));
  FUZZ_CHECK(m.data.size() <= size / 4);

  const auto copy = scratch_folder() / "copy.npy";
  io::write_npy(copy, m.data, m.rows, m.cols);
  const io::NpyMatrix again = io::read_npy(copy);
  FUZZ_CHECK(again.rows == m.rows && again.cols == m.cols);
  FUZZ_CHECK(again.data.size() == m.data.size());
  FUZZ_CHECK(m.data.empty() ||
             std::memcmp(again.data.data(), m.data.data(), m.data.size() * sizeof(float)) == 0);
}

}  // namespace
}  // namespace bertlite::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return bertlite::fuzz::run_guarded(bertlite::fuzz::run, data, size);
}
