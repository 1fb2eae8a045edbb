// tests/train/grad_kernels_test.cpp - every backward kernel against central differences of a
// double-precision forward written here, the fast paths against their reference twins, and the
// conventions of train/grad_kernels.h (accumulating parameter gradients, replayable dropout).
//
// Gradient checks: loss = sum(forward(x) * R) for a fixed random R, on tiny odd shapes, with
// the forward in double, so central differences (step 1e-5) are exact to ~1e-10 and the only
// error left is the kernels' float arithmetic. Tolerance kGradTolerance of max(1e-3, max |grad|):
// a few float ulps of the largest gradient, while any wrong term is off by O(1e-2) or more.
// Fast vs reference: kFastTolerance of max(1, max |expected|), as tests/kernels do.
#include "train/grad_kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

#include "bertlite/error.h"
#include "kernels/attention.h"
#include "kernels/dispatch.h"
#include "kernels/test_util.h"
#include "test_support.h"
#include "train/ref/grad_reference.h"
#include "util/threads.h"

namespace bertlite::train {
namespace {

using kernels::GeluKind;
using kernels::testing::random_vector;
using Doubles = std::vector<double>;
using Floats = std::vector<float>;

constexpr double kGradTolerance = 2e-6;
constexpr double kFastTolerance = 1e-5;
constexpr double kStep = 1e-5;

Doubles to_double(const Floats& v) {
  return Doubles(v.begin(), v.end());
}

double dot(const Doubles& a, const Floats& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Central differences of loss at x (double; x usually holds float values).
Doubles numeric_grad(const std::function<double(const Doubles&)>& loss, Doubles x) {
  Doubles g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + kStep;
    const double up = loss(x);
    x[i] = x0 - kStep;
    const double down = loss(x);
    x[i] = x0;
    g[i] = (up - down) / (2 * kStep);
  }
  return g;
}

::testing::AssertionResult grad_close(const Floats& analytic, const Doubles& numeric,
                                      double tolerance = kGradTolerance) {
  if (analytic.size() != numeric.size()) {
    return ::testing::AssertionFailure()
           << "sizes differ: " << analytic.size() << " vs " << numeric.size();
  }
  double max_abs = 0, max_numeric = 0;
  size_t worst = 0;
  for (size_t i = 0; i < numeric.size(); ++i) {
    double e = std::abs(analytic[i] - numeric[i]);
    if (std::isnan(e)) e = INFINITY;
    if (e > max_abs) max_abs = e, worst = i;
    max_numeric = std::max(max_numeric, std::abs(numeric[i]));
  }
  const double scaled = max_abs / std::max(1e-3, max_numeric);
  if (scaled <= tolerance) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "max_abs=" << max_abs << " scaled=" << scaled << " at index " << worst << " (analytic "
         << analytic[worst] << ", numeric " << numeric[worst] << ", max |numeric|=" << max_numeric
         << ") exceeds " << tolerance;
}

// Sets kernels::reference_mode() for a scope.
class ReferenceMode {
 public:
  explicit ReferenceMode(bool on) : before_(kernels::reference_mode()) {
    kernels::set_reference_mode(on);
  }
  ~ReferenceMode() { kernels::set_reference_mode(before_); }
  ReferenceMode(const ReferenceMode&) = delete;
  ReferenceMode& operator=(const ReferenceMode&) = delete;

 private:
  bool before_;
};

// Sets util::compute_threads() for a scope.
class ComputeThreads {
 public:
  explicit ComputeThreads(int n) : before_(util::compute_threads()) {
    util::set_compute_threads(n);
  }
  ~ComputeThreads() { util::set_compute_threads(before_); }
  ComputeThreads(const ComputeThreads&) = delete;
  ComputeThreads& operator=(const ComputeThreads&) = delete;

