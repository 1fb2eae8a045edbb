// kernels/int8_gemm.h - an exact u8 x s8 GEMM for x86-64 CPUs with AVX2 but no VNNI.
//
// Without VNNI an int8 dot product on AVX2 goes through vpmaddubsw, which multiplies u8 by s8 and
// adds each pair of products into int16 with saturation: 255 x 127 x 2 > 32,767, so oneDNN's
// GEMM (and MLAS's, unless weights are cut to 7 bits) is wrong for full-range codes. This kernel
// keeps the full 8 bits and never saturates:
//   - an activation code q in [0, 255] is re-centred to a = q - 128 in [-128, 127];
//   - vpmaddubsw gets |a| (u8, at most 128) and the weight with a's sign moved onto it
//     (vpsignb(w, a), |w| <= 127), so a pair sums to at most 2 x 128 x 127 = 32,512;
//   - vpmaddwd against ones widens the pairs to int32, where the sums (and the zero-point term
//     added to them afterwards) fit for K up to kInt8GemmMaxK.
// The sums are therefore exactly sum_k q[m, k] W[n, k], what a VNNI GEMM computes, at four
// integer instructions per 32 multiply-accumulates (fp32 FMA does 8 per instruction).
//
// Shapes: M rows of activation codes, K input features, N output features (weights W[N, K]).
// Used by Linear for kInt8 on such CPUs (linear.cpp); the plain twin is int8_gemm_sums_reference
// in ref/reference.h.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/activations.h"

namespace bertlite::kernels {

// Whether this CPU can run the kernel (AVX2 and FMA).
bool int8_gemm_supported();

// The largest K whose sums cannot overflow int32: the centred sum and the zero-point term are
// each at most K x 128 x 127 in magnitude.
constexpr int64_t kInt8GemmMaxK = (int64_t{1} << 31) / (2 * 128 * 127) - 1;

// Weights W[N, K] (int8 in [-127, 127]) in the kernel's layout: panels of 16 output features,
// each holding K in groups of 4 consecutive inputs per feature (32 bytes = 8 features x 4
// inputs per AVX2 register), zero-padded to whole panels and groups. A quarter of fp32's size.
class Int8PackedWeights {
 public:
  static constexpr int64_t kPanel = 16;  // output features per panel
  static constexpr int64_t kGroup = 4;   // inputs per group

  Int8PackedWeights() = default;
  // Throws InvalidArgument for N or K < 1, K > kInt8GemmMaxK, or a weight of -128.
  Int8PackedWeights(const std::int8_t* weight,  // [N, K]
                    int64_t N, int64_t K);

  int64_t N() const { return N_; }
  int64_t K() const { return K_; }
  int64_t groups() const { return groups_; }  // ceil(K / 4)
  int64_t panels() const { return panels_; }  // ceil(N / 16)
  // Row stride of the activation rows the kernel reads: K padded to a whole group.
  int64_t padded_K() const { return groups_ * kGroup; }
  const std::int8_t* panel(int64_t p) const { return data_.data() + p * groups_ * kGroup * kPanel; }
  // sum_k W[n, k] for each n (zero past N, to whole panels): what the re-centring by 128 takes
  // off the sums.
  const std::vector<std::int32_t>& row_sums() const { return row_sums_; }
  // The weights back as W[N, K].
  std::vector<std::int8_t> unpack() const;

 private:
  int64_t N_ = 0, K_ = 0, groups_ = 0, panels_ = 0;
  std::vector<std::int8_t> data_;
  std::vector<std::int32_t> row_sums_;
};

// The kernel reads rows 4 at a time: its activation buffer holds int8_gemm_rows(M) rows, those
// past M all zero.
constexpr int64_t int8_gemm_rows(int64_t M) {
  return (M + 3) / 4 * 4;
}

// Activation codes in the form the kernel reads, two arrays of rows of padded_K bytes (zero past
// K): the magnitudes |q - 128| and the re-centred codes q - 128. (One interleaved array, a
// group's magnitudes next to its codes, measured slower: its packing loop does not vectorize.)
struct Int8Rows {
  std::uint8_t* magnitudes = nullptr;  // [rows, padded_K]
  std::int8_t* centred = nullptr;      // [rows, padded_K]
};
void centre_codes(const Int8Rows& rows,       // `count` rows from row 0
                  const std::uint8_t* codes,  // [count, K]
                  int64_t count, int64_t K, int64_t padded_K);

// What turns the sums S[m, n] = sum_k q[m, k] W[n, k] into the layer's output:
//   y[m, n] = act(row_scale[m] * weight_scale[n] * (S[m, n] - row_zero[m] * row_sums[n]) + bias[n])
// the product of x ~ row_scale * (q - row_zero) with W ~ weight_scale * Wq.
struct Int8Dequantize {
  const float* row_scale = nullptr;     // [M]
  const float* row_zero = nullptr;      // [M]
  const float* weight_scale = nullptr;  // [N]
  const float* bias = nullptr;          // [N] or null
  Activation activation = Activation::kNone;
};

// y[M, N] as Int8Dequantize says, from centre_codes' rows (int8_gemm_rows(M) of them, those
// past M zero); on the compute threads. The CPU must pass int8_gemm_supported().
void int8_gemm(float* y,              // [M, N]
               const Int8Rows& rows,  // int8_gemm_rows(M) rows
               int64_t M, const Int8PackedWeights& weights, const Int8Dequantize& dequantize);

// The exact sums S[M, N] = codes[M, K] W^T, through the same kernel: for tests and benchmarks.
void int8_gemm_sums(std::int64_t* sums,         // [M, N]
                    const std::uint8_t* codes,  // [M, K]
                    int64_t M, const Int8PackedWeights& weights);

}  // namespace bertlite::kernels
