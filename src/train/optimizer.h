// train/optimizer.h - AdamW, its learning-rate schedule and gradient clipping, with
// torch.optim.AdamW's and transformers' exact semantics.
//
// One step, per parameter p with gradient g (torch.optim.AdamW, the single-tensor path):
//   t += 1;  p *= 1 - lr * weight_decay            (decoupled decay; skipped where !p.decay)
//   m = m + (1 - beta1) (g - m);  v = beta2 v + (1 - beta2) g^2
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The schedule is transformers' get_linear_schedule_with_warmup: the learning rate of step k
// (0-based) is lr * k / warmup during warmup (so the first step of a warmed-up run moves
// nothing), then falls linearly to 0 at `total`.
#pragma once

#include <cstdint>
#include <vector>

#include "train/sequence_classifier.h"

namespace bertlite::train {

struct AdamWOptions {
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  // for parameters with decay set
};

class AdamW {
 public:
  AdamW(std::vector<Parameter>& parameters, const AdamWOptions& options);

  // Updates every parameter from its grad with learning rate `lr`. Does not zero the grads.
  void step(float lr);

  std::int64_t steps() const { return steps_; }
  const AdamWOptions& options() const { return options_; }

  // The moments, one vector per parameter (same order and sizes), for checkpoints.
  std::vector<std::vector<float>>& first_moments() { return m_; }
  std::vector<std::vector<float>>& second_moments() { return v_; }
  void set_steps(std::int64_t steps) { steps_ = steps; }

 private:
  std::vector<Parameter>* parameters_;
  AdamWOptions options_;
  std::vector<std::vector<float>> m_, v_;
  std::int64_t steps_ = 0;
};

// transformers' linear schedule with warmup: the factor on the base learning rate for
// optimizer step `step` (0-based) of `total`.
double linear_schedule_factor(std::int64_t step, std::int64_t warmup, std::int64_t total);

// torch.nn.utils.clip_grad_norm_(max_norm): the global L2 norm of every gradient, returned;
// gradients are scaled by min(1, max_norm / (norm + 1e-6)). max_norm <= 0 only measures.
double clip_grad_norm(std::vector<Parameter>& parameters, double max_norm);

}  // namespace bertlite::train