 private:
  int before_;
};

// ---- Double-precision forwards ----------------------------------------------------------------

Doubles layernorm_d(const Doubles& in, const Doubles* residual, const Doubles& gamma,
                    const Doubles& beta, int64_t M, int64_t C, double eps) {
  Doubles out(M * C);
  for (int64_t m = 0; m < M; ++m) {
    Doubles x(C);
    double mean = 0;
    for (int64_t c = 0; c < C; ++c) {
      x[c] = in[m * C + c] + (residual != nullptr ? (*residual)[m * C + c] : 0.0);
      mean += x[c] / C;
    }
    double var = 0;
    for (int64_t c = 0; c < C; ++c) var += (x[c] - mean) * (x[c] - mean) / C;
    for (int64_t c = 0; c < C; ++c) {
      out[m * C + c] = (x[c] - mean) / std::sqrt(var + eps) * gamma[c] + beta[c];
    }
  }
  return out;
}

double gelu_d(double x, GeluKind kind) {
  if (kind == GeluKind::kErf) return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
}

// Packed attention, optionally with dropout on the probabilities (mask as documented).
Doubles attention_d(const Doubles& qkv, const std::vector<int64_t>& starts, int64_t NH, int64_t HD,
                    double scale, const std::vector<uint8_t>* mask, double p) {
  const int64_t H = NH * HD, B = int64_t(starts.size()) - 1;
  Doubles out(starts[B] * H, 0.0);
  int64_t offset = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t L = starts[b + 1] - starts[b], r0 = starts[b];
    for (int64_t h = 0; h < NH; ++h, offset += L * L) {
      for (int64_t i = 0; i < L; ++i) {
        Doubles s(L);
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < L; ++j) {
          s[j] = 0;
          for (int64_t d = 0; d < HD; ++d) {
            s[j] += qkv[(r0 + i) * 3 * H + h * HD + d] * qkv[(r0 + j) * 3 * H + H + h * HD + d];
          }
          s[j] *= scale;
          mx = std::max(mx, s[j]);
        }
        for (int64_t j = 0; j < L; ++j) sum += std::exp(s[j] - mx);
        for (int64_t j = 0; j < L; ++j) {
          double w = std::exp(s[j] - mx) / sum;
          if (mask != nullptr) w *= (*mask)[offset + i * L + j] / (1 - p);
          for (int64_t d = 0; d < HD; ++d) {
            out[(r0 + i) * H + h * HD + d] += w * qkv[(r0 + j) * 3 * H + 2 * H + h * HD + d];
          }
        }
      }
    }
  }
  return out;
}

// torch.nn.CrossEntropyLoss written as a smoothed target distribution:
// row loss = -sum_c w[c] q[c] lp[c], q = (1 - s) onehot(y) + s / K; mean over sum_i w[y_i].
double cross_entropy_d(const Doubles& logits, const std::vector<int32_t>& labels, int64_t K,
                       const Floats* weights, double s) {
  const int64_t B = int64_t(labels.size());
  double total = 0, denom = 0;
  for (int64_t i = 0; i < B; ++i) {
    double sum = 0;
    for (int64_t c = 0; c < K; ++c) sum += std::exp(logits[i * K + c]);
    for (int64_t c = 0; c < K; ++c) {
      const double lp = logits[i * K + c] - std::log(sum);
      const double q = (c == labels[i] ? 1 - s : 0.0) + s / K;
      total -= (weights != nullptr ? (*weights)[c] : 1.0) * q * lp;
    }
    denom += weights != nullptr ? (*weights)[labels[i]] : 1.0;
  }
  return total / denom;
}

// ---- Gradient checks, on the fast path and the reference path alike ---------------------------

class GradCheck : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { mode_ = std::make_unique<ReferenceMode>(GetParam()); }
  void TearDown() override { mode_.reset(); }

 private:
  std::unique_ptr<ReferenceMode> mode_;
};

