// kernels/int8_gemm.cpp - the exact AVX2 u8 x s8 GEMM (see int8_gemm.h for the arithmetic).
//
// Blocking: a tile is 4 rows x 16 output features (one weight panel), 8 int32 accumulators in
// registers; its inner loop takes 4 inputs per step: two 32-byte weight loads, two 4-byte
// broadcasts per row, and per (row, half-panel) vpsignb + vpmaddubsw + vpmaddwd + vpaddd. The
// threads share out blocks of 64 rows x 4 panels, so a block's weights (4 x K x 16 bytes) stay in
// L1 or L2 while its rows pass over them. The build targets plain x86-64, so the AVX2 functions
// carry their own target attribute and Linear only calls them where int8_gemm_supported().
#include "kernels/int8_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "bertlite/error.h"
#include "kernels/kernel_clones.h"
#include "kernels/parallel.h"

namespace bertlite::kernels {
namespace {

#define INT8_GEMM_AVX2 __attribute__((target("avx2,fma")))

constexpr int64_t kPanel = Int8PackedWeights::kPanel;
constexpr int64_t kGroup = Int8PackedWeights::kGroup;
constexpr int kTileRows = 4;
constexpr int64_t kBlockRows = 64;   // rows per thread task (a multiple of kTileRows)
constexpr int64_t kBlockPanels = 4;  // panels per thread task

INT8_GEMM_AVX2 inline __m256i broadcast_group(const void* p) {
  std::int32_t group;
  std::memcpy(&group, p, sizeof group);
  return _mm256_set1_epi32(group);
}

// Where a tile's sums go: as float outputs (int8_gemm) or as exact sums (int8_gemm_sums).
struct TileOutput {
  int64_t m0 = 0, n0 = 0;                  // the tile's first row and output feature
  int rows = 0;                            // valid rows of the tile (<= 4)
  int64_t cols = 0;                        // valid features of the tile (<= 16)
  const std::int32_t* row_sums = nullptr;  // [N] sum_k W[n, k]
  // int8_gemm: y[m, n] = row_scale[m] weight_scale[n] (S - row_zero[m] row_sums[n]) + bias[n]
  float* y = nullptr;
  int64_t N = 0;
  const Int8Dequantize* dequantize = nullptr;
  // int8_gemm_sums: sums[m, n] = S
  std::int64_t* sums = nullptr;
};

// S - row_zero * row_sums for one row of a tile, from its centred sums: the centring took
// 128 row_sums off, so add (128 - row_zero) row_sums, exactly in int32 (zero is a whole code and
// K <= kInt8GemmMaxK keeps it in range).
INT8_GEMM_AVX2 inline __m256i recentre(__m256i centred_sums, std::int32_t offset,
                                       const std::int32_t* row_sums) {
  const __m256i sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row_sums));
  return _mm256_add_epi32(centred_sums, _mm256_mullo_epi32(_mm256_set1_epi32(offset), sums));
}

INT8_GEMM_AVX2 inline void store_row(const TileOutput& out, int r, __m256i low, __m256i high) {
  const int64_t m = out.m0 + r;
  if (out.sums != nullptr) {  // exact sums, in the test path: no hurry
    alignas(32) std::int32_t tile[kPanel];
    _mm256_store_si256(reinterpret_cast<__m256i*>(tile), low);
    _mm256_store_si256(reinterpret_cast<__m256i*>(tile + 8), high);
    for (int64_t c = 0; c < out.cols; ++c) {
      out.sums[m * out.N + out.n0 + c] = tile[c] + std::int64_t{128} * out.row_sums[out.n0 + c];
    }
    return;
  }
  const Int8Dequantize& dq = *out.dequantize;
  const auto offset = static_cast<std::int32_t>(128.0f - dq.row_zero[m]);
  float* y = out.y + m * out.N + out.n0;
  const float* weight_scale = dq.weight_scale + out.n0;
  const float* bias = dq.bias != nullptr ? dq.bias + out.n0 : nullptr;
  if (out.cols == kPanel) {
    const __m256 row_scale = _mm256_set1_ps(dq.row_scale[m]);
    __m256 y_low = _mm256_mul_ps(_mm256_mul_ps(row_scale, _mm256_loadu_ps(weight_scale)),
                                 _mm256_cvtepi32_ps(recentre(low, offset, out.row_sums + out.n0)));
    __m256 y_high =
        _mm256_mul_ps(_mm256_mul_ps(row_scale, _mm256_loadu_ps(weight_scale + 8)),
                      _mm256_cvtepi32_ps(recentre(high, offset, out.row_sums + out.n0 + 8)));
    if (bias != nullptr) {
      y_low = _mm256_add_ps(y_low, _mm256_loadu_ps(bias));
      y_high = _mm256_add_ps(y_high, _mm256_loadu_ps(bias + 8));
    }
    _mm256_storeu_ps(y, y_low);
    _mm256_storeu_ps(y + 8, y_high);
    return;
  }
  // The last panel, cut short: the same arithmetic a column at a time.
  alignas(32) std::int32_t tile[kPanel];
  _mm256_store_si256(reinterpret_cast<__m256i*>(tile), low);
  _mm256_store_si256(reinterpret_cast<__m256i*>(tile + 8), high);
  for (int64_t c = 0; c < out.cols; ++c) {
    const std::int32_t sum = tile[c] + offset * out.row_sums[out.n0 + c];
    y[c] = dq.row_scale[m] * weight_scale[c] * static_cast<float>(sum);
    if (bias != nullptr) y[c] += bias[c];
  }
}

