// train/ref/grad_reference.cpp - naive loops in double: slow on purpose, easy to check by eye.
#include "train/ref/grad_reference.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <vector>

namespace bertlite::train::ref {

void layernorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* xhat,
                        const float* rstd, const float* gamma, int64_t M, int64_t C) {
  // Parameter gradients first: dx may alias dy.
  for (int64_t c = 0; c < C; ++c) {
    double sg = 0, sb = 0;
    for (int64_t m = 0; m < M; ++m) {
      sg += double(dy[m * C + c]) * xhat[m * C + c];
      sb += dy[m * C + c];
    }
    dgamma[c] = static_cast<float>(dgamma[c] + sg);
    dbeta[c] = static_cast<float>(dbeta[c] + sb);
  }
  std::vector<double> g(static_cast<size_t>(C));
  for (int64_t m = 0; m < M; ++m) {
    double mean_g = 0, mean_gx = 0;
    for (int64_t c = 0; c < C; ++c) {
      g[c] = double(dy[m * C + c]) * gamma[c];
      mean_g += g[c];
      mean_gx += g[c] * xhat[m * C + c];
    }
    mean_g /= C;
    mean_gx /= C;
    for (int64_t c = 0; c < C; ++c) {
      dx[m * C + c] = static_cast<float>(rstd[m] * (g[c] - mean_g - xhat[m * C + c] * mean_gx));
    }
  }
}

void gelu_backward(float* dx, const float* dy, const float* h, int64_t n, kernels::GeluKind kind) {
  for (int64_t i = 0; i < n; ++i) {
    const double x = h[i];
    double d;
    if (kind == kernels::GeluKind::kErf) {
      // Phi(x) + x phi(x).
      d = 0.5 * (1.0 + std::erf(x / std::numbers::sqrt2)) +
          x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * std::numbers::pi);
    } else {
      // d/dx 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3).
      const double k = std::sqrt(2.0 / std::numbers::pi);
      const double t = std::tanh(k * (x + 0.044715 * x * x * x));
      d = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * 0.044715 * x * x);
    }
    dx[i] = static_cast<float>(double(dy[i]) * d);
  }
}

void tanh_backward(float* dx, const float* dy, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = static_cast<float>(dy[i] * (1.0 - double(y[i]) * y[i]));
}

void relu_backward(float* dx, const float* dy, const float* h, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = h[i] > 0.0f ? dy[i] : 0.0f;
}

void dropout_mask(uint8_t* mask, int64_t n, float p, uint64_t seed) {
  for (int64_t i = 0; i < n; ++i) mask[i] = dropout_keep(seed, i, p) ? 1 : 0;
}

void dropout_apply(float* x, const uint8_t* mask, int64_t n, float p) {
  for (int64_t i = 0; i < n; ++i) {
    x[i] = mask[i] != 0 ? static_cast<float>(double(x[i]) / (1.0 - double(p))) : 0.0f;
  }
}

void bias_backward(float* dbias, const float* dy, int64_t M, int64_t N) {
  for (int64_t n = 0; n < N; ++n) {
    double sum = 0;
    for (int64_t m = 0; m < M; ++m) sum += dy[m * N + n];
    dbias[n] = static_cast<float>(dbias[n] + sum);
  }
}

void embedding_backward(float* dtable, const int32_t* ids, const float* dx, int64_t T, int64_t H) {
  // Sum every id's rows in double, then add once.
  std::map<int32_t, std::vector<double>> sums;
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double>& sum = sums[ids[t]];
    sum.resize(static_cast<size_t>(H), 0.0);
    for (int64_t c = 0; c < H; ++c) sum[c] += dx[t * H + c];
  }
  for (const auto& [id, sum] : sums) {
    float* row = dtable + int64_t(id) * H;
    for (int64_t c = 0; c < H; ++c) row[c] = static_cast<float>(row[c] + sum[c]);
  }
}