TEST_P(GradCheck, LayerNormInputsResidualAndParameters) {
  const int64_t M = 3, C = 7;
  const float eps = 1e-5f;
  const Floats in = random_vector(M * C, 1, -2.0f, 2.0f), res = random_vector(M * C, 2);
  const Floats gamma = random_vector(C, 3, 0.5f, 1.5f), beta = random_vector(C, 4);
  const Floats R = random_vector(M * C, 5);
  for (bool with_residual : {false, true}) {
    SCOPED_TRACE(with_residual ? "with residual" : "without residual");
    Floats out(M * C), xhat(M * C), rstd(M);
    layernorm_forward_train(out.data(), xhat.data(), rstd.data(), in.data(),
                            with_residual ? res.data() : nullptr, gamma.data(), beta.data(), M, C,
                            eps);
    Doubles rd = to_double(res);
    const Doubles* r = with_residual ? &rd : nullptr;
    // The saved output matches the double forward.
    const Doubles expected =
        layernorm_d(to_double(in), r, to_double(gamma), to_double(beta), M, C, eps);
    EXPECT_TRUE(grad_close(out, expected));

    Floats dx(M * C), dgamma(C, 0.0f), dbeta(C, 0.0f);
    layernorm_backward(dx.data(), dgamma.data(), dbeta.data(), R.data(), xhat.data(), rstd.data(),
                       gamma.data(), M, C);
    auto loss = [&](const Doubles& i, const Doubles* rr, const Doubles& g, const Doubles& b) {
      const Doubles y = layernorm_d(i, rr, g, b, M, C, eps);
      return dot(y, R);
    };
    EXPECT_TRUE(grad_close(
        dx, numeric_grad(
                [&](const Doubles& x) { return loss(x, r, to_double(gamma), to_double(beta)); },
                to_double(in))))
        << "dx";
    if (with_residual) {
      EXPECT_TRUE(grad_close(dx, numeric_grad(
                                     [&](const Doubles& x) {
                                       return loss(to_double(in), &x, to_double(gamma),
                                                   to_double(beta));
                                     },
                                     rd)))
          << "d residual";
    }
    EXPECT_TRUE(grad_close(
        dgamma,
        numeric_grad([&](const Doubles& x) { return loss(to_double(in), r, x, to_double(beta)); },
                     to_double(gamma))))
        << "dgamma";
    EXPECT_TRUE(grad_close(
        dbeta,
        numeric_grad([&](const Doubles& x) { return loss(to_double(in), r, to_double(gamma), x); },
                     to_double(beta))))
        << "dbeta";

    // dx may alias dy.
    Floats inplace = R, unused_g(C, 0.0f), unused_b(C, 0.0f);
    layernorm_backward(inplace.data(), unused_g.data(), unused_b.data(), inplace.data(),
                       xhat.data(), rstd.data(), gamma.data(), M, C);
    EXPECT_EQ(inplace, dx);
    EXPECT_EQ(unused_g, dgamma);
    EXPECT_EQ(unused_b, dbeta);
  }
}

TEST_P(GradCheck, Gelu) {
  const int64_t n = 21;
  Floats h = random_vector(n, 6, -4.0f, 4.0f);
  h[0] = 0.0f;
  const Floats R = random_vector(n, 7);
  for (GeluKind kind : {GeluKind::kErf, GeluKind::kTanh}) {
    SCOPED_TRACE(kind == GeluKind::kErf ? "erf" : "tanh");
    Floats dx(n);
    gelu_backward(dx.data(), R.data(), h.data(), n, kind);
    EXPECT_TRUE(grad_close(dx, numeric_grad(
                                   [&](const Doubles& x) {
                                     double s = 0;
                                     for (int64_t i = 0; i < n; ++i) s += gelu_d(x[i], kind) * R[i];
                                     return s;
                                   },
                                   to_double(h))));
    Floats inplace = R;
    gelu_backward(inplace.data(), inplace.data(), h.data(), n, kind);
    EXPECT_EQ(inplace, dx);
  }
}

TEST_P(GradCheck, Tanh) {
  const int64_t n = 21;
  const Floats h = random_vector(n, 8, -3.0f, 3.0f), R = random_vector(n, 9);
  Floats y(n), dx(n);
  for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(h[i]);
  tanh_backward(dx.data(), R.data(), y.data(), n);
  EXPECT_TRUE(grad_close(dx, numeric_grad(
                                 [&](const Doubles& x) {
                                   double s = 0;
                                   for (int64_t i = 0; i < n; ++i) s += std::tanh(x[i]) * R[i];
                                   return s;
                                 },
                                 to_double(h))));
}

TEST_P(GradCheck, Relu) {
  const int64_t n = 21;
  Floats h = random_vector(n, 10, -1.0f, 1.0f);
  for (float& x : h) {
    if (std::abs(x) < 0.01f) x = 0.5f;  // no kink within the finite-difference step
  }
  const Floats R = random_vector(n, 11);
  Floats dx(n);
  relu_backward(dx.data(), R.data(), h.data(), n);
  EXPECT_TRUE(grad_close(dx, numeric_grad(
                                 [&](const Doubles& x) {
                                   double s = 0;
                                   for (int64_t i = 0; i < n; ++i) s += std::max(x[i], 0.0) * R[i];
                                   return s;
                                 },
                                 to_double(h))));
  // torch's convention at exactly 0: no gradient.
  const float zero = 0.0f, one = 1.0f;
  float d = -1.0f;
  relu_backward(&d, &one, &zero, 1);
  EXPECT_EQ(d, 0.0f);
}

TEST_P(GradCheck, DropoutApplyIsItsOwnBackward) {
  const int64_t n = 21;
  const float p = 0.4f;
  std::vector<uint8_t> mask(n);
  dropout_mask(mask.data(), n, p, 123);
  const Floats x = random_vector(n, 12), R = random_vector(n, 13);
  Floats dx = R;
  dropout_apply(dx.data(), mask.data(), n, p);
  EXPECT_TRUE(grad_close(dx, numeric_grad(
                                 [&](const Doubles& v) {
                                   double s = 0;
                                   for (int64_t i = 0; i < n; ++i)
                                     s += v[i] * mask[i] / (1 - p) * R[i];
                                   return s;
                                 },
                                 to_double(x))));
}

