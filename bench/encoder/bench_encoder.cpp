// bench/encoder/bench_encoder.cpp - times bertlite's encoder (forward + pooling) over a file of
// sentences, batched the way bench_encoder.py batches its peers; or, with --gemm-limit, times the
// model's four GEMM shapes alone, which is the most the encoder could reach if it were all GEMM.
//
// Encoder run. Outside the timed region: read the sentences (column 0 of a TSV, or --column),
// load the model, tokenize (special tokens, truncation at the model's positions), and plan the
// batches. The plan is the one bench_encoder.py uses for PyTorch and ONNX Runtime, so every
// engine sees exactly the same batches:
//   order   = sentence indices stably sorted by token count, longest first (--no-sort: input
//             order);
//   batches = consecutive runs of that order, either --batch-size sentences each, or (with
//             --batch-tokens N) as many as fit N *padded* tokens: a padded engine's batch costs
//             count * longest, and with the longest first that is count * first length.
// Then --warmup-batches batches are run untimed (page faults, oneDNN's JIT, caches), and
// --repeat timed passes follow. A pass packs each batch (bertlite never pads), runs
// Encoder::forward, pools, and writes each sentence's features to its row in input order.
// --precision fp32|bf16|int8 is the GEMMs' number format (kernels/linear.h), as `bertlite embed
// --precision` loads the model; --max-length N truncates every sentence to N tokens (special
// tokens included, as Hugging Face's truncation=True, max_length=N), for the 128-token latency
// inputs.
//
// Useful FLOPs are counted exactly from the shapes, real tokens only (multiply-add = 2):
//   per layer   2*T*H*3H            fused Q, K, V projection
//             + 2*2*sum_i(L_i^2)*H  q k^T and p v, each sequence attending to itself
//             + 2*T*H*H             attention output projection
//             + 2*2*T*H*I           FFN in and FFN out
//   times the number of layers, plus 2*B*H*H for BERT's pooler when it is the pooling.
// T = real tokens, B = sentences, L_i = tokens of sentence i, H hidden, I FFN width. Embeddings,
// LayerNorm, GELU, softmax and pooling are not counted (a few percent of the time, ~0 FLOPs).
// With --cls-rows-only the last layer does less (see ForwardOptions): "flops_done" then counts
// what it does, 2*T*H*3H + 2*2*T*H + 2*B*H*H + 2*2*B*H*I for that layer; "useful_flops" stays the
// full forward's count, the work the peers do.
//
// Prints one JSON object: sentences, tokens, padded_tokens (what a padded engine computes over
// with these batches), batches, useful_flops, flops_done, seconds[] and cpu_seconds[] per pass,
// median, batch_seconds[] (every batch of every timed pass: per-call latency at --batch-size 1),
// sentences_per_s, tokens_per_s, gflops (flops_done / median), peak_rss_mb (the process's
// resident high-water mark, VmHWM), and with --profile the
// encoder's time per stage summed over the timed passes. --features-out writes the features
// [sentences, H] as .npy for bench_encoder.py to compare with the peers.
//
// GEMM-limit run (--gemm-limit): kernels::Linear, exactly as the encoder builds them (weights
// prepacked, GELU fused into FFN in, default plan, --precision), at the model's shapes [K x N] = H
// x 3H, H x H, H x I, I x H with --gemm-rows rows of random input; each timed for --seconds after a
// warm-up. Prints per-shape GFLOPS (median and best repeat) and the layer's mix: the four
// shapes' FLOPs over the sum of their median times. (For int8 these are integer operations: GOPS.)
//
// Usage: bench_encoder --model DIR --sentences data/sst2/train.tsv [--limit N] [--threads 2]
//          [--batch-size 32 | --batch-tokens N] [--max-length N] [--precision fp32|bf16|int8]
//          [--repeat 1] [--features-out F.npy] [--profile]
//        bench_encoder --gemm-limit --model DIR [--precision P] [--gemm-rows 2048] [--seconds 2]
//          [--threads 2]
// Driven by bench_encoder.py; see bench/encoder/README.md.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "bertlite/error.h"
#include "bertlite/tokenizer.h"
#include "io/dataset.h"
#include "io/model_config.h"
#include "io/model_path.h"
#include "io/npy.h"
#include "kernels/linear.h"
#include "model/encoder.h"
#include "util/threads.h"

