// train/grad_kernels.h - the backward twin of every forward kernel the encoder runs, plus the
// few forward variants training needs (saving what the backward reads), on packed batches.
//
// Shapes (this file): M rows (tokens), C channels, n elements, T tokens in a packed batch, B
// sequences, NH heads, HD dims per head, H = NH * HD, K classes, V rows of an embedding table.
// Packed batches are as in kernels/attention.h: sequence b is rows [starts[b], starts[b + 1]),
// qkv rows hold [q | k | v], each H wide, head h in columns [h * HD, (h + 1) * HD).
//
// Conventions: "d" names a gradient of the loss. Parameter gradients (dgamma, dbeta, dtable,
// dbias) ACCUMULATE (+=), so gradient accumulation over micro-batches needs no extra pass.
// Input gradients (dx, dqkv, dlogits) are OVERWRITTEN unless the comment says otherwise.
// Every fast kernel has a plain twin in train/ref/grad_reference.h (same arguments, straight
// loops, double accumulation); kernels::reference_mode() routes the fast ones to their twins.
#pragma once

#include <cstdint>

#include "kernels/activations.h"

namespace bertlite::train {

// ---- LayerNorm -------------------------------------------------------------------------------

// out = LayerNorm(in + residual) by kernels::layernorm_forward itself, also saving what
// the backward needs: xhat[M, C] = (x - mean) * rstd and rstd[M]. residual may be null. out may
// alias in or residual (not xhat).
void layernorm_forward_train(float* out,             // [M, C]
                             float* xhat,            // [M, C]
                             float* rstd,            // [M]
                             const float* in,        // [M, C]
                             const float* residual,  // [M, C] or null
                             const float* gamma,     // [C]
                             const float* beta,      // [C]
                             int64_t M, int64_t C, float eps);

// Given dy = dL/dout: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * gamma
// (the gradient reaching in, and residual, alike); dgamma += sum_m dy * xhat; dbeta += sum_m dy.
// dx may alias dy.
void layernorm_backward(float* dx,           // [M, C]
                        float* dgamma,       // [C], accumulated
                        float* dbeta,        // [C], accumulated
                        const float* dy,     // [M, C]
                        const float* xhat,   // [M, C]
                        const float* rstd,   // [M]
                        const float* gamma,  // [C]
                        int64_t M, int64_t C);

// ---- Activations (elementwise; dx may alias dy) -----------------------------------------------

// dx = dy * gelu'(h), h the pre-activation input, for either GELU formula (exact derivatives of
// torch's "gelu" and "gelu_new"/"gelu_pytorch_tanh").
void gelu_backward(float* dx, const float* dy, const float* h, int64_t n, kernels::GeluKind kind);

// dx = dy * (1 - y^2), y = tanh(h) the forward's output.
void tanh_backward(float* dx, const float* dy, const float* y, int64_t n);

// dx = dy where h > 0, else 0 (torch's ReLU gradient, 0 at h == 0).
void relu_backward(float* dx, const float* dy, const float* h, int64_t n);

// ---- Dropout ------------------------------------------------------------------------------------

// mask[i] = 1 (keep) with probability 1 - p, else 0, from a counter-based hash of (seed, i):
// the same seed gives the same mask whatever the thread count, so a step can be replayed.
// p in [0, 1). p == 0 keeps everything.
void dropout_mask(uint8_t* mask, int64_t n, float p, uint64_t seed);

// x[i] = mask[i] ? x[i] / (1 - p) : 0, in place. The forward and the backward of dropout alike
// (the backward applies the same mask to the gradient).
void dropout_apply(float* x, const uint8_t* mask, int64_t n, float p);

// ---- Linear helpers ---------------------------------------------------------------------------

// dbias[N] += sum over the M rows of dy[M, N] (a Linear's bias gradient).
void bias_backward(float* dbias, const float* dy, int64_t M, int64_t N);

// ---- Embeddings ---------------------------------------------------------------------------------

// dtable[ids[t], :] += dx[t, :] for every t (word, position or token-type embedding gradient).
// Ids are assumed valid (the forward checked them).
void embedding_backward(float* dtable,       // [V, H], accumulated
                        const int32_t* ids,  // [T]
                        const float* dx,     // [T, H]
                        int64_t T, int64_t H);

// ---- Attention --------------------------------------------------------------------------------

// Number of floats attention_forward_train's `probs` needs: sum over sequences of NH * L^2.
int64_t attention_probs_size(const int64_t* starts, int64_t B, int64_t NH);

// Self-attention over a packed batch, as kernels::attention_forward_packed, saving the softmax
// probabilities for the backward. probs holds, sequence after sequence and within a sequence
// head after head, the L x L matrix P[i, j] = softmax_j(scale * q_i . k_j) (before dropout).
// With prob_mask non-null (attention dropout, same layout and size as probs), the values are
// weighted by P * mask / (1 - p) instead of P.
void attention_forward_train(float* out,             // [T, H]
                             float* probs,           // [attention_probs_size]
                             const float* qkv,       // [T, 3H]
                             const int64_t* starts,  // [B + 1]
                             int64_t B, int64_t NH, int64_t HD, float scale,
                             const uint8_t* prob_mask,  // [attention_probs_size] or null
                             float dropout_p);

// The backward of attention_forward_train: dqkv (overwritten) from dout, the saved probs and
// the forward's qkv (and its prob_mask and p, when dropout was on). With P' = P * mask / (1-p):
//   dV = P'^T dout, dP' = dout V^T, dP = dP' * mask / (1-p), dS = P * (dP - rowsum(dP * P)),
//   dQ = scale * dS K, dK = scale * dS^T Q.
void attention_backward(float* dqkv,            // [T, 3H]
                        const float* dout,      // [T, H]
                        const float* qkv,       // [T, 3H]
                        const float* probs,     // [attention_probs_size]
                        const int64_t* starts,  // [B + 1]
                        int64_t B, int64_t NH, int64_t HD, float scale,
                        const uint8_t* prob_mask,  // or null
                        float dropout_p);

// ---- Pooling ----------------------------------------------------------------------------------

// Mean over each sequence's rows: out[b] = mean of x rows [starts[b], starts[b + 1]).
void mean_pool_forward(float* out, const float* x, const int64_t* starts, int64_t B, int64_t H);
// dx[t] += dpooled[b] / L_b for each row t of sequence b (accumulated into dx).
void mean_pool_backward(float* dx, const float* dpooled, const int64_t* starts, int64_t B,
                        int64_t H);
// dx[starts[b]] += dpooled[b] ([CLS] pooling's backward; accumulated into dx).
void first_row_backward(float* dx, const float* dpooled, const int64_t* starts, int64_t B,
                        int64_t H);

// ---- Loss -------------------------------------------------------------------------------------

// torch.nn.CrossEntropyLoss(weight=class_weights, label_smoothing=s, reduction="mean") over B
// rows of logits: returns the loss and writes dlogits = dLoss/dlogits. With weights w and
// log-probabilities lp: row loss_i = -(1 - s) * w[y_i] * lp[i, y_i] - (s / K) * sum_c w[c] *
// lp[i, c], and the mean divides by sum_i w[y_i] (by B without weights), as torch does.
// Labels must be in [0, K).
double cross_entropy(float* dlogits,         // [B, K]
                     const float* logits,    // [B, K]
                     const int32_t* labels,  // [B]
                     int64_t B, int64_t K,
                     const float* class_weights,  // [K] or null
                     float label_smoothing);

}  // namespace bertlite::train