// One row's step: |a| x (w with a's sign) in pairs of at most 128 x 127 each (no int16
// saturation), widened to int32 and added to the row's two accumulators.
#define INT8_GEMM_ROW_STEP(r)                                                                      \
  {                                                                                                \
    const __m256i magnitude = broadcast_group(magnitudes + (r)*lda + g * kGroup);                  \
    const __m256i sign = broadcast_group(centred + (r)*lda + g * kGroup);                          \
    low##r = _mm256_add_epi32(                                                                     \
        low##r,                                                                                    \
        _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(w_low, sign)), ones));  \
    high##r = _mm256_add_epi32(                                                                    \
        high##r,                                                                                   \
        _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(w_high, sign)), ones)); \
  }

// One 4-row x 16-feature tile: sum_k centred[r, k] W[c, k] over a panel, in registers, then
// written out as `out` says. The accumulators are named variables, not arrays: GCC stored an
// array's registers to the stack on every step.
INT8_GEMM_AVX2 void tile(const TileOutput& out, const std::uint8_t* magnitudes,
                         const std::int8_t* centred, int64_t lda, const std::int8_t* panel,
                         int64_t groups) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i low0 = _mm256_setzero_si256(), low1 = low0, low2 = low0, low3 = low0;
  __m256i high0 = low0, high1 = low0, high2 = low0, high3 = low0;
  for (int64_t g = 0; g < groups; ++g) {
    const __m256i w_low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel));
    const __m256i w_high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + 32));
    panel += kPanel * kGroup;
    INT8_GEMM_ROW_STEP(0)
    INT8_GEMM_ROW_STEP(1)
    INT8_GEMM_ROW_STEP(2)
    INT8_GEMM_ROW_STEP(3)
  }
  store_row(out, 0, low0, high0);
  if (out.rows > 1) store_row(out, 1, low1, high1);
  if (out.rows > 2) store_row(out, 2, low2, high2);
  if (out.rows > 3) store_row(out, 3, low3, high3);
}
#undef INT8_GEMM_ROW_STEP

// Runs every tile of the product on the compute threads. A task is a block of 64 rows x 4
// panels; after each 4-row stripe of a block, the activation runs over its 64 features while
// they are still in cache.
void run_tiles(const Int8Rows& rows, int64_t M, const Int8PackedWeights& weights, TileOutput out,
               Activation activation) {
  const int64_t lda = weights.padded_K();
  const int64_t row_blocks = (M + kBlockRows - 1) / kBlockRows;
  const int64_t panel_blocks = (weights.panels() + kBlockPanels - 1) / kBlockPanels;
  out.row_sums = weights.row_sums().data();
  out.N = weights.N();
  detail::parallel_chunks(row_blocks * panel_blocks, 1, [&](int64_t begin, int64_t end) {
    TileOutput tile_out = out;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t m_end = std::min(M, (task / panel_blocks + 1) * kBlockRows);
      const int64_t p_begin = (task % panel_blocks) * kBlockPanels;
      const int64_t p_end = std::min(weights.panels(), p_begin + kBlockPanels);
      for (int64_t m0 = (task / panel_blocks) * kBlockRows; m0 < m_end; m0 += kTileRows) {
        tile_out.m0 = m0;
        tile_out.rows = static_cast<int>(std::min<int64_t>(kTileRows, m_end - m0));
        for (int64_t p = p_begin; p < p_end; ++p) {
          tile_out.n0 = p * kPanel;
          tile_out.cols = std::min(kPanel, weights.N() - tile_out.n0);
          tile(tile_out, rows.magnitudes + m0 * lda, rows.centred + m0 * lda, lda, weights.panel(p),
               weights.groups());
        }
        if (activation == Activation::kNone || out.y == nullptr) continue;
        const int64_t n_begin = p_begin * kPanel, n_end = std::min(weights.N(), p_end * kPanel);
        for (int r = 0; r < tile_out.rows; ++r) {
          activation_span(out.y + (m0 + r) * out.N + n_begin, n_end - n_begin, activation);
        }
      }
    }
  });
}

}  // namespace