int64_t attention_probs_size(const int64_t* starts, int64_t B, int64_t NH) {
  int64_t size = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t L = starts[b + 1] - starts[b];
    size += NH * L * L;
  }
  return size;
}

void attention_forward_train(float* out, float* probs, const float* qkv, const int64_t* starts,
                             int64_t B, int64_t NH, int64_t HD, float scale,
                             const uint8_t* prob_mask, float dropout_p) {
  const int64_t H = NH * HD, ld = 3 * H;
  const double keep_scale = 1.0 / (1.0 - double(dropout_p));
  int64_t offset = 0;  // of this (sequence, head)'s L x L block in probs
  for (int64_t b = 0; b < B; ++b) {
    const int64_t L = starts[b + 1] - starts[b];
    const float* base = qkv + starts[b] * ld;
    std::vector<double> p(static_cast<size_t>(L));
    for (int64_t h = 0; h < NH; ++h, offset += L * L) {
      const float* q = base + h * HD;
      const float* k = base + H + h * HD;
      const float* v = base + 2 * H + h * HD;
      for (int64_t i = 0; i < L; ++i) {
        double max_score = -INFINITY;
        for (int64_t j = 0; j < L; ++j) {
          double s = 0;
          for (int64_t d = 0; d < HD; ++d) s += double(q[i * ld + d]) * k[j * ld + d];
          p[j] = s * scale;
          max_score = std::max(max_score, p[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < L; ++j) sum += (p[j] = std::exp(p[j] - max_score));
        for (int64_t j = 0; j < L; ++j) {
          p[j] /= sum;
          probs[offset + i * L + j] = static_cast<float>(p[j]);
          if (prob_mask != nullptr) {
            p[j] = prob_mask[offset + i * L + j] != 0 ? p[j] * keep_scale : 0.0;
          }
        }
        for (int64_t d = 0; d < HD; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < L; ++j) acc += p[j] * v[j * ld + d];
          out[(starts[b] + i) * H + h * HD + d] = static_cast<float>(acc);
        }
      }
    }
  }
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* probs,
                        const int64_t* starts, int64_t B, int64_t NH, int64_t HD, float scale,
                        const uint8_t* prob_mask, float dropout_p) {
  const int64_t H = NH * HD, ld = 3 * H;
  const double keep_scale = 1.0 / (1.0 - double(dropout_p));
  int64_t offset = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t L = starts[b + 1] - starts[b];
    const float* base = qkv + starts[b] * ld;
    float* dbase = dqkv + starts[b] * ld;
    const float* g = dout + starts[b] * H;
    for (int64_t h = 0; h < NH; ++h, offset += L * L) {
      const float* q = base + h * HD;
      const float* k = base + H + h * HD;
      const float* v = base + 2 * H + h * HD;
      const float* P = probs + offset;
      const uint8_t* mask = prob_mask != nullptr ? prob_mask + offset : nullptr;
      auto drop = [&](int64_t ij) {  // mask / (1 - p) of one probability
        return mask == nullptr ? 1.0 : (mask[ij] != 0 ? keep_scale : 0.0);
      };
      std::vector<double> dS(static_cast<size_t>(L * L));
      for (int64_t i = 0; i < L; ++i) {
        double row = 0;
        for (int64_t j = 0; j < L; ++j) {
          double dp = 0;
          for (int64_t d = 0; d < HD; ++d) dp += double(g[i * H + h * HD + d]) * v[j * ld + d];
          dS[i * L + j] = dp * drop(i * L + j);  // dP for now
          row += dS[i * L + j] * P[i * L + j];
        }
        for (int64_t j = 0; j < L; ++j) dS[i * L + j] = P[i * L + j] * (dS[i * L + j] - row);
      }
      for (int64_t i = 0; i < L; ++i) {
        for (int64_t d = 0; d < HD; ++d) {
          double dq = 0, dk = 0, dv = 0;
          for (int64_t j = 0; j < L; ++j) {
            dq += dS[i * L + j] * k[j * ld + d];
            dk += dS[j * L + i] * q[j * ld + d];
            dv += double(P[j * L + i]) * drop(j * L + i) * g[j * H + h * HD + d];
          }
          dbase[i * ld + h * HD + d] = static_cast<float>(scale * dq);
          dbase[i * ld + H + h * HD + d] = static_cast<float>(scale * dk);
          dbase[i * ld + 2 * H + h * HD + d] = static_cast<float>(dv);
        }
      }
    }
  }
}