TEST_P(GradCheck, Bias) {
  const int64_t M = 3, N = 7;
  const Floats x = random_vector(M * N, 14), b = random_vector(N, 15), R = random_vector(M * N, 16);
  Floats dbias(N, 0.0f);
  bias_backward(dbias.data(), R.data(), M, N);
  EXPECT_TRUE(grad_close(dbias, numeric_grad(
                                    [&](const Doubles& bb) {
                                      double s = 0;
                                      for (int64_t m = 0; m < M; ++m) {
                                        for (int64_t n = 0; n < N; ++n)
                                          s += (x[m * N + n] + bb[n]) * R[m * N + n];
                                      }
                                      return s;
                                    },
                                    to_double(b))));
}

TEST_P(GradCheck, EmbeddingWithRepeatedIds) {
  const int64_t V = 5, H = 3;
  const std::vector<int32_t> ids = {0, 3, 3, 1, 3, 0, 2};  // 3 three times, 4 never
  const int64_t T = int64_t(ids.size());
  const Floats table = random_vector(V * H, 17), R = random_vector(T * H, 18);
  Floats dtable(V * H, 0.0f);
  embedding_backward(dtable.data(), ids.data(), R.data(), T, H);
  EXPECT_TRUE(grad_close(dtable, numeric_grad(
                                     [&](const Doubles& tab) {
                                       double s = 0;
                                       for (int64_t t = 0; t < T; ++t) {
                                         for (int64_t c = 0; c < H; ++c)
                                           s += tab[ids[t] * H + c] * R[t * H + c];
                                       }
                                       return s;
                                     },
                                     to_double(table))));
  for (int64_t c = 0; c < H; ++c) EXPECT_EQ(dtable[4 * H + c], 0.0f);
}

TEST_P(GradCheck, AttentionWithAndWithoutProbDropout) {
  const std::vector<int64_t> starts = {0, 1, 5, 11};  // lengths 1, 4, 6
  const int64_t B = 3, NH = 2, HD = 3, H = NH * HD, T = starts[B];
  const float scale = 1.0f / std::sqrt(float(HD)), p = 0.25f;
  const Floats qkv = random_vector(T * 3 * H, 19, -1.5f, 1.5f), R = random_vector(T * H, 20);
  const int64_t P = attention_probs_size(starts.data(), B, NH);
  ASSERT_EQ(P, NH * (1 + 16 + 36));
  std::vector<uint8_t> mask(P);
  dropout_mask(mask.data(), P, p, 7);
  for (bool dropout : {false, true}) {
    SCOPED_TRACE(dropout ? "with dropout" : "without dropout");
    const std::vector<uint8_t>* m = dropout ? &mask : nullptr;
    const uint8_t* mp = dropout ? mask.data() : nullptr;
    Floats out(T * H), probs(P), dqkv(T * 3 * H, NAN);
    attention_forward_train(out.data(), probs.data(), qkv.data(), starts.data(), B, NH, HD, scale,
                            mp, p);
    EXPECT_TRUE(grad_close(out, attention_d(to_double(qkv), starts, NH, HD, scale, m, p)));
    // Every probability row sums to 1.
    for (int64_t r = 0, offset = 0; r < B; ++r) {
      const int64_t L = starts[r + 1] - starts[r];
      for (int64_t i = 0; i < NH * L; ++i, offset += L) {
        double sum = 0;
        for (int64_t j = 0; j < L; ++j) sum += probs[offset + j];
        EXPECT_NEAR(sum, 1.0, 1e-6);
      }
    }
    attention_backward(dqkv.data(), R.data(), qkv.data(), probs.data(), starts.data(), B, NH, HD,
                       scale, mp, p);
    EXPECT_TRUE(grad_close(dqkv, numeric_grad(
                                     [&](const Doubles& x) {
                                       return dot(attention_d(x, starts, NH, HD, scale, m, p), R);
                                     },
                                     to_double(qkv))));
  }
}

