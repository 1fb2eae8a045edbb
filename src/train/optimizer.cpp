#include "train/optimizer.h"

#include <algorithm>
#include <cmath>

#include "kernels/dispatch.h"

namespace bertlite::train {

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
  kernels::sync_compute_threads();
  for (std::size_t i = 0; i < parameters_->size(); ++i) {
    Parameter& p = (*parameters_)[i];
    const auto decay =
        static_cast<float>(p.decay ? 1.0 - static_cast<double>(lr) * options_.weight_decay : 1.0);
    float* value = p.value.data();
    const float* grad = p.grad.data();
    float* m = m_[i].data();
    float* v = v_[i].data();
    const std::int64_t n = p.size();
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (std::int64_t j = 0; j < n; ++j) {
      const float g = grad[j];
      value[j] *= decay;
      m[j] += one_minus_beta1 * (g - m[j]);
      v[j] = v[j] * beta2 + one_minus_beta2 * g * g;
      const float denom = std::sqrt(v[j]) / bc2_sqrt + eps;
      value[j] -= step_size * (m[j] / denom);
    }
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
    double part = 0;
    const float* g = p.grad.data();
    const std::int64_t n = p.size();
#pragma omp parallel for simd reduction(+ : part) if (n > 65536)
    for (std::int64_t j = 0; j < n; ++j) part += static_cast<double>(g[j]) * g[j];
    sum += part;
  }
  const double norm = std::sqrt(sum);
  if (max_norm > 0) {
    const auto coef = static_cast<float>(std::min(1.0, max_norm / (norm + 1e-6)));
    if (coef < 1.0f) {
      for (Parameter& p : parameters) {
        for (float& g : p.grad) g *= coef;
      }
    }
  }
  return norm;
}

}  // namespace bertlite::train