namespace {

using bertlite::io::Pooling;
using Clock = std::chrono::steady_clock;

// CPU time of the whole process (every thread), in seconds.
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// This process's resident high-water mark (VmHWM of /proc/self/status) in MB; NaN where the
// file is missing. bench_encoder.py reports its Python engines' the same way.
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024;  // kB
  }
  return std::nan("");
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Sentence indices per batch, by the rule in the file comment (shared with bench_encoder.py).
std::vector<std::vector<std::size_t>> plan_batches(const std::vector<std::size_t>& lengths,
                                                   bool sort, std::int64_t batch_size,
                                                   std::int64_t batch_tokens) {
  std::vector<std::size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (sort) {
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return lengths[a] > lengths[b]; });
  }
  std::vector<std::vector<std::size_t>> batches;
  std::size_t next = 0;
  while (next < order.size()) {
    std::vector<std::size_t> batch;
    std::size_t longest = 0;
    while (next < order.size()) {
      const std::size_t length = lengths[order[next]];
      const std::size_t padded = (batch.size() + 1) * std::max(longest, length);
      const bool full = batch_tokens > 0
                            ? !batch.empty() && padded > static_cast<std::size_t>(batch_tokens)
                            : batch.size() == static_cast<std::size_t>(batch_size);
      if (full) break;
      batch.push_back(order[next++]);
      longest = std::max(longest, length);
    }
    batches.push_back(std::move(batch));
  }
  return batches;
}

// The formula of the file comment, for the batches as planned (attention is per sentence, so
// batching does not change the count).
struct FlopCount {
  double useful = 0;  // the full forward
  double done = 0;    // what the run computes (less with --cls-rows-only)
};

FlopCount count_flops(const bertlite::io::ModelConfig& c, const std::vector<std::size_t>& lengths,
                      bool pooler, bool cls_rows_only) {
  const double H = static_cast<double>(c.hidden), I = static_cast<double>(c.intermediate);
  double T = 0, sum_l2 = 0;
  for (std::size_t l : lengths) {
    T += static_cast<double>(l);
    sum_l2 += static_cast<double>(l) * static_cast<double>(l);
  }
  const double B = static_cast<double>(lengths.size());
  const double layer = 2 * T * H * 3 * H + 2 * 2 * sum_l2 * H + 2 * T * H * H + 2 * 2 * T * H * I;
  const double pool = pooler ? 2 * B * H * H : 0;
  FlopCount f;
  f.useful = static_cast<double>(c.layers) * layer + pool;
  f.done = f.useful;
  if (cls_rows_only) {
    const double last = 2 * T * H * 3 * H + 2 * 2 * T * H + 2 * B * H * H + 2 * 2 * B * H * I;
    f.done = static_cast<double>(c.layers - 1) * layer + last + pool;
  }
  return f;
}

