// kernels/activations.cpp - fast GELU and tanh over float spans.
#include "kernels/activations.h"

#include <string>

#include "bertlite/error.h"
#include "kernels/dispatch.h"
#include "kernels/kernel_clones.h"
#include "kernels/parallel.h"
#include "kernels/ref/reference.h"
#include "kernels/vec_math.h"

namespace bertlite::kernels {
namespace {

// Elements per parallel chunk: large enough that thread hand-off costs little next to it.
constexpr int64_t kGrain = 16384;

KERNEL_CLONES void gelu_erf_span(float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] = vec::gelu_erf(x[i]);
}

KERNEL_CLONES void gelu_tanh_span(float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] = vec::gelu_tanh(x[i]);
}

KERNEL_CLONES void tanh_span(float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] = vec::tanh(x[i]);
}

void check_span(const float* inout, int64_t n, const char* kernel) {
  if (n < 0)
    throw InvalidArgument(std::string(kernel) + ": n must be >= 0, got " + std::to_string(n));
  if (n > 0 && inout == nullptr) throw InvalidArgument(std::string(kernel) + ": null buffer");
}

}  // namespace

void gelu_forward(float* inout, int64_t n, GeluKind kind) {
  check_span(inout, n, "gelu_forward");
  if (reference_mode()) return gelu_reference(inout, n, kind);
  auto* span = kind == GeluKind::kErf ? &gelu_erf_span : &gelu_tanh_span;
  detail::parallel_chunks(n, kGrain,
                          [&](int64_t begin, int64_t end) { span(inout + begin, end - begin); });
}

void tanh_forward(float* inout, int64_t n) {
  check_span(inout, n, "tanh_forward");
  if (reference_mode()) return tanh_reference(inout, n);
  detail::parallel_chunks(
      n, kGrain, [&](int64_t begin, int64_t end) { tanh_span(inout + begin, end - begin); });
}

void activation_forward(float* inout, int64_t n, Activation activation) {
  switch (activation) {
    case Activation::kNone:
      return check_span(inout, n, "activation_forward");
    case Activation::kGeluErf:
      return gelu_forward(inout, n, GeluKind::kErf);
    case Activation::kGeluTanh:
      return gelu_forward(inout, n, GeluKind::kTanh);
    case Activation::kTanh:
      return tanh_forward(inout, n);
  }
  throw InvalidArgument("activation_forward: unknown activation " +
                        std::to_string(static_cast<int>(activation)));
}

void activation_span(float* inout, int64_t n, Activation activation) noexcept {
  switch (activation) {
    case Activation::kNone:
      return;
    case Activation::kGeluErf:
      return gelu_erf_span(inout, n);
    case Activation::kGeluTanh:
      return gelu_tanh_span(inout, n);
    case Activation::kTanh:
      return tanh_span(inout, n);
  }
}

}  // namespace bertlite::kernels
