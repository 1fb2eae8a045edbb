// kernels/rows.h - small row-wise helpers: pooling, L2 normalisation, bias, embedding rows.
//
// Shapes (this file): M rows, C channels, T tokens of one sequence, V rows of an embedding table.
#pragma once

#include <cstdint>

namespace bertlite::kernels {

// out[m] = in[m] / max(||in[m]||_2, eps): torch.nn.functional.normalize(p=2, dim=-1), whose
// default eps is 1e-12. out may be in.
void l2_normalize_rows(float* out,       // [M, C]
                       const float* in,  // [M, C]
                       int64_t M, int64_t C, float eps = 1e-12f);

// out[C] = the mean of the T rows of in (a sequence's token vectors), T >= 1. Sums in double so
// the result does not depend on T's size or the order of rows.
void mean_pool(float* out,       // [C]
               const float* in,  // [T, C]
               int64_t T, int64_t C);

// inout[m] += bias, for every row m.
void add_bias(float* inout,       // [M, C]
              const float* bias,  // [C]
              int64_t M, int64_t C);

// out[t] = table[ids[t]]. Throws InvalidArgument naming t if an id is outside [0, V).
void embedding_lookup(float* out,          // [T, C]
                      const float* table,  // [V, C]
                      const int32_t* ids,  // [T]
                      int64_t T, int64_t C, int64_t V);

// out[t] += table[ids[t]] (position and token-type embeddings on top of the word embedding).
// Throws InvalidArgument naming t if an id is outside [0, V).
void embedding_add(float* out,          // [T, C]
                   const float* table,  // [V, C]
                   const int32_t* ids,  // [T]
                   int64_t T, int64_t C, int64_t V);

}  // namespace bertlite::kernels
