// bench/kernels/gemm_limit.cpp - how close Linear::forward gets to the machine's GEMM limit.
//
// Times kernels::Linear (oneDNN matmul) on the four GEMM shapes of an encoder layer for one
// packed batch (default: DistilBERT-base / BERT-base, hidden H = 768, FFN width I = 3072,
// M = 2000 tokens; K x N = H x H attention output, H x 3H fused QKV, H x I FFN in, I x H FFN out;
// --hidden, --ffn and --heads give another model's) and reports achieved GFLOPS =
// 2 M K N / time, next to the naive reference (timed on fewer rows; it is ~100x slower). Both
// oneDNN plans are timed (one runtime-M primitive, or a primitive per M), and --sweep times them
// for M = 1 .. 4096, which is how LinearPlan::kDefault was chosen. Also times the non-GEMM
// kernels of a layer (attention, layernorm, GELU) on the same batch for scale.
//
// --training times instead what a training step runs for each of those Linears: the three
// kernels::gemm calls on weights that are not prepacked (forward y = x W^T, input gradient
// dx = dy W, weight gradient dW += dy^T x), the fine-tuning loop's GEMM limit.
// --precisions times Linear's default plan in fp32, int8 and bf16 side by side on each shape.
// --json FILE also writes the GEMM timings (per GEMM and their FLOP-weighted total) as JSON.
//
// Usage: bench_gemm_limit [--threads 2] [--tokens 2000] [--seconds 1] [--sweep]
//                         [--hidden 768 --ffn 3072 --heads 12] [--training] [--precisions]
//                         [--json FILE]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/gemm.h"
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

// One timed GEMM, for the --json report.
struct GemmRecord {
  std::string name;
  int64_t M, N, K;
  double flops;
  Timing t;
};

// Names are plain ASCII from this file; no escaping needed.
bool write_json(const std::string& path, const char* mode, int threads, int64_t tokens,
                int64_t hidden, int64_t ffn, const std::vector<GemmRecord>& gemms) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  double flops = 0, best = 0, median = 0;
  std::fprintf(f,
               "{\"mode\": \"%s\", \"threads\": %d, \"tokens\": %lld, \"hidden\": %lld, "
               "\"ffn\": %lld, \"gemms\": [",
               mode, threads, static_cast<long long>(tokens), static_cast<long long>(hidden),
               static_cast<long long>(ffn));
  for (size_t i = 0; i < gemms.size(); ++i) {
    const GemmRecord& g = gemms[i];
    std::fprintf(f,
                 "%s\n {\"name\": \"%s\", \"M\": %lld, \"N\": %lld, \"K\": %lld, "
                 "\"flops\": %.0f, \"best_seconds\": %.9g, \"median_seconds\": %.9g, "
                 "\"best_gflops\": %.4g, \"median_gflops\": %.4g, \"cpu_gflops\": %.4g}",
                 i ? "," : "", g.name.c_str(), static_cast<long long>(g.M),
                 static_cast<long long>(g.N), static_cast<long long>(g.K), g.flops, g.t.best,
                 g.t.median, gflops(g.flops, g.t.best), gflops(g.flops, g.t.median),
                 gflops(g.flops, g.t.cpu));
    flops += g.flops;
    best += g.t.best;
    median += g.t.median;
  }
  std::fprintf(f,
               "],\n \"total\": {\"flops\": %.0f, \"best_seconds\": %.9g, "
               "\"median_seconds\": %.9g, \"best_gflops\": %.4g, \"median_gflops\": %.4g}}\n",
               flops, best, median, gflops(flops, best), gflops(flops, median));
  return std::fclose(f) == 0;
}

struct Shape {
  const char* key;   // for --json
  std::string name;  // for the table
  int64_t K, N;
  Activation activation;
};

// Linear::forward with each plan on every shape, and the naive reference; records the default
// plan's timings.
std::vector<GemmRecord> time_linear_plans(std::span<const Shape> shapes, int64_t M,
                                          double seconds) {
  std::vector<GemmRecord> records;
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
      std::printf("%-27s %-10s %9.1f %9.1f %9.1f %9.2f  %s\n", s.name.c_str(), plan_name,
                  gflops(flops, t.best), gflops(flops, t.median), gflops(flops, t.cpu),
                  t.best * 1e3, linear.implementation().c_str());
      if (plan == LinearPlan::kDefault) records.push_back({s.key, M, s.N, s.K, flops, t});
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
    std::printf("%-27s %-10s %9.2f %9.2f %9.2f %9s  (1 thread, %lld rows)\n", s.name.c_str(),
                "reference", gflops(ref_flops, r.best), gflops(ref_flops, r.median),
                gflops(ref_flops, r.cpu), "-", static_cast<long long>(ref_rows));
  }
  return records;
}