bool int8_gemm_supported() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported;
}

Int8PackedWeights::Int8PackedWeights(const std::int8_t* weight, int64_t N, int64_t K)
    : N_(N), K_(K), groups_((K + kGroup - 1) / kGroup), panels_((N + kPanel - 1) / kPanel) {
  const std::string shape =
      "int8 GEMM weights [" + std::to_string(N) + ", " + std::to_string(K) + "]";
  if (N < 1 || K < 1) throw InvalidArgument(shape + ": N and K must be >= 1");
  if (K > kInt8GemmMaxK) {
    throw InvalidArgument(shape + ": K over " + std::to_string(kInt8GemmMaxK) +
                          " could overflow the int32 sums");
  }
  data_.assign(static_cast<size_t>(panels_ * groups_ * kPanel * kGroup), 0);
  row_sums_.assign(static_cast<size_t>(panels_ * kPanel), 0);  // padded: read 8 at a time
  for (int64_t n = 0; n < N; ++n) {
    std::int8_t* feature =
        data_.data() + (n / kPanel) * groups_ * kPanel * kGroup + (n % kPanel) * kGroup;
    for (int64_t k = 0; k < K; ++k) {
      const std::int8_t w = weight[n * K + k];
      if (w == -128) {
        throw InvalidArgument(shape + ": weight -128 at element " + std::to_string(n * K + k) +
                              "; int8 weights lie in [-127, 127]");
      }
      feature[(k / kGroup) * kPanel * kGroup + k % kGroup] = w;
      row_sums_[n] += w;
    }
  }
}

std::vector<std::int8_t> Int8PackedWeights::unpack() const {
  std::vector<std::int8_t> weight(static_cast<size_t>(N_ * K_));
  for (int64_t n = 0; n < N_; ++n) {
    const std::int8_t* feature =
        data_.data() + (n / kPanel) * groups_ * kPanel * kGroup + (n % kPanel) * kGroup;
    for (int64_t k = 0; k < K_; ++k) {
      weight[n * K_ + k] = feature[(k / kGroup) * kPanel * kGroup + k % kGroup];
    }
  }
  return weight;
}

KERNEL_CLONES void centre_codes(const Int8Rows& rows, const std::uint8_t* codes, int64_t count,
                                int64_t K, int64_t padded_K) {
  for (int64_t r = 0; r < count; ++r) {
    const std::uint8_t* in = codes + r * K;
    std::uint8_t* magnitude = rows.magnitudes + r * padded_K;
    std::int8_t* sign = rows.centred + r * padded_K;
    for (int64_t k = 0; k < K; ++k) {
      const int a = int{in[k]} - 128;
      sign[k] = static_cast<std::int8_t>(a);
      magnitude[k] = static_cast<std::uint8_t>(a < 0 ? -a : a);
    }
    for (int64_t k = K; k < padded_K; ++k) sign[k] = 0, magnitude[k] = 0;
  }
}

void int8_gemm(float* y, const Int8Rows& rows, int64_t M, const Int8PackedWeights& weights,
               const Int8Dequantize& dequantize) {
  TileOutput out;
  out.y = y;
  out.dequantize = &dequantize;
  run_tiles(rows, M, weights, out, dequantize.activation);
}

void int8_gemm_sums(std::int64_t* sums, const std::uint8_t* codes, int64_t M,
                    const Int8PackedWeights& weights) {
  const auto size = static_cast<size_t>(int8_gemm_rows(M) * weights.padded_K());
  std::vector<std::uint8_t> magnitudes(size, 0);
  std::vector<std::int8_t> centred(size, 0);
  const Int8Rows rows{magnitudes.data(), centred.data()};
  centre_codes(rows, codes, M, weights.K(), weights.padded_K());
  TileOutput out;
  out.sums = sums;
  run_tiles(rows, M, weights, out, Activation::kNone);
}

}  // namespace bertlite::kernels
