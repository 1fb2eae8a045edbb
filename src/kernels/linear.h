// kernels/linear.h - a fully connected layer on oneDNN's matmul: y = act(x W^T + b) (+ y).
//
// Shapes (this file): M rows of input (tokens), K input features, N output features.
// The weight arrives as Hugging Face's nn.Linear stores it, W[N, K], and is copied at model load
// into whatever layout oneDNN's matmul runs fastest on (prepacked once). After that forward()
// takes any M, so a packed batch of any size runs without re-planning. The optional epilogue
// (GELU, tanh, residual add) is fused into the GEMM as oneDNN post-ops: no second pass over y.
//
// All oneDNN calls of bertlite live in linear.cpp, which builds against oneDNN 2.x (Debian 12)
// and 3.x (Debian 13). With kernels::reference_mode() on, forward() runs linear_reference
// instead. Linear knows nothing of BERT.
//
// Example:
//   Linear ffn_in(w.data(), b.data(), /*N=*/3072, /*K=*/768, {Activation::kGeluErf});
//   ffn_in.forward(hidden.data(), x.data(), total_tokens);   // hidden[M, 3072]
#pragma once

#include <cstdint>
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
         int64_t N, int64_t K, LinearEpilogue epilogue = {},
         LinearPlan plan = LinearPlan::kDefault);
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

  // The weight back in its original [N, K] layout (unpacked from oneDNN's layout if needed).
  std::vector<float> weight() const;
  // The bias [N]; empty when constructed without one.
  const std::vector<float>& bias() const;

  // oneDNN's name for the implementation it picked (e.g. "brg:avx512_core", "gemm:jit"), for
  // benchmarks and bug reports.
  std::string implementation() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bertlite::kernels