// Linear::forward in each precision, side by side on every shape (default plans): what int8 and
// bf16 gain over fp32 on this CPU, with the implementation each ran.
void time_precisions(std::span<const Shape> shapes, int64_t M, double seconds) {
  using bertlite::kernels::Precision;
  std::printf("%-27s %-5s %9s %9s %9s %8s  %s\n", "shape (KxN)", "prec", "best", "median",
              "per-cpu-s", "vs fp32", "implementation");
  for (const Shape& s : shapes) {
    const auto w = random_vector(s.N * s.K, 1), b = random_vector(s.N, 2);
    const auto x = random_vector(M * s.K, 3);
    std::vector<float> y(M * s.N);
    const double flops = 2.0 * M * s.K * s.N;
    double fp32_median = 0;
    for (Precision p : {Precision::kF32, Precision::kInt8, Precision::kBF16}) {
      const Linear linear(w.data(), b.data(), s.N, s.K, LinearEpilogue{s.activation, false},
                          LinearPlan::kDefault, p);
      const Timing t = time_it([&] { linear.forward(y.data(), x.data(), M); }, seconds);
      if (p == Precision::kF32) fp32_median = t.median;
      std::printf("%-27s %-5s %9.1f %9.1f %9.1f %7.2fx  %s\n", s.name.c_str(),
                  bertlite::kernels::precision_name(p), gflops(flops, t.best),
                  gflops(flops, t.median), gflops(flops, t.cpu), fp32_median / t.median,
                  linear.implementation().c_str());
    }
  }
}