void mean_pool_forward(float* out, const float* x, const int64_t* starts, int64_t B, int64_t H) {
  for (int64_t b = 0; b < B; ++b) {
    const int64_t L = starts[b + 1] - starts[b];
    for (int64_t c = 0; c < H; ++c) {
      double sum = 0;
      for (int64_t t = starts[b]; t < starts[b + 1]; ++t) sum += x[t * H + c];
      out[b * H + c] = L > 0 ? static_cast<float>(sum / L) : 0.0f;
    }
  }
}

void mean_pool_backward(float* dx, const float* dpooled, const int64_t* starts, int64_t B,
                        int64_t H) {
  for (int64_t b = 0; b < B; ++b) {
    const int64_t L = starts[b + 1] - starts[b];
    for (int64_t t = starts[b]; t < starts[b + 1]; ++t) {
      for (int64_t c = 0; c < H; ++c) {
        dx[t * H + c] = static_cast<float>(dx[t * H + c] + double(dpooled[b * H + c]) / L);
      }
    }
  }
}

void first_row_backward(float* dx, const float* dpooled, const int64_t* starts, int64_t B,
                        int64_t H) {
  for (int64_t b = 0; b < B; ++b) {
    if (starts[b + 1] == starts[b]) continue;
    for (int64_t c = 0; c < H; ++c) dx[starts[b] * H + c] += dpooled[b * H + c];
  }
}

double cross_entropy(float* dlogits, const float* logits, const int32_t* labels, int64_t B,
                     int64_t K, const float* class_weights, float label_smoothing) {
  const double s = label_smoothing;
  auto w = [&](int64_t c) { return class_weights != nullptr ? double(class_weights[c]) : 1.0; };
  double w_all = 0;  // sum_c w[c]
  for (int64_t c = 0; c < K; ++c) w_all += w(c);
  double denom = 0;  // sum_i w[y_i]
  for (int64_t i = 0; i < B; ++i) denom += w(labels[i]);
  double loss = 0;
  std::vector<double> lp(static_cast<size_t>(K));
  for (int64_t i = 0; i < B; ++i) {
    const float* z = logits + i * K;
    double max_z = -INFINITY;
    for (int64_t c = 0; c < K; ++c) max_z = std::max(max_z, double(z[c]));
    double sum = 0;
    for (int64_t c = 0; c < K; ++c) sum += std::exp(z[c] - max_z);
    const double log_sum = std::log(sum) + max_z;
    for (int64_t c = 0; c < K; ++c) lp[c] = z[c] - log_sum;
    const int32_t y = labels[i];
    double row = -(1.0 - s) * w(y) * lp[y];
    for (int64_t c = 0; c < K; ++c) row -= s / K * w(c) * lp[c];
    loss += row;
    // d row / d lp[c] = -(1-s) w[y] [c == y] - (s/K) w[c]; through log-softmax,
    // d row / d z[c] = that - softmax[c] * (sum over c of it).
    const double total = (1.0 - s) * w(y) + s / K * w_all;
    for (int64_t c = 0; c < K; ++c) {
      const double d = -(c == y ? (1.0 - s) * w(y) : 0.0) - s / K * w(c) + std::exp(lp[c]) * total;
      dlogits[i * K + c] = static_cast<float>(d / denom);
    }
  }
  return loss / denom;
}

}  // namespace bertlite::train::ref
