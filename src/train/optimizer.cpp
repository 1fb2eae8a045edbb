#include "train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/kernel_clones.h"
#include "kernels/parallel.h"

namespace bertlite::train {
namespace {

// Elements per thread task: the update is a few flops per 28 bytes moved, so only large
// tensors (the embeddings, the FFN weights) are worth splitting.
constexpr std::int64_t kGrain = 65536;

struct AdamWScalars {
  float decay, one_minus_beta1, beta2, one_minus_beta2, bc2_sqrt, eps, step_size;
};

// One span of a tensor, in torch's order of operations. The update streams 28 bytes per element
// and is bound by memory bandwidth (cloning it for AVX-512 did not change its share of a
// training profile), which is why large tensors are split over the threads.
KERNEL_CLONES void adamw_span(float* value, const float* grad, float* m, float* v, std::int64_t n,
                              const AdamWScalars& s) {
#pragma omp simd
  for (std::int64_t j = 0; j < n; ++j) {
    const float g = grad[j];
    value[j] *= s.decay;
    m[j] += s.one_minus_beta1 * (g - m[j]);
    v[j] = v[j] * s.beta2 + s.one_minus_beta2 * g * g;
    const float denom = std::sqrt(v[j]) / s.bc2_sqrt + s.eps;
    value[j] -= s.step_size * (m[j] / denom);
  }
}

KERNEL_CLONES double sum_of_squares(const float* g, std::int64_t n) {
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (std::int64_t j = 0; j < n; ++j) sum += static_cast<double>(g[j]) * g[j];
  return sum;
}

KERNEL_CLONES void scale_span(float* g, std::int64_t n, float coef) {
#pragma omp simd
  for (std::int64_t j = 0; j < n; ++j) g[j] *= coef;
}

}  // namespace

AdamW::AdamW(std::vector<Parameter>& parameters, const AdamWOptions& options)
    : parameters_(&parameters), options_(options) {
  for (const Parameter& p : parameters) {
    m_.emplace_back(p.value.size(), 0.0f);
    v_.emplace_back(p.value.size(), 0.0f);
  }
}

void AdamW::step(float lr) {
  ++steps_;
  const double t = static_cast<double>(steps_);
  // torch computes the scalars in double and applies them to float tensors.
  const auto one_minus_beta1 = static_cast<float>(1.0 - options_.beta1);
  const auto one_minus_beta2 = static_cast<float>(1.0 - options_.beta2);
  const float beta2 = options_.beta2;
  const double bias_correction1 = 1.0 - std::pow(static_cast<double>(options_.beta1), t);
  const double bias_correction2 = 1.0 - std::pow(static_cast<double>(options_.beta2), t);
  const auto step_size = static_cast<float>(lr / bias_correction1);
  const auto bc2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  const float eps = options_.eps;
  for (std::size_t i = 0; i < parameters_->size(); ++i) {
    Parameter& p = (*parameters_)[i];
    const AdamWScalars scalars{
        static_cast<float>(p.decay ? 1.0 - static_cast<double>(lr) * options_.weight_decay : 1.0),
        one_minus_beta1,
        beta2,
        one_minus_beta2,
        bc2_sqrt,
        eps,
        step_size};
    float* value = p.value.data();
    const float* grad = p.grad.data();
    float* m = m_[i].data();
    float* v = v_[i].data();
    kernels::detail::parallel_chunks(p.size(), kGrain, [&](std::int64_t begin, std::int64_t end) {
      adamw_span(value + begin, grad + begin, m + begin, v + begin, end - begin, scalars);
    });
  }
}

double linear_schedule_factor(std::int64_t step, std::int64_t warmup, std::int64_t total) {
  if (step < warmup)
    return static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, warmup));
  return std::max(0.0, static_cast<double>(total - step) /
                           static_cast<double>(std::max<std::int64_t>(1, total - warmup)));
}

double clip_grad_norm(std::vector<Parameter>& parameters, double max_norm) {
  double sum = 0;
  for (const Parameter& p : parameters) {
    // Per tensor, then in tensor order: the same sum on any thread count.
    const std::int64_t n = p.size();
    const std::int64_t chunks = (n + kGrain - 1) / kGrain;
    std::vector<double> parts(static_cast<std::size_t>(chunks), 0.0);
    const float* g = p.grad.data();
    kernels::detail::parallel_chunks(n, kGrain, [&](std::int64_t begin, std::int64_t end) {
      parts[static_cast<std::size_t>(begin / kGrain)] = sum_of_squares(g + begin, end - begin);
    });
    for (const double part : parts) sum += part;
  }
  const double norm = std::sqrt(sum);
  if (max_norm > 0) {
    const auto coef = static_cast<float>(std::min(1.0, max_norm / (norm + 1e-6)));
    if (coef < 1.0f) {
      for (Parameter& p : parameters) {
        float* g = p.grad.data();
        kernels::detail::parallel_chunks(p.size(), kGrain,
                                         [&](std::int64_t begin, std::int64_t end) {
                                           scale_span(g + begin, end - begin, coef);
                                         });
      }
    }
  }
  return norm;
}

}  // namespace bertlite::train