// A training step's GEMMs for each Linear, as train/sequence_classifier.cpp calls kernels::gemm
// (row-major, W[N, K] as nn.Linear stores it): forward y = x W^T, input gradient dx = dy W,
// weight gradient dW += dy^T x. All three do 2 M K N FLOPs.
std::vector<GemmRecord> time_training_gemms(std::span<const Shape> shapes, int64_t M,
                                            double seconds) {
  using bertlite::kernels::gemm;
  std::vector<GemmRecord> records;
  std::printf("%-27s %-12s %6s %6s %6s %9s %9s %9s %9s\n", "shape (KxN)", "GEMM", "M", "N", "K",
              "best", "median", "per-cpu-s", "ms");
  for (const Shape& s : shapes) {
    const int64_t K = s.K, N = s.N;
    const auto w = random_vector(N * K, 1), x = random_vector(M * K, 3);
    const auto dy = random_vector(M * N, 4);
    std::vector<float> y(M * N), dx(M * K), dw(N * K, 0.0f);
    const double flops = 2.0 * M * K * N;
    struct Call {
      const char* what;
      int64_t m, n, k;  // C[m, n] = op(A)[m, k] op(B)[k, n]
      std::function<void()> fn;
    };
    const Call calls[] = {
        {"forward", M, N, K,
         [&] { gemm(false, true, M, N, K, 1.0f, x.data(), K, w.data(), K, 0.0f, y.data(), N); }},
        {"input_grad", M, K, N,
         [&] { gemm(false, false, M, K, N, 1.0f, dy.data(), N, w.data(), K, 0.0f, dx.data(), K); }},
        {"weight_grad", N, K, M,
         [&] { gemm(true, false, N, K, M, 1.0f, dy.data(), N, x.data(), K, 1.0f, dw.data(), K); }}};
    for (const Call& c : calls) {
      const Timing t = time_it(c.fn, seconds);
      std::printf("%-27s %-12s %6lld %6lld %6lld %9.1f %9.1f %9.1f %9.2f\n", s.name.c_str(), c.what,
                  static_cast<long long>(c.m), static_cast<long long>(c.n),
                  static_cast<long long>(c.k), gflops(flops, t.best), gflops(flops, t.median),
                  gflops(flops, t.cpu), t.best * 1e3);
      records.push_back({std::string(s.key) + "." + c.what, c.m, c.n, c.k, flops, t});
    }
  }
  return records;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "GFLOPS of kernels::Linear (or, --training, kernels::gemm) on a BERT layer's shapes"};
  int threads = 2;
  int64_t tokens = 2000;
  double seconds = 1.0;
  bool sweep = false;
  int64_t hidden = 768, ffn = 3072, heads = 12;
  bool training = false;
  std::string json_path;
  app.add_option("--threads", threads, "compute threads (0 = all cores)");
  app.add_option("--tokens", tokens, "rows M of the packed batch")->check(CLI::PositiveNumber);
  app.add_option("--seconds", seconds, "time per measurement");
  app.add_flag("--sweep", sweep, "also time both plans for M = 1 .. 4096");
  app.add_option("--hidden", hidden, "hidden size H of the model")->check(CLI::PositiveNumber);
  app.add_option("--ffn", ffn, "FFN width I of the model")->check(CLI::PositiveNumber);
  app.add_option("--heads", heads, "attention heads (for the attention timing; must divide H)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--training", training,
               "time a training step's three GEMMs per Linear (kernels::gemm) instead of "
               "Linear's plans");
  bool precisions = false;
  app.add_flag("--precisions", precisions,
               "time Linear in fp32, int8 and bf16 side by side instead of the plans");
  app.add_option("--json", json_path, "also write the GEMM timings to this file as JSON");
  CLI11_PARSE(app, argc, argv);
  if (hidden % heads != 0) {
    std::fprintf(stderr, "--heads %lld does not divide --hidden %lld\n",
                 static_cast<long long>(heads), static_cast<long long>(hidden));
    return 2;
  }
  threads = bertlite::util::set_compute_threads(threads);
  std::printf(
      "threads=%d tokens=%lld hidden=%lld ffn=%lld. GFLOPS = 2*M*K*N / time: wall time of the "
      "best and median\nrepeat, and per CPU-second of the process (= per core busy; with "
      "--threads 1 the figure that\nstays meaningful on a shared, overloaded machine)\n",
      threads, static_cast<long long>(tokens), static_cast<long long>(hidden),
      static_cast<long long>(ffn));

  const auto shape_name = [](const char* what, int64_t K, int64_t N, const char* suffix) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%-10s %lldx%lld%s", what, static_cast<long long>(K),
                  static_cast<long long>(N), suffix);
    return std::string(buf);
  };
  const int64_t M = tokens, H = hidden, I = ffn;
  const Shape shapes[] = {
      {"attn_out", shape_name("attn out", H, H, ""), H, H, Activation::kNone},
      {"qkv", shape_name("fused QKV", H, 3 * H, ""), H, 3 * H, Activation::kNone},
      {"ffn_in", shape_name("FFN in", H, I, training ? "" : " +GELU"), H, I, Activation::kGeluErf},
      {"ffn_out", shape_name("FFN out", I, H, ""), I, H, Activation::kNone}};
  std::vector<GemmRecord> records;
  if (precisions) {
    time_precisions(shapes, M, seconds);
    return 0;
  }
  if (training) {
    records = time_training_gemms(shapes, M, seconds);
  } else {
    records = time_linear_plans(shapes, M, seconds);
  }
  double total_flops = 0, total_best = 0;
  for (const GemmRecord& g : records) {
    total_flops += g.flops;
    total_best += g.t.best;
  }
  std::printf("one layer's %s: %.1f GFLOPS, %.1f ms\n",
              training ? "training GEMMs (forward + both gradients)" : "GEMMs (default plan)",
              gflops(total_flops, total_best), total_best * 1e3);
  if (!json_path.empty() &&
      !write_json(json_path, training ? "training" : "inference", threads, M, H, I, records)) {
    std::fprintf(stderr, "cannot write %s\n", json_path.c_str());
    return 1;
  }

  // The rest of a layer on the same batch, packed as sequences of 128 tokens.
  {
    const int64_t NH = heads, HD = H / heads, T = 128;
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
                                                      HD, 1.0f / std::sqrt(float(HD)));
        },
        seconds);
    std::printf(
        "attention  %lld seqs x %lld tokens, %lldx%lld heads: %.1f GFLOPS (%.1f per CPU-s), "
        "%.2f ms\n",
        static_cast<long long>(B), static_cast<long long>(T), static_cast<long long>(NH),
        static_cast<long long>(HD), gflops(attn_flops, a.best), gflops(attn_flops, a.cpu),
        a.best * 1e3);
    const auto in = random_vector(M * H, 5), res = random_vector(M * H, 6);
    const auto gamma = random_vector(H, 7), beta = random_vector(H, 8);
    const Timing l = time_it(
        [&] {
          bertlite::kernels::layernorm_forward(out.data(), nullptr, nullptr, in.data(), res.data(),
                                               gamma.data(), beta.data(), M, H, 1e-12f);
        },
        seconds);
    std::printf("layernorm+residual [%lld, %lld]: %.2f ms (%.1f GB/s)\n", static_cast<long long>(M),
                static_cast<long long>(H), l.best * 1e3, 3.0 * 4 * M * H / l.best / 1e9);
    std::vector<float> act = random_vector(M * I, 9);
    const Timing g = time_it(
        [&] {
          bertlite::kernels::gelu_forward(act.data(), int64_t(act.size()),
                                          bertlite::kernels::GeluKind::kErf);
        },
        seconds);
    std::printf("gelu_forward (unfused) [%lld, %lld]: %.2f ms\n", static_cast<long long>(M),
                static_cast<long long>(I), g.best * 1e3);
  }

  if (sweep) {
    const int64_t K = H, N = H;
    const auto w = random_vector(N * K, 1), b = random_vector(N, 2);
    const Linear runtime(w.data(), b.data(), N, K, {}, LinearPlan::kRuntimeM);
    const Linear per_m(w.data(), b.data(), N, K, {}, LinearPlan::kPerM);
    std::printf(
        "\nM sweep, K=N=%lld: GFLOPS, wall (best repeat) and per CPU-second\n%6s %10s %10s %10s "
        "%10s\n",
        static_cast<long long>(H), "M", "runtime-M", "per-M", "rt cpu", "per-M cpu");
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