TEST_P(GradCheck, MeanPoolAndFirstRow) {
  const std::vector<int64_t> starts = {0, 1, 1, 5, 11};  // lengths 1, 0, 4, 6
  const int64_t B = 4, H = 3, T = starts[B];
  const Floats x = random_vector(T * H, 21), R = random_vector(B * H, 22);
  auto mean_d = [&](const Doubles& v) {
    Doubles out(B * H, 0.0);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t L = starts[b + 1] - starts[b];
      for (int64_t t = starts[b]; t < starts[b + 1]; ++t) {
        for (int64_t c = 0; c < H; ++c) out[b * H + c] += v[t * H + c] / L;
      }
    }
    return out;
  };
  auto first_d = [&](const Doubles& v) {
    Doubles out(B * H, 0.0);
    for (int64_t b = 0; b < B; ++b) {
      if (starts[b + 1] == starts[b]) continue;
      for (int64_t c = 0; c < H; ++c) out[b * H + c] = v[starts[b] * H + c];
    }
    return out;
  };
  Floats pooled(B * H, NAN);
  mean_pool_forward(pooled.data(), x.data(), starts.data(), B, H);
  EXPECT_TRUE(grad_close(pooled, mean_d(to_double(x))));  // an empty sequence pools to 0

  Floats dx(T * H, 0.0f);
  mean_pool_backward(dx.data(), R.data(), starts.data(), B, H);
  EXPECT_TRUE(grad_close(
      dx, numeric_grad([&](const Doubles& v) { return dot(mean_d(v), R); }, to_double(x))))
      << "mean";
  Floats dfirst(T * H, 0.0f);
  first_row_backward(dfirst.data(), R.data(), starts.data(), B, H);
  EXPECT_TRUE(grad_close(
      dfirst, numeric_grad([&](const Doubles& v) { return dot(first_d(v), R); }, to_double(x))))
      << "first row";
}

