// bench/kernels/gemm_limit.cpp - how close Linear::forward gets to the machine's GEMM limit.
//
// Times kernels::Linear (oneDNN matmul) on the DistilBERT-base / BERT-base shapes of one packed
// batch (M = 2000 tokens; K x N = 768 x 768 attention projections, 768 x 2304 fused QKV,
// 768 x 3072 FFN in, 3072 x 768 FFN out) and reports achieved GFLOPS = 2 M K N / time, next to
// the naive reference (timed on fewer rows; it is ~100x slower). Both oneDNN plans are timed
// (one runtime-M primitive, or a primitive per M), and --sweep times them for M = 1 .. 4096,
// which is how LinearPlan::kDefault was chosen. Also times the non-GEMM kernels of a layer
// (attention, layernorm, GELU) on the same batch for scale.
//
// Usage: bench_gemm_limit [--threads 2] [--tokens 2000] [--seconds 1] [--sweep]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"
#include "kernels/ref/reference.h"
#include "util/threads.h"

namespace {

using bertlite::kernels::Activation;
using bertlite::kernels::Linear;
using bertlite::kernels::LinearEpilogue;
using bertlite::kernels::LinearPlan;

std::vector<float> random_vector(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

struct Timing {
  double best = 0;    // wall seconds, fastest repetition
  double median = 0;  // wall seconds
  double cpu = 0;     // CPU seconds of the process (all threads), least over repetitions
};

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Runs fn once to warm up, then repeatedly for about `seconds` (at least 3 times). CPU time is
// kept too: on a machine shared with other jobs, wall time measures the share we got, while
// flops per CPU-second (with one thread) still measures what the kernel does when it runs.
Timing time_it(const std::function<void()>& fn, double seconds) {
  using clock = std::chrono::steady_clock;
  fn();
  std::vector<double> runs;
  double cpu = INFINITY;
  const auto start = clock::now();
  while (runs.size() < 3 || std::chrono::duration<double>(clock::now() - start).count() < seconds) {
    const auto t0 = clock::now();
    const double c0 = process_cpu_seconds();
    fn();
    cpu = std::min(cpu, process_cpu_seconds() - c0);
    runs.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::sort(runs.begin(), runs.end());
  return {runs.front(), runs[runs.size() / 2], cpu};
}

double gflops(double flops, double seconds) {
  return flops / seconds / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"GFLOPS of kernels::Linear on BERT-base shapes"};
  int threads = 2;
  int64_t tokens = 2000;
  double seconds = 1.0;
  bool sweep = false;
  app.add_option("--threads", threads, "compute threads (0 = all cores)");
  app.add_option("--tokens", tokens, "rows M of the packed batch")->check(CLI::PositiveNumber);
  app.add_option("--seconds", seconds, "time per measurement");
  app.add_flag("--sweep", sweep, "also time both plans for M = 1 .. 4096");
  CLI11_PARSE(app, argc, argv);
  threads = bertlite::util::set_compute_threads(threads);
  std::printf(
      "threads=%d tokens=%lld. GFLOPS = 2*M*K*N / time: wall time of the best and median "
      "repeat,\nand per CPU-second of the process (= per core busy; with --threads 1 the figure "
      "that\nstays meaningful on a shared, overloaded machine)\n",
      threads, static_cast<long long>(tokens));

  struct Shape {
    const char* name;
    int64_t K, N;
    Activation activation;
  };
  const Shape shapes[] = {{"attn out   768x768", 768, 768, Activation::kNone},
                          {"fused QKV  768x2304", 768, 2304, Activation::kNone},
                          {"FFN in     768x3072 +GELU", 768, 3072, Activation::kGeluErf},
                          {"FFN out    3072x768", 3072, 768, Activation::kNone}};
  const int64_t M = tokens;
  double total_flops = 0, total_best = 0;
  std::printf("%-27s %-10s %9s %9s %9s %9s  %s\n", "shape (KxN)", "plan", "best", "median",
              "per-cpu-s", "ms", "oneDNN impl");
  for (const Shape& s : shapes) {
    const auto w = random_vector(s.N * s.K, 1), b = random_vector(s.N, 2);
    const auto x = random_vector(M * s.K, 3);
    std::vector<float> y(M * s.N);
    const double flops = 2.0 * M * s.K * s.N;
    for (LinearPlan plan : {LinearPlan::kDefault, LinearPlan::kRuntimeM, LinearPlan::kPerM}) {
      const Linear linear(w.data(), b.data(), s.N, s.K, LinearEpilogue{s.activation, false}, plan);
      const Timing t = time_it([&] { linear.forward(y.data(), x.data(), M); }, seconds);
      const char* plan_name = plan == LinearPlan::kDefault    ? "default"
                              : plan == LinearPlan::kRuntimeM ? "runtime-M"
                                                              : "per-M";
      std::printf("%-27s %-10s %9.1f %9.1f %9.1f %9.2f  %s\n", s.name, plan_name,
                  gflops(flops, t.best), gflops(flops, t.median), gflops(flops, t.cpu),
                  t.best * 1e3, linear.implementation().c_str());
      if (plan == LinearPlan::kDefault) {
        total_flops += flops;
        total_best += t.best;
      }
    }
    // The reference on a slice of rows: same per-row work, so GFLOPS compare directly.
    const int64_t ref_rows = std::min<int64_t>(M, 16);
    const Timing r = time_it(
        [&] {
          bertlite::kernels::linear_reference(y.data(), x.data(), w.data(), b.data(), ref_rows, s.K,
                                              s.N, LinearEpilogue{s.activation, false});
        },
        seconds / 2);
    const double ref_flops = 2.0 * ref_rows * s.K * s.N;
    std::printf("%-27s %-10s %9.2f %9.2f %9.2f %9s  (1 thread, %lld rows)\n", s.name, "reference",
                gflops(ref_flops, r.best), gflops(ref_flops, r.median), gflops(ref_flops, r.cpu),
                "-", static_cast<long long>(ref_rows));
  }
  std::printf("one layer's GEMMs (default plan): %.1f GFLOPS, %.1f ms\n",
              gflops(total_flops, total_best), total_best * 1e3);

  // The rest of a layer on the same batch, packed as sequences of 128 tokens.
  {
    const int64_t NH = 12, HD = 64, H = NH * HD, T = 128;
    std::vector<int64_t> starts{0};
    while (starts.back() < M) starts.push_back(std::min(M, starts.back() + T));
    const int64_t B = int64_t(starts.size()) - 1;
    const auto qkv = random_vector(M * 3 * H, 4);
    std::vector<float> out(M * H);
    double attn_flops = 0;
    for (int64_t b = 0; b < B; ++b) {
      const double t = double(starts[b + 1] - starts[b]);
      attn_flops += 4.0 * t * t * H;  // q k^T and p v
    }
    const Timing a = time_it(
        [&] {
          bertlite::kernels::attention_forward_packed(out.data(), qkv.data(), starts.data(), B, NH,
                                                      HD, 1.0f / 8.0f);
        },
        seconds);
    std::printf(
        "attention  %lld seqs x %lld tokens, 12x64 heads: %.1f GFLOPS (%.1f per CPU-s), %.2f ms\n",
        static_cast<long long>(B), static_cast<long long>(T), gflops(attn_flops, a.best),
        gflops(attn_flops, a.cpu), a.best * 1e3);
    const auto in = random_vector(M * H, 5), res = random_vector(M * H, 6);
    const auto gamma = random_vector(H, 7), beta = random_vector(H, 8);
    const Timing l = time_it(
        [&] {
          bertlite::kernels::layernorm_forward(out.data(), nullptr, nullptr, in.data(), res.data(),
                                               gamma.data(), beta.data(), M, H, 1e-12f);
        },
        seconds);
    std::printf("layernorm+residual [%lld, 768]: %.2f ms (%.1f GB/s)\n", static_cast<long long>(M),
                l.best * 1e3, 3.0 * 4 * M * H / l.best / 1e9);
    std::vector<float> act = random_vector(M * 3072, 9);
    const Timing g = time_it(
        [&] {
          bertlite::kernels::gelu_forward(act.data(), int64_t(act.size()),
                                          bertlite::kernels::GeluKind::kErf);
        },
        seconds);
    std::printf("gelu_forward (unfused) [%lld, 3072]: %.2f ms\n", static_cast<long long>(M),
                g.best * 1e3);
  }

  if (sweep) {
    const int64_t K = 768, N = 768;
    const auto w = random_vector(N * K, 1), b = random_vector(N, 2);
    const Linear runtime(w.data(), b.data(), N, K, {}, LinearPlan::kRuntimeM);
    const Linear per_m(w.data(), b.data(), N, K, {}, LinearPlan::kPerM);
    std::printf(
        "\nM sweep, K=N=768: GFLOPS, wall (best repeat) and per CPU-second\n%6s %10s %10s %10s "
        "%10s\n",
        "M", "runtime-M", "per-M", "rt cpu", "per-M cpu");
    for (int64_t m : {1, 2, 4, 7, 16, 33, 64, 128, 256, 512, 1024, 2000, 4096}) {
      const auto x = random_vector(m * K, 3);
      std::vector<float> y(m * N);
      const double flops = 2.0 * m * K * N;
      const Timing tr = time_it([&] { runtime.forward(y.data(), x.data(), m); }, seconds / 4);
      const Timing tp = time_it([&] { per_m.forward(y.data(), x.data(), m); }, seconds / 4);
      std::printf("%6lld %10.1f %10.1f %10.1f %10.1f\n", static_cast<long long>(m),
                  gflops(flops, tr.best), gflops(flops, tp.best), gflops(flops, tr.cpu),
                  gflops(flops, tp.cpu));
    }
  }
  return 0;
}
