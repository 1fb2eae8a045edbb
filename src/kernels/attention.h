// kernels/attention.h - multi-head self-attention over packed sequences: no padding, no mask.
//
// Shapes (this file): T tokens of one sequence, NH heads, HD dims per head, H = NH * HD, B
// sequences in a packed batch. Layout: a row holds all heads side by side, head h in columns
// [h * HD, (h + 1) * HD). A fused QKV projection (one Linear with N = 3H) produces rows
// [q | k | v], each block H wide, which attention_forward reads directly.
//
// For each sequence and head: out = softmax(q k^T * scale) v, softmax over the sequence's own
// keys, with the row maximum subtracted before exp. Every token attends only to tokens of its own
// sequence, so running a packed batch equals running each sequence alone (and equals masked
// attention over a padded batch, which tests/kernels/attention_test.cpp checks).
#pragma once

#include <cstdint>

namespace bertlite::kernels {

// One sequence; q, k, v read from the fused QKV rows.
void attention_forward(float* out,        // [T, H]
                       const float* qkv,  // [T, 3H]: q | k | v
                       int64_t T, int64_t NH, int64_t HD, float scale);

// B sequences packed one after another; sequence b is rows [seq_starts[b], seq_starts[b + 1]).
// Threads share out the (sequence, head) pairs, which keeps both cores busy on short sequences.
void attention_forward_packed(float* out,                 // [total, H]
                              const float* qkv,           // [total, 3H]: q | k | v
                              const int64_t* seq_starts,  // [B + 1], non-decreasing
                              int64_t B, int64_t NH, int64_t HD, float scale);

// The same, but only the first query row of each sequence (its [CLS] token): out row b is what
// attention_forward_packed writes to row seq_starts[b]; keys and values are all of the
// sequence's tokens. What a last layer needs when only [CLS] features are kept. An empty
// sequence leaves its row untouched.
void attention_forward_packed_first(float* out,                 // [B, H]
                                    const float* qkv,           // [total, 3H]: q | k | v
                                    const int64_t* seq_starts,  // [B + 1], non-decreasing
                                    int64_t B, int64_t NH, int64_t HD, float scale);

// One sequence with q, k, v and out in separate buffers, each row `ld*` floats apart
// (ld* >= H), for callers whose projections are separate Linears.
void attention_forward_strided(float* out, int64_t ldo,      // [T, ldo]
                               const float* q, int64_t ldq,  // [T, ldq]
                               const float* k, int64_t ldk,  // [T, ldk]
                               const float* v, int64_t ldv,  // [T, ldv]
                               int64_t T, int64_t NH, int64_t HD, float scale);

// The probabilities softmax(q k^T * scale) of one sequence, every head: out[h, i, j] is how
// token i's query in head h weighs key j. Plain loops with sums in double: for inspecting one
// sentence, never on the fast path, which does not materialize them.
void attention_probabilities(float* out,        // [NH, T, T]
                             const float* qkv,  // [T, 3H]: q | k | v
                             int64_t T, int64_t NH, int64_t HD, float scale);

}  // namespace bertlite::kernels