TEST_P(GradCheck, CrossEntropyWithWeightsAndLabelSmoothing) {
  const int64_t B = 3, K = 7;
  const Floats logits = random_vector(B * K, 23, -3.0f, 3.0f);
  const std::vector<int32_t> labels = {2, 6, 2};
  const Floats weights = random_vector(K, 24, 0.2f, 2.0f);
  for (bool weighted : {false, true}) {
    for (float s : {0.0f, 0.1f}) {
      SCOPED_TRACE(std::string(weighted ? "weighted" : "unweighted") + " s=" + std::to_string(s));
      const Floats* w = weighted ? &weights : nullptr;
      Floats dlogits(B * K, NAN);
      const double loss = cross_entropy(dlogits.data(), logits.data(), labels.data(), B, K,
                                        weighted ? weights.data() : nullptr, s);
      EXPECT_NEAR(loss, cross_entropy_d(to_double(logits), labels, K, w, s), 1e-12);
      EXPECT_TRUE(grad_close(
          dlogits,
          numeric_grad([&](const Doubles& z) { return cross_entropy_d(z, labels, K, w, s); },
                       to_double(logits))));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, GradCheck, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Reference" : "Fast";
                         });

// ---- Cross-entropy: values and errors ---------------------------------------------------------

TEST(CrossEntropy, KnownValues) {
  // -log softmax([1, 2, 3])[2] = log(e + e^2 + e^3) - 3.
  const float logits[3] = {1, 2, 3};
  const int32_t label = 2;
  float d[3];
  EXPECT_NEAR(cross_entropy(d, logits, &label, 1, 3, nullptr, 0.0f), 0.40760596444438, 1e-12);
  // Uniform logits: the loss is log K whatever the weights and smoothing.
  const float flat[8] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
  const int32_t labels[2] = {0, 3};
  const float weights[4] = {1, 2, 3, 4};
  float d8[8];
  EXPECT_NEAR(cross_entropy(d8, flat, labels, 2, 4, nullptr, 0.0f), std::log(4.0), 1e-12);
  // Weighted: each row's -w[y] lp[y] summed, over w[0] + w[3]; smoothing adds (s/K) sum w log K.
  const double expected =
      (1 * std::log(4.0) * 0.8 + 4 * std::log(4.0) * 0.8 + 2 * 0.2 / 4 * 10 * std::log(4.0)) / 5.0;
  EXPECT_NEAR(cross_entropy(d8, flat, labels, 2, 4, weights, 0.2f), expected, 1e-12);
}

TEST(CrossEntropy, RejectsLabelsOutOfRange) {
  const float logits[6] = {};
  float d[6];
  for (int32_t bad : {-1, 3}) {
    const int32_t labels[2] = {0, bad};
    EXPECT_TRUE(test::throws_with<InvalidArgument>(
        [&] { cross_entropy(d, logits, labels, 2, 3, nullptr, 0.0f); }, "outside [0, 3)"));
  }
}

// ---- Fast == reference on bigger shapes --------------------------------------------------------

// Runs f with the reference path off and on; returns {fast, reference} results.
template <class F>
std::pair<Floats, Floats> both_paths(const F& f) {
  Floats fast, ref;
  {
    ReferenceMode mode(false);
    fast = f();
  }
  {
    ReferenceMode mode(true);
    ref = f();
  }
  return {fast, ref};
}

TEST(FastMatchesReference, LayerNorm) {
  const int64_t M = 37, C = 100;
  Floats in = random_vector(M * C, 30, -3.0f, 5.0f);
  for (int64_t m = 0; m < M; ++m) in[m * C + (m % C)] = 30.0f;
  const Floats res = random_vector(M * C, 31), gamma = random_vector(C, 32, 0.5f, 1.5f);
  const Floats beta = random_vector(C, 33), dy = random_vector(M * C, 34);
  const auto [fast, ref] = both_paths([&] {
    Floats out(M * C), xhat(M * C), rstd(M), dx(M * C), dgamma(C, 0.5f), dbeta(C, -0.5f);
    layernorm_forward_train(out.data(), xhat.data(), rstd.data(), in.data(), res.data(),
                            gamma.data(), beta.data(), M, C, 1e-12f);
    layernorm_backward(dx.data(), dgamma.data(), dbeta.data(), dy.data(), xhat.data(), rstd.data(),
                       gamma.data(), M, C);
    Floats all = out;
    for (const Floats* v : {&xhat, &rstd, &dx, &dgamma, &dbeta}) {
      all.insert(all.end(), v->begin(), v->end());
    }
    return all;
  });
  EXPECT_CLOSE(fast, ref, kFastTolerance);
}

TEST(FastMatchesReference, Activations) {
  const int64_t n = 40001;
  const Floats h = random_vector(n, 35, -8.0f, 8.0f), dy = random_vector(n, 36);
  Floats y(n);
  for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(h[i]);
  const auto [fast, ref] = both_paths([&] {
    Floats all, dx(n);
    for (GeluKind kind : {GeluKind::kErf, GeluKind::kTanh}) {
      gelu_backward(dx.data(), dy.data(), h.data(), n, kind);
      all.insert(all.end(), dx.begin(), dx.end());
    }
    tanh_backward(dx.data(), dy.data(), y.data(), n);
    all.insert(all.end(), dx.begin(), dx.end());
    relu_backward(dx.data(), dy.data(), h.data(), n);
    all.insert(all.end(), dx.begin(), dx.end());
    return all;
  });
  EXPECT_CLOSE(fast, ref, kFastTolerance);
}

TEST(FastMatchesReference, DropoutBiasEmbedding) {
  const int64_t n = 50003, M = 50, N = 77, V = 13, T = 200, H = 65;
  const Floats x = random_vector(n, 37), dy = random_vector(M * N, 38),
               dx = random_vector(T * H, 39);
  std::vector<int32_t> ids(T);
  for (int64_t t = 0; t < T; ++t) ids[t] = int32_t((t * 7 + t / 3) % V);
  std::vector<uint8_t> fast_mask(n), ref_mask(n);
  {
    ReferenceMode mode(false);
    dropout_mask(fast_mask.data(), n, 0.1f, 99);
  }
  {
    ReferenceMode mode(true);
    dropout_mask(ref_mask.data(), n, 0.1f, 99);
  }
  EXPECT_EQ(fast_mask, ref_mask);
  const auto [fast, ref] = both_paths([&] {
    Floats all = x, dbias(N, 1.0f), dtable(V * H, 2.0f);
    dropout_apply(all.data(), fast_mask.data(), n, 0.1f);
    bias_backward(dbias.data(), dy.data(), M, N);
    embedding_backward(dtable.data(), ids.data(), dx.data(), T, H);
    all.insert(all.end(), dbias.begin(), dbias.end());
    all.insert(all.end(), dtable.begin(), dtable.end());
    return all;
  });
  EXPECT_CLOSE(fast, ref, kFastTolerance);
}

TEST(FastMatchesReference, AttentionWithAndWithoutDropout) {
  const std::vector<int64_t> starts = {0, 1, 18, 18, 51, 115};  // lengths 1, 17, 0, 33, 64
  const int64_t B = 5, T = starts[B];
  for (int64_t HD : {7, 16, 40}) {  // kernels/attention_blocks.h: the tail alone, blocks, both
    const int64_t NH = 3, H = NH * HD;
    const float scale = 1.0f / std::sqrt(float(HD));
    const Floats qkv = random_vector(T * 3 * H, 40, -2.0f, 2.0f), dout = random_vector(T * H, 41);
    const int64_t P = attention_probs_size(starts.data(), B, NH);
    std::vector<uint8_t> mask(P);
    dropout_mask(mask.data(), P, 0.1f, 5);
    for (bool dropout : {false, true}) {
      SCOPED_TRACE("HD=" + std::to_string(HD) + (dropout ? " with dropout" : ""));
      const uint8_t* mp = dropout ? mask.data() : nullptr;
      const auto [fast, ref] = both_paths([&] {
        Floats out(T * H), probs(P), dqkv(T * 3 * H);
        attention_forward_train(out.data(), probs.data(), qkv.data(), starts.data(), B, NH, HD,
                                scale, mp, 0.1f);
        attention_backward(dqkv.data(), dout.data(), qkv.data(), probs.data(), starts.data(), B, NH,
                           HD, scale, mp, 0.1f);
        Floats all = out;
        all.insert(all.end(), probs.begin(), probs.end());
        all.insert(all.end(), dqkv.begin(), dqkv.end());
        return all;
      });
      EXPECT_CLOSE(fast, ref, kFastTolerance);
    }
  }
}

TEST(FastMatchesReference, PoolingAndLoss) {
  const std::vector<int64_t> starts = {0, 9, 10, 10, 47};
  const int64_t B = 4, H = 50, T = starts[B], K = 5, R = 33;
  const Floats x = random_vector(T * H, 42), dp = random_vector(B * H, 43);
  const Floats logits = random_vector(R * K, 44, -4.0f, 4.0f), w = random_vector(K, 45, 0.1f, 3.0f);
  std::vector<int32_t> labels(R);
  for (int64_t i = 0; i < R; ++i) labels[i] = int32_t((i * 3) % K);
  const auto [fast, ref] = both_paths([&] {
    Floats pooled(B * H), dx(T * H, 0.25f), dfirst(T * H, -0.25f), dlogits(R * K);
    mean_pool_forward(pooled.data(), x.data(), starts.data(), B, H);
    mean_pool_backward(dx.data(), dp.data(), starts.data(), B, H);
    first_row_backward(dfirst.data(), dp.data(), starts.data(), B, H);
    const double loss =
        cross_entropy(dlogits.data(), logits.data(), labels.data(), R, K, w.data(), 0.1f);
    Floats all = pooled;
    for (const Floats* v : {&dx, &dfirst, &dlogits}) all.insert(all.end(), v->begin(), v->end());
    all.push_back(static_cast<float>(loss));
    return all;
  });
  EXPECT_CLOSE(fast, ref, kFastTolerance);
}

// ---- Conventions ---------------------------------------------------------------------------

TEST(Conventions, ParameterAndPoolingGradientsAccumulate) {
  for (bool reference : {false, true}) {
    SCOPED_TRACE(reference ? "reference" : "fast");
    ReferenceMode mode(reference);
    const int64_t M = 9, C = 11, V = 4;
    const Floats dy = random_vector(M * C, 50), xhat = random_vector(M * C, 51);
    const Floats rstd = random_vector(M, 52, 0.5f, 2.0f), gamma = random_vector(C, 53);
    const std::vector<int32_t> ids = {0, 1, 1, 3, 0, 0, 2, 1, 3};
    const std::vector<int64_t> starts = {0, 2, 2, 9};
    // Each gradient once from zero, then twice from zero: the second must be twice the first.
    auto run = [&](int times) {
      Floats dx(M * C), dgamma(C, 0.0f), dbeta(C, 0.0f), dbias(C, 0.0f), dtable(V * C, 0.0f);
      Floats dmean(M * C, 0.0f), dfirst(M * C, 0.0f);
      for (int k = 0; k < times; ++k) {
        layernorm_backward(dx.data(), dgamma.data(), dbeta.data(), dy.data(), xhat.data(),
                           rstd.data(), gamma.data(), M, C);
        bias_backward(dbias.data(), dy.data(), M, C);
        embedding_backward(dtable.data(), ids.data(), dy.data(), M, C);
        mean_pool_backward(dmean.data(), dy.data(), starts.data(), 3, C);
        first_row_backward(dfirst.data(), dy.data(), starts.data(), 3, C);
      }
      Floats all = dgamma;
      for (const Floats* v : {&dbeta, &dbias, &dtable, &dmean, &dfirst}) {
        all.insert(all.end(), v->begin(), v->end());
      }
      return all;
    };
    const Floats once = run(1), twice = run(2);
    Floats doubled = once;
    for (float& v : doubled) v *= 2;
    EXPECT_CLOSE(twice, doubled, 1e-6);
    double norm = 0;
    for (float v : once) norm += std::abs(v);
    EXPECT_GT(norm, 1.0);
  }
}

TEST(Conventions, DropoutMaskIsReplayableOnAnyThreadCount) {
  const int64_t n = 200001;
  for (float p : {0.1f, 0.5f}) {
    std::vector<uint8_t> one(n), two(n), other_seed(n);
    {
      ComputeThreads threads(1);
      dropout_mask(one.data(), n, p, 42);
    }
    {
      ComputeThreads threads(2);
      dropout_mask(two.data(), n, p, 42);
      dropout_mask(other_seed.data(), n, p, 43);
    }
    EXPECT_EQ(one, two);
    EXPECT_NE(one, other_seed);
    int64_t kept = 0;
    for (uint8_t m : one) kept += m;
    // Binomial standard deviation sqrt(p (1 - p) / n) <= 0.0012; allow 5 of them.
    EXPECT_NEAR(double(kept) / n, 1.0 - p, 0.006) << "p=" << p;
  }
  std::vector<uint8_t> all(1000, 0);
  dropout_mask(all.data(), 1000, 0.0f, 1);
  for (uint8_t m : all) ASSERT_EQ(m, 1);
}

TEST(Conventions, BackwardKernelsGiveTheSameBitsOnOneAndTwoThreads) {
  const std::vector<int64_t> starts = {0, 5, 40, 71};
  const int64_t B = 3, NH = 4, HD = 8, H = NH * HD, T = starts[B], V = 7;
  const Floats qkv = random_vector(T * 3 * H, 60), dout = random_vector(T * H, 61);
  std::vector<int32_t> ids(T);
  for (int64_t t = 0; t < T; ++t) ids[t] = int32_t(t % V);
  auto run = [&](int threads) {
    ComputeThreads scope(threads);
    ReferenceMode mode(false);
    const int64_t P = attention_probs_size(starts.data(), B, NH);
    Floats out(T * H), probs(P), dqkv(T * 3 * H), dtable(V * H, 0.0f), dbias(3 * H, 0.0f);
    attention_forward_train(out.data(), probs.data(), qkv.data(), starts.data(), B, NH, HD, 0.3f,
                            nullptr, 0.0f);
    attention_backward(dqkv.data(), dout.data(), qkv.data(), probs.data(), starts.data(), B, NH, HD,
                       0.3f, nullptr, 0.0f);
    embedding_backward(dtable.data(), ids.data(), dout.data(), T, H);
    bias_backward(dbias.data(), dqkv.data(), T, 3 * H);
    Floats all = dqkv;
    all.insert(all.end(), dtable.begin(), dtable.end());
    all.insert(all.end(), dbias.begin(), dbias.end());
    return all;
  };
  EXPECT_EQ(run(1), run(2));
}

TEST(Conventions, AttentionForwardTrainMatchesInferenceAttention) {
  const std::vector<int64_t> starts = {0, 1, 24, 24, 87};
  const int64_t B = 4, T = starts[B];
  for (int64_t HD : {3, 16, 32}) {
    SCOPED_TRACE("HD=" + std::to_string(HD));
    const int64_t NH = 2, H = NH * HD;
    const float scale = 1.0f / std::sqrt(float(HD));
    const Floats qkv = random_vector(T * 3 * H, 70, -2.0f, 2.0f);
    Floats out(T * H), probs(attention_probs_size(starts.data(), B, NH)), expected(T * H);
    attention_forward_train(out.data(), probs.data(), qkv.data(), starts.data(), B, NH, HD, scale,
                            nullptr, 0.0f);
    kernels::attention_forward_packed(expected.data(), qkv.data(), starts.data(), B, NH, HD, scale);
    EXPECT_CLOSE(out, expected, 1e-6);
  }
}

TEST(Conventions, BadArgumentsThrow) {
  const int64_t bad_starts[3] = {0, 4, 2};
  EXPECT_TRUE(test::throws_with<InvalidArgument>([&] { attention_probs_size(bad_starts, 2, 1); },
                                                 "starts decreases"));
  uint8_t mask[4];
  EXPECT_TRUE(test::throws_with<InvalidArgument>([&] { dropout_mask(mask, 4, 1.0f, 0); },
                                                 "dropout p must be in [0, 1)"));
  const float zero_weights[2] = {0.0f, 1.0f}, logits[2] = {};
  const int32_t label = 0;
  float d[2];
  EXPECT_TRUE(test::throws_with<InvalidArgument>(
      [&] { cross_entropy(d, logits, &label, 1, 2, zero_weights, 0.0f); }, "sum to 0"));
}

}  // namespace
}  // namespace bertlite::train
