// io/npy.h - writing and reading NumPy .npy files (float32, C order, 2-D) for features.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace bertlite::io {

// Writes a float32 [rows, cols] matrix as .npy (format 1.0), atomically.
void write_npy(const std::filesystem::path& path, std::span<const float> data, std::int64_t rows,
               std::int64_t cols);

struct NpyMatrix {
  std::vector<float> data;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
};

// Reads a little-endian float32 or float64 C-order 1-D/2-D .npy (float64 is narrowed).
// Throws ParseError naming the file for anything else.
NpyMatrix read_npy(const std::filesystem::path& path);

}  // namespace bertlite::io
