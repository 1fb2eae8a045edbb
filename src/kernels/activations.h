// kernels/activations.h - elementwise activations: GELU (both forms) and tanh, in place.
//
// Shapes: n = number of elements. The fast versions use the branch-free approximations in
// vec_math.h (GELU-erf within 1.5e-7 * |x| of the exact formula); the reference twins call the
// double-precision std:: functions.
#pragma once

#include <cstdint>

namespace bertlite::kernels {

// Which GELU formula; Hugging Face "gelu" is kErf, "gelu_new" / "gelu_pytorch_tanh" are kTanh.
enum class GeluKind { kErf, kTanh };

// An activation applied after a Linear layer (see LinearEpilogue) or on its own.
enum class Activation { kNone, kGeluErf, kGeluTanh, kTanh };

// inout[n] = gelu(inout[n]).
void gelu_forward(float* inout,  // [n]
                  int64_t n, GeluKind kind);

// inout[n] = tanh(inout[n]).
void tanh_forward(float* inout,  // [n]
                  int64_t n);

// inout[n] = activation(inout[n]); kNone leaves it unchanged.
void activation_forward(float* inout,  // [n]
                        int64_t n, Activation activation);

// The same on one thread, for a span that a kernel's own parallel loop already owns (int8_gemm's
// output tiles). No checks; never throws.
void activation_span(float* inout,  // [n]
                     int64_t n, Activation activation) noexcept;

}  // namespace bertlite::kernels
