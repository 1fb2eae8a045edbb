// train/ref/grad_reference.h - the slow, obviously-correct twin of every kernel in
// train/grad_kernels.h.
//
// Same argument order and meaning as the fast versions (see grad_kernels.h for shapes and
// conventions). Straight loops, one thread, double accumulation, std:: math in double. They are
// the oracle in tests/train and the path every kernel there takes when kernels::reference_mode()
// is on. Arguments are not re-checked here: the public kernels check them before dispatching.
#pragma once

#include <cstdint>

#include "kernels/activations.h"
#include "util/random.h"

namespace bertlite::train::ref {

// The dropout decision for element i: splitmix64(seed ^ (i * golden ratio)) gives 53 uniform
// bits u in [0, 1); the element is kept when u >= p. Shared by dropout_mask and its twin, so both
// paths draw the same mask for any thread count.
inline bool dropout_keep(uint64_t seed, int64_t i, float p) {
  const uint64_t z = util::splitmix64(seed ^ (static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull));
  const double u = static_cast<double>(z >> 11) * 0x1.0p-53;
  return u >= static_cast<double>(p);
}

void layernorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* xhat,
                        const float* rstd, const float* gamma, int64_t M, int64_t C);

void gelu_backward(float* dx, const float* dy, const float* h, int64_t n, kernels::GeluKind kind);

void tanh_backward(float* dx, const float* dy, const float* y, int64_t n);

void relu_backward(float* dx, const float* dy, const float* h, int64_t n);

void dropout_mask(uint8_t* mask, int64_t n, float p, uint64_t seed);

void dropout_apply(float* x, const uint8_t* mask, int64_t n, float p);

void bias_backward(float* dbias, const float* dy, int64_t M, int64_t N);

void embedding_backward(float* dtable, const int32_t* ids, const float* dx, int64_t T, int64_t H);

int64_t attention_probs_size(const int64_t* starts, int64_t B, int64_t NH);

void attention_forward_train(float* out, float* probs, const float* qkv, const int64_t* starts,
                             int64_t B, int64_t NH, int64_t HD, float scale,
                             const uint8_t* prob_mask, float dropout_p);

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* probs,
                        const int64_t* starts, int64_t B, int64_t NH, int64_t HD, float scale,
                        const uint8_t* prob_mask, float dropout_p);

void mean_pool_forward(float* out, const float* x, const int64_t* starts, int64_t B, int64_t H);
void mean_pool_backward(float* dx, const float* dpooled, const int64_t* starts, int64_t B,
                        int64_t H);
void first_row_backward(float* dx, const float* dpooled, const int64_t* starts, int64_t B,
                        int64_t H);

// Labels are assumed in [0, K) and sum_i w[y_i] > 0 (the public kernel checks both).
double cross_entropy(float* dlogits, const float* logits, const int32_t* labels, int64_t B,
                     int64_t K, const float* class_weights, float label_smoothing);

}  // namespace bertlite::train::ref
