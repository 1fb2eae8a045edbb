// kernels/linear.h - a fully connected layer on oneDNN's matmul: y = act(x W^T + b) (+ y).
//
// Shapes (this file): M rows of input (tokens), K input features, N output features.
// The weight arrives as Hugging Face's nn.Linear stores it, W[N, K], and is copied at model load
// into whatever layout oneDNN's matmul runs fastest on (prepacked once). After that forward()
// takes any M, so a packed batch of any size runs without re-planning. The optional epilogue
// (GELU, tanh, residual add) is fused into the GEMM as oneDNN post-ops: no second pass over y.
//
// oneDNN's matmul calls of bertlite live in linear.cpp (training's sgemm in gemm.cpp), which
// builds against oneDNN 2.x (Debian 12) and 3.x (Debian 13). With kernels::reference_mode() on,
// forward() runs linear_reference instead. Linear knows nothing of BERT.
//
// Example:
//   Linear ffn_in(w.data(), b.data(), /*N=*/3072, /*K=*/768, {Activation::kGeluErf});
//   ffn_in.forward(hidden.data(), x.data(), total_tokens);   // hidden[M, 3072]
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "kernels/activations.h"

namespace bertlite::kernels {

// What happens after x W^T + b, fused into the GEMM. In order: activation, then, if accumulate,
// y_new = that + y_old (a residual connection whose input the caller left in y).
struct LinearEpilogue {
  Activation activation = Activation::kNone;
  bool accumulate = false;
};

// The number format of the GEMM's inputs; accumulation is always 32-bit (float or int).
//   kF32   float weights and activations.
//   kBF16  weights stored as bfloat16; activations rounded to bfloat16 as they enter the GEMM;
//          float accumulation, bias and epilogue. Needs a bfloat16 GEMM (AVX512_BF16 or AMX);
//          on other CPUs a kBF16 Linear runs fp32 GEMMs on its bf16-rounded weights, with
//          activations left in float (rounding them around a float GEMM was only slower), and
//          precision_notice() says so.
//   kInt8  weights quantized symmetrically per output channel (scale = max |W[n, :]| / 127);
//          activations quantized per row (per token) to uint8 over the row's [min, max] as they
//          enter the GEMM;
//          int32 accumulation, then y = acc * sx[m] * sw[n] + b and the activation in float.
//          With VNNI or AMX the GEMM is oneDNN's. Without (AVX2, plain AVX-512), oneDNN's would
//          saturate, so bertlite's own exact AVX2 kernel runs instead (int8_gemm.h: the same
//          integer sums, the weights in a quarter of fp32's memory). Only a CPU without AVX2
//          multiplies the quantized values in float ("emulated": the same features, at fp32
//          speed).
enum class Precision { kF32, kBF16, kInt8 };

// Symmetric per-row int8 quantization, as kInt8 does to weights at load: scales[n] =
// max |weight[n, :]| / 127 (1 for an all-zero row), q = round(weight / scale).
void quantize_weight_rows(std::int8_t* q,       // [N, K]
                          float* scales,        // [N]
                          const float* weight,  // [N, K]
                          int64_t N, int64_t K);

// "fp32", "bf16", "int8".
const char* precision_name(Precision precision);
// What `precision` turns into on this CPU, as one line for a front end to show, or "" when it
// runs as its name says: bf16 without a bfloat16 GEMM multiplies its rounded weights in fp32;
// int8 on a CPU with neither VNNI nor AVX2 multiplies its quantized values in float (the same
// features, at fp32's speed).
std::string precision_notice(Precision precision);
// Parses those names; throws InvalidArgument listing them.
Precision parse_precision(const std::string& name);

// oneDNN writes the machine code of its float GEMM (gemm:jit) on first use, about 20 ms, which
// would otherwise land on the first forward pass. This starts a small float GEMM on a thread of
// its own so the code gets written while the caller does other work (Encoder::load calls it
// before reading weights). The future is ready when that GEMM has run; any failure is ignored
// here, since the real GEMMs report their own.
std::future<void> prepare_float_gemm_code();

// How oneDNN primitives are planned for the varying row count M. kRuntimeM plans one primitive
// with M left open (DNNL_RUNTIME_DIM_VAL); kPerM plans one per distinct M and caches it.
// bench/kernels/gemm_limit.cpp measures both; kDefault is the faster one on the machines measured.
enum class LinearPlan { kDefault, kRuntimeM, kPerM };

class Linear {
 public:
  // weight[N, K] (row n = output feature n, as nn.Linear stores it); bias[N], or null for none.
  // Both are copied, so the caller may free them. Throws InvalidArgument for N or K < 1 or a
  // null weight, and bertlite::Error when oneDNN cannot plan the matmul.
  Linear(const float* weight,  // [N, K]
         const float* bias,    // [N] or null
         int64_t N, int64_t K, LinearEpilogue epilogue = {}, LinearPlan plan = LinearPlan::kDefault,
         Precision precision = Precision::kF32);
  // An int8 Linear from weights already quantized (a `bertlite quantize` folder): weight[N, K]
  // int8 in [-127, 127] with real value weight * scales[n]. Nothing is re-quantized.
  Linear(const std::int8_t* weight,  // [N, K]
         const float* scales,        // [N]
         const float* bias,          // [N] or null
         int64_t N, int64_t K, LinearEpilogue epilogue = {});
  ~Linear();
  Linear(Linear&&) noexcept;
  Linear& operator=(Linear&&) noexcept;
  Linear(const Linear&) = delete;
  Linear& operator=(const Linear&) = delete;

  // y[M, N] = act(x[M, K] W^T + b) (+ y[M, N] if epilogue.accumulate). y must not overlap x.
  // Safe to call from several threads at once. M = 0 does nothing.
  void forward(float* y,        // [M, N]
               const float* x,  // [M, K]
               int64_t M) const;

  int64_t in_features() const;   // K
  int64_t out_features() const;  // N
  const LinearEpilogue& epilogue() const;

  Precision precision() const;
  // The weight back in its original [N, K] layout (unpacked from oneDNN's layout if needed;
  // for bf16 and int8, the values the GEMM actually uses: rounded or dequantized).
  std::vector<float> weight() const;
  // The bias [N]; empty when constructed without one.
  const std::vector<float>& bias() const;

  // oneDNN's name for the implementation it picked (e.g. "brg:avx512_core", "gemm:jit"), for
  // benchmarks and bug reports; "+bf16-as-fp32" when this CPU has no bfloat16 GEMM;
  // "bertlite:avx2-int8-exact" for int8 on bertlite's own kernel; "+int8-emulated" when int8
  // is multiplied in float.
  std::string implementation() const;

 private:
  struct QuantizedWeight {
    const std::int8_t* weight = nullptr;
    const float* scales = nullptr;
  };
  Linear(const float* weight, const float* bias, int64_t N, int64_t K, LinearEpilogue epilogue,
         LinearPlan plan, Precision precision, QuantizedWeight quantized);

  // kInt8 through bertlite's own AVX2 kernel (CPUs without VNNI).
  void forward_own_int8(float* y, const float* x, int64_t M) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bertlite::kernels
