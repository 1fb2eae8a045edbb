// kernels/layernorm.h - LayerNorm over the last dimension, with an optional fused residual add.
//
// Shapes: M rows (tokens), C channels (hidden size).
#pragma once

#include <cstdint>

namespace bertlite::kernels {

// out[m] = (x[m] - mean) / sqrt(var + eps) * gamma + beta, where x = in + residual (residual may
// be null) and var is the biased variance (divide by C), as torch.nn.LayerNorm computes it; eps
// sits inside the square root, also as torch does. mean[M] and rstd[M] = 1 / sqrt(var + eps) are
// written when non-null (a backward pass needs them), and so is xhat = (x - mean) * rstd, the
// rows before gamma and beta (out = xhat * gamma + beta exactly). out may be the same buffer as
// in or residual: each row is read before it is written.
void layernorm_forward(float* out,             // [M, C]
                       float* mean,            // [M] or null
                       float* rstd,            // [M] or null
                       const float* in,        // [M, C]
                       const float* residual,  // [M, C] or null
                       const float* gamma,     // [C]
                       const float* beta,      // [C]
                       int64_t M, int64_t C, float eps,
                       float* xhat = nullptr);  // [M, C] or null

}  // namespace bertlite::kernels