std::vector<float> random_vector(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

nlohmann::json gemm_limit(const bertlite::io::ModelConfig& c, std::int64_t M, double seconds,
                          bertlite::kernels::Precision precision) {
  using bertlite::kernels::Activation;
  using bertlite::kernels::Linear;
  using bertlite::kernels::LinearPlan;
  struct Shape {
    const char* name;
    std::int64_t K, N;
    Activation activation;
  };
  const std::int64_t H = c.hidden, I = c.intermediate;
  const Activation gelu = c.activation == bertlite::io::Activation::kGeluTanh
                              ? Activation::kGeluTanh
                              : Activation::kGeluErf;
  const Shape shapes[] = {{"qkv", H, 3 * H, Activation::kNone},
                          {"attention_output", H, H, Activation::kNone},
                          {"ffn_in", H, I, gelu},
                          {"ffn_out", I, H, Activation::kNone}};
  nlohmann::json out;
  out["rows"] = M;
  double flops_sum = 0, median_sum = 0, best_sum = 0;
  for (const Shape& s : shapes) {
    const auto w = random_vector(static_cast<std::size_t>(s.N * s.K), 1);
    const auto b = random_vector(static_cast<std::size_t>(s.N), 2);
    const auto x = random_vector(static_cast<std::size_t>(M * s.K), 3);
    std::vector<float> y(static_cast<std::size_t>(M * s.N));
    const Linear linear(w.data(), b.data(), s.N, s.K, {s.activation, false}, LinearPlan::kDefault,
                        precision);
    linear.forward(y.data(), x.data(), M);  // warm-up: oneDNN JIT, page faults
    std::vector<double> runs;
    const auto start = Clock::now();
    while (runs.size() < 5 || seconds_since(start) < seconds) {
      const auto t0 = Clock::now();
      linear.forward(y.data(), x.data(), M);
      runs.push_back(seconds_since(t0));
    }
    const double flops = 2.0 * static_cast<double>(M * s.K * s.N);
    const double mid = median(runs), best = *std::min_element(runs.begin(), runs.end());
    out["shapes"].push_back({{"name", s.name},
                             {"K", s.K},
                             {"N", s.N},
                             {"repeats", runs.size()},
                             {"median_gflops", flops / mid / 1e9},
                             {"best_gflops", flops / best / 1e9},
                             {"implementation", linear.implementation()}});
    flops_sum += flops;
    median_sum += mid;
    best_sum += best;
  }
  // The mix weights each shape by its share of a layer's GEMM FLOPs (each appears once a layer).
  out["median_gflops"] = flops_sum / median_sum / 1e9;
  out["best_gflops"] = flops_sum / best_sum / 1e9;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bertlite::util::reexec_with_openmp_spin_limit(argv);  // as bertlite's own command line does
  CLI::App app{"Times bertlite's encoder over a file of sentences (see bench/encoder/README.md)."};
  std::string model = bertlite::io::kDefaultModel;
  std::string sentences_path;
  std::string column = "0";
  std::size_t limit = 0;
  int threads = 2;
  std::int64_t batch_size = 32;
  std::int64_t batch_tokens = 0;
  bool no_sort = false;
  std::string pooling_name;  // empty: the model's default
  std::string normalize_name = "default";
  bool cls_rows_only = false;
  int repeat = 1;
  int warmup_batches = 4;
  std::string features_out;
  bool profile = false;
  bool gemm_limit_mode = false;
  std::int64_t gemm_rows = 2048;
  double gemm_seconds = 2.0;
  std::string precision_name = "fp32";
  std::size_t max_length = 0;  // 0: the model's positions
  app.add_option("--model", model, "Model folder or name")->capture_default_str();
  app.add_option("--sentences", sentences_path, "Sentences file (TSV/CSV/JSONL/plain text)");
  app.add_option("--column", column, "Column holding the text (name or 0-based index)")
      ->capture_default_str();
  app.add_option("--limit", limit, "Only the first N sentences (0 = all)");
  app.add_option("--threads", threads, "Compute threads (0 = all cores)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--batch-size", batch_size, "Sentences per batch")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--batch-tokens", batch_tokens,
                 "Instead of --batch-size: fill each batch up to N padded tokens")
      ->check(CLI::PositiveNumber);
  app.add_flag("--no-sort", no_sort, "Batch in input order instead of longest first");
  app.add_option("--max-length", max_length,
                 "Truncate sentences to N tokens, special tokens included (0 = the model's)");
  app.add_option("--precision", precision_name, "GEMM number format: fp32, bf16 or int8")
      ->capture_default_str();
  app.add_option("--pooling", pooling_name, "cls, mean or pooler (default: the model's)");
  app.add_option("--normalize", normalize_name, "L2-normalize features: default, yes or no")
      ->check(CLI::IsMember({"default", "yes", "no"}));
  app.add_flag("--cls-rows-only", cls_rows_only,
               "Last layer for [CLS] rows only (cls and pooler pooling)");
  app.add_option("--repeat", repeat, "Timed passes")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup-batches", warmup_batches, "Untimed batches run first")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--features-out", features_out, "Write the last pass's features as .npy");
  app.add_flag("--profile", profile, "Report the encoder's time per stage");
  app.add_flag("--gemm-limit", gemm_limit_mode, "Time the model's GEMM shapes alone");
  app.add_option("--gemm-rows", gemm_rows, "Rows M for --gemm-limit")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--seconds", gemm_seconds, "Time per shape for --gemm-limit")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    const int used_threads = bertlite::util::set_compute_threads(threads);
    const std::filesystem::path folder = bertlite::io::resolve_model(model);
    const bertlite::kernels::Precision precision =
        bertlite::kernels::parse_precision(precision_name);
    nlohmann::json report;
    report["threads"] = used_threads;
    report["model"] = folder.string();
    report["precision"] = bertlite::kernels::precision_name(precision);
    if (gemm_limit_mode) {
      const bertlite::io::ModelConfig config = bertlite::io::read_model_config(folder);
      report["impl"] = "bertlite-gemm-limit";
      report["gemm"] = gemm_limit(config, gemm_rows, gemm_seconds, precision);
      report["peak_rss_mb"] = peak_rss_mb();
      std::cout << report.dump() << '\n';
      return 0;
    }
    if (sentences_path.empty()) {
      std::cerr << "bench_encoder: --sentences is required (or --gemm-limit)\n";
      return 2;
    }

    std::vector<std::string> texts =
        bertlite::io::column(bertlite::io::read_table(sentences_path), column);
    if (limit > 0 && texts.size() > limit) texts.resize(limit);
    if (texts.empty()) throw bertlite::InvalidArgument(sentences_path + ": no sentences");

    const auto encoder = bertlite::model::Encoder::load(folder, precision);
    const auto tokenizer = bertlite::Tokenizer::from_folder(folder);
    const bertlite::io::ModelConfig& config = encoder.config();
    const Pooling pooling =
        pooling_name.empty() ? config.pooling : bertlite::io::parse_pooling(pooling_name);
    const bool normalize = normalize_name == "default" ? config.normalize : normalize_name == "yes";
    if (cls_rows_only && pooling == Pooling::kMean) {
      throw bertlite::InvalidArgument("--cls-rows-only needs cls or pooler pooling");
    }
    if (pooling == Pooling::kPooler && !encoder.has_pooler()) {
      throw bertlite::InvalidArgument(folder.string() + ": the model has no pooler");
    }

    bertlite::EncodeOptions encode;
    encode.max_length =
        max_length > 0 ? max_length : static_cast<std::size_t>(config.max_positions);
    const auto tokenize_start = Clock::now();
    const std::vector<bertlite::Encoding> encodings =
        tokenizer.encode_batch(std::span<const std::string>(texts), encode, used_threads);
    const double tokenize_seconds = seconds_since(tokenize_start);
    std::vector<std::size_t> lengths(encodings.size());
    std::int64_t tokens = 0;
    for (std::size_t i = 0; i < encodings.size(); ++i) {
      lengths[i] = encodings[i].size();
      tokens += static_cast<std::int64_t>(lengths[i]);
    }
    const auto batches = plan_batches(lengths, !no_sort, batch_size, batch_tokens);
    std::int64_t padded_tokens = 0;
    for (const auto& batch : batches) {
      std::size_t longest = 0;
      for (std::size_t i : batch) longest = std::max(longest, lengths[i]);
      padded_tokens += static_cast<std::int64_t>(longest * batch.size());
    }
    const FlopCount flops =
        count_flops(config, lengths, pooling == Pooling::kPooler, cls_rows_only);

    const std::int64_t H = config.hidden;
    std::vector<float> features(texts.size() * static_cast<std::size_t>(H));
    bertlite::model::ForwardProfile forward_profile;
    bertlite::model::ForwardOptions options;
    options.cls_rows_only = cls_rows_only;
    bertlite::model::PackedBatch packed;
    std::vector<float> hidden;
    double pooling_seconds = 0;
    const auto run_batch = [&](const std::vector<std::size_t>& batch, bool timed) {
      packed.clear();
      for (std::size_t i : batch) packed.add(encodings[i].ids, encodings[i].type_ids);
      options.profile = timed && profile ? &forward_profile : nullptr;
      encoder.forward(packed, hidden, options);
      const auto pool_start = Clock::now();
      const std::vector<float> pooled = cls_rows_only
                                            ? encoder.pool_cls_rows(hidden, pooling, normalize)
                                            : encoder.pool(packed, hidden, pooling, normalize);
      for (std::size_t b = 0; b < batch.size(); ++b) {
        std::copy_n(pooled.begin() + static_cast<std::ptrdiff_t>(b) * H, H,
                    features.begin() + static_cast<std::ptrdiff_t>(batch[b]) * H);
      }
      if (timed) pooling_seconds += seconds_since(pool_start);
    };

    for (int w = 0; w < warmup_batches && w < static_cast<int>(batches.size()); ++w) {
      run_batch(batches[static_cast<std::size_t>(w)], false);
    }
    std::vector<double> seconds, cpu_seconds, batch_seconds;
    for (int r = 0; r < repeat; ++r) {
      const double cpu_start = process_cpu_seconds();
      const auto start = Clock::now();
      for (const auto& batch : batches) {
        const auto batch_start = Clock::now();
        run_batch(batch, true);
        batch_seconds.push_back(seconds_since(batch_start));
      }
      seconds.push_back(seconds_since(start));
      cpu_seconds.push_back(process_cpu_seconds() - cpu_start);
    }
    if (!features_out.empty()) {
      bertlite::io::write_npy(features_out, features, static_cast<std::int64_t>(texts.size()), H);
    }

    const double mid = median(seconds);
    report["impl"] = cls_rows_only ? "bertlite-cls-rows-only" : "bertlite";
    report["pooling"] = bertlite::io::pooling_name(pooling);
    report["normalize"] = normalize;
    report["sentences"] = texts.size();
    report["tokens"] = tokens;
    report["padded_tokens"] = padded_tokens;
    report["batches"] = batches.size();
    report["sorted"] = !no_sort;
    report["batch_size"] = batch_tokens > 0 ? 0 : batch_size;
    report["batch_tokens"] = batch_tokens;
    report["tokenize_seconds"] = tokenize_seconds;
    report["useful_flops"] = flops.useful;
    report["flops_done"] = flops.done;
    report["seconds"] = seconds;
    report["cpu_seconds"] = cpu_seconds;
    report["batch_seconds"] = batch_seconds;
    report["max_length"] = encode.max_length;
    report["gemm_implementation"] = encoder.gemm_implementation();
    report["median"] = mid;
    report["sentences_per_s"] = static_cast<double>(texts.size()) / mid;
    report["tokens_per_s"] = static_cast<double>(tokens) / mid;
    report["gflops"] = flops.done / mid / 1e9;
    report["peak_rss_mb"] = peak_rss_mb();
    if (profile) {
      nlohmann::json stages = nlohmann::json::object();
      for (int s = 0; s < bertlite::model::ForwardProfile::kStageCount; ++s) {
        stages[bertlite::model::ForwardProfile::stage_name(s)] = {
            {"seconds", forward_profile.seconds[static_cast<std::size_t>(s)] / repeat},
            {"flops", forward_profile.flops[static_cast<std::size_t>(s)] / repeat}};
      }
      stages["pooling"] = {{"seconds", pooling_seconds / repeat}, {"flops", 0}};
      report["profile"] = stages;  // per pass (averaged over the timed passes)
    }
    std::cout << report.dump() << '\n';
  } catch (const bertlite::Error& error) {
    std::cerr << "bench_encoder: error: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
