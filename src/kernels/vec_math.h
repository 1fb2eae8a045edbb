// kernels/vec_math.h - branch-free float exp, tanh, erf and GELU that compilers auto-vectorize.
//
// Internal to the kernels layer. std::exp and friends are scalar library calls that stop a loop
// from vectorizing (without -ffast-math), and softmax and GELU call them once per element. These
// versions use only +, *, /, comparisons, selects and float<->int bit casts, so a loop over them
// vectorizes at whatever width the enclosing function is compiled for (see KERNEL_CLONES in
// kernel_clones.h). Accuracies (measured in tests/kernels/activations_test.cpp against the double
// std:: functions): exp within 1e-7 relative, tanh within 1e-7 absolute, erf within 2e-7
// absolute (for |x| >= 1 the same approximation oneDNN's fused gelu_erf post-op uses).
#pragma once

#include <bit>
#include <cstdint>

namespace bertlite::kernels::vec {

// e^x. Inputs are clamped to [-87, 88.3], so the result is always a normal finite float:
// e^-87 ~ 1.6e-38 stands in for 0 and e^88.3 ~ 2.2e38 for infinity (softmax and GELU never need
// either, and staying normal avoids slow denormal arithmetic).
inline float exp(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.3f ? 88.3f : x;
  // x = n*ln2 + r with |r| <= ln2/2 and n in [-126, 127]. Adding and subtracting 1.5*2^23
  // rounds to the nearest integer without a rounding instruction (SSE2 has none); the compiler
  // may not fold it because we do not build with -ffast-math.
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  // ln2 split in two (Cody-Waite) so n*ln2_hi is exact.
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  // Cephes expf minimax polynomial for e^r on [-ln2/2, ln2/2].
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n from its exponent bits.
  const int32_t biased = static_cast<int32_t>(n) + 127;
  return p * std::bit_cast<float>(static_cast<int32_t>(biased << 23));
}

// tanh(x). Small |x| uses the Cephes tanhf odd polynomial (1 - 2/(e^2x + 1) would cancel there);
// larger |x| the exponential form. Both are computed and one selected, which keeps it branch-free.
inline float tanh(float x) {
  const float a = x < 0.0f ? -x : x;
  const float z = x * x;
  float small = -5.70498872745e-3f;
  small = small * z + 2.06390887954e-2f;
  small = small * z - 5.37397155531e-2f;
  small = small * z + 1.33314422036e-1f;
  small = small * z - 3.33332819422e-1f;
  small = small * z * x + x;
  // e^(2a) saturates at e^88.3 for a > 44, giving 1 - tiny = 1.
  const float big_abs = 1.0f - 2.0f / (vec::exp(2.0f * a) + 1.0f);
  const float big = x < 0.0f ? -big_abs : big_abs;
  return a < 0.625f ? small : big;
}

// erf(x). For |x| >= 1, Abramowitz and Stegun 7.1.26 (absolute error 1.5e-7 in exact
// arithmetic; the approximation oneDNN's fused gelu_erf uses). Below 1 its 1 - (~1) form loses
// digits to cancellation in float (5e-7 measured near x = 0.04), so there the Taylor series
// 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)), ten terms, takes over. Both are computed and
// one selected: branch-free. Measured worst absolute error 1.9e-7.
inline float erf(float x) {
  const float a = x < 0.0f ? -x : x;
  const float z = x * x;
  float series = -1.6365844691234924e-07f;
  series = series * z + 1.6462114365889248e-06f;
  series = series * z - 1.4925650358406252e-05f;
  series = series * z + 1.2055332981789665e-04f;
  series = series * z - 8.5483270234508530e-04f;
  series = series * z + 5.2239776254421880e-03f;
  series = series * z - 2.6866170645131252e-02f;
  series = series * z + 1.1283791670955128e-01f;
  series = series * z - 3.7612638903183754e-01f;
  series = series * z + 1.1283791670955126f;
  series *= x;
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float tail_abs = 1.0f - p * t * vec::exp(-z);
  const float tail = x < 0.0f ? -tail_abs : tail_abs;
  return a < 1.0f ? series : tail;
}

// GELU, exact form: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)). BERT, DistilBERT and MiniLM
// configs say "gelu", which Hugging Face maps to this form.
inline float gelu_erf(float x) {
  return 0.5f * x * (1.0f + vec::erf(x * 0.70710678118654752f));
}

// GELU, tanh form ("gelu_new", "gelu_pytorch_tanh"): 0.5 x (1 + tanh(u)) with
// u = sqrt(2/pi) (x + 0.044715 x^3). Written as x / (1 + e^(-2u)), which is the same number
// but has no cancellation for negative x.
inline float gelu_tanh(float x) {
  const float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
  return x / (1.0f + vec::exp(-2.0f * u));
}

}  // namespace bertlite::kernels::vec
