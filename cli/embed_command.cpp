// cli/embed_command.cpp - `bertlite embed`: one feature vector per sentence of a file, written
// as .npy or .safetensors for any tool to read.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "bertlite/error.h"
#include "commands.h"
#include "input_table.h"
#include "io/model_path.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "long_text_options.h"
#include "model/features.h"
#include "precision_notice.h"
#include "util/progress.h"
#include "util/threads.h"
#include "validators.h"

namespace bertlite::cli {
namespace {

struct EmbedOptions {
  std::string model = io::kDefaultModel;
  TableInputOptions input;
  std::string out;
  std::string pooling;  // empty: the model's default
  bool normalize = false;
  bool no_normalize = false;
  std::size_t max_length = 0;
  bool no_truncate = false;
  LongTextOptions long_text;
  std::int64_t batch_tokens = 4096;
  int threads = 0;
  bool profile = false;
  std::string precision;  // empty: the model folder's (fp32 unless `bertlite quantize` made it)
};

// Time per stage and achieved GFLOPS, so the next bottleneck is visible.
void print_profile(const model::ForwardProfile& p, const model::Encoder& encoder) {
  const double total = p.tokenize_seconds + p.total_seconds() + p.pooling_seconds;
  const auto row = [&](const char* name, double seconds, double flops) {
    std::printf("  %-20s %8.3f s  %5.1f%%", name, seconds, total > 0 ? 100 * seconds / total : 0);
    if (flops > 0 && seconds > 0) std::printf("  %7.1f GFLOPS", flops / seconds / 1e9);
    std::printf("\n");
  };
  std::printf("profile (%lld forward passes, %s tokens; %s GEMMs: %s):\n",
              static_cast<long long>(p.calls), util::format_count(p.tokens).c_str(),
              kernels::precision_name(encoder.precision()), encoder.gemm_implementation().c_str());
  row("tokenize", p.tokenize_seconds, 0);
  for (int s = 0; s < model::ForwardProfile::kStageCount; ++s) {
    row(model::ForwardProfile::stage_name(s), p.seconds[s], p.flops[s]);
  }
  row("pooling", p.pooling_seconds, 0);
  row("total", total, p.total_flops());
  for (std::size_t l = 0; l < p.layer_seconds.size(); ++l) {
    std::printf("  layer %-14zu %8.3f s          %7.1f GFLOPS\n", l, p.layer_seconds[l],
                p.layer_seconds[l] > 0 ? p.layer_flops[l] / p.layer_seconds[l] / 1e9 : 0.0);
  }
}

void write_features(const std::filesystem::path& out, const model::Features& features,
                    const std::string& model) {
  if (out.extension() == ".safetensors") {
    const io::TensorToWrite tensor =
        io::f32_tensor("features", {features.rows, features.cols}, features.data);
    io::write_safetensors(out, std::span(&tensor, 1),
                          {{"model", model},
                           {"pooling", io::pooling_name(features.pooling)},
                           {"normalize", features.normalize ? "true" : "false"},
                           {"max_length", std::to_string(features.max_length)},
                           {"long_text", std::string(model::long_text_name(features.long_text))},
                           {"stride", std::to_string(features.stride)}});
  } else if (out.extension() == ".npy") {
    io::write_npy(out, features.data, features.rows, features.cols);
  } else {
    throw InvalidArgument("--out " + out.string() +
                          ": the name must end in .npy or .safetensors (that picks the format)");
  }
}

void run(const EmbedOptions& options) {
  // Check the output name before the long part, not after it.
  const std::filesystem::path out = options.out;
  if (out.extension() != ".npy" && out.extension() != ".safetensors") {
    throw InvalidArgument("--out " + out.string() +
                          ": the name must end in .npy or .safetensors (that picks the format)");
  }
  const int threads = util::set_compute_threads(options.threads);
  const InputTexts input = read_input_texts(options.input);
  std::optional<kernels::Precision> precision;
  if (!options.precision.empty()) precision = kernels::parse_precision(options.precision);
  const auto extractor = model::FeatureExtractor::load(io::resolve_model(options.model), precision);
  print_precision_notice(extractor.encoder().precision());

  model::FeatureOptions feature_options;
  if (!options.pooling.empty()) feature_options.pooling = io::parse_pooling(options.pooling);
  if (options.normalize) feature_options.normalize = true;
  if (options.no_normalize) feature_options.normalize = false;
  feature_options.max_length = options.max_length;
  apply_long_text_options(options.long_text, feature_options);
  if (options.no_truncate) feature_options.long_text = model::LongText::kError;
  feature_options.batch_tokens = options.batch_tokens;
  feature_options.threads = threads;
  feature_options.row_name = [&input](std::size_t i) { return input.row_name(i); };
  model::ForwardProfile profile;
  if (options.profile) feature_options.profile = &profile;

  util::ProgressBar bar("embedding", static_cast<std::int64_t>(input.texts.size()), "sentences");
  const model::Features features =
      extractor.extract(input.texts, feature_options, [&bar](std::int64_t n) { bar.advance(n); });
  bar.finish();
  const double seconds = bar.elapsed_seconds();
  write_features(out, features, options.model);

  std::printf(
      "%s sentences, %s tokens, %s %s, %.2f s, %s tokens/s -> %s [%lld, %lld] "
      "(%s pooling%s)\n",
      util::format_count(features.rows).c_str(), util::format_count(features.tokens).c_str(),
      util::format_count(features.long_text == model::LongText::kWindow ? features.windowed
                                                                        : features.truncated)
          .c_str(),
      features.long_text == model::LongText::kWindow ? "read in windows" : "truncated", seconds,
      util::format_count(static_cast<std::int64_t>(seconds > 0 ? features.tokens / seconds : 0))
          .c_str(),
      out.string().c_str(), static_cast<long long>(features.rows),
      static_cast<long long>(features.cols), io::pooling_name(features.pooling),
      features.normalize ? ", L2-normalized" : "");
  if (options.profile) print_profile(profile, extractor.encoder());
}

}  // namespace

void add_embed_command(CLI::App& app) {
  auto options = std::make_shared<EmbedOptions>();
  CLI::App* cmd = app.add_subcommand(
      "embed",
      "Turn each sentence of a file into a feature vector (the encoder's pooled output) and\n"
      "write them as a float32 [sentences, hidden] matrix: .npy or .safetensors.");
  cmd->add_option("-m,--model", options->model, "Model folder or name")->capture_default_str();
  add_table_input_options(*cmd, options->input);
  options->input.required = true;
  cmd->add_option("-o,--out", options->out, "Output file: features.npy or features.safetensors")
      ->required();
  cmd->add_option("--pooling", options->pooling,
                  "cls (the [CLS] row, as the walkthrough), mean (over the sentence's tokens) or "
                  "pooler (BERT's tanh layer); default: the model's (sentence-transformers "
                  "folders name one), else cls")
      ->check(CLI::IsMember({"cls", "mean", "pooler"}));
  auto* normalize = cmd->add_flag("--normalize", options->normalize,
                                  "L2-normalize each vector (default: as the model folder says)");
  cmd->add_flag("--no-normalize", options->no_normalize, "Do not L2-normalize")
      ->excludes(normalize);
  cmd->add_option("--max-length", options->max_length,
                  "Cut inputs to this many tokens, special tokens included "
                  "(default: the model's max positions)");
  cmd->add_flag("--no-truncate", options->no_truncate,
                "Make an input longer than the limit an error instead of cutting it (the same as "
                "--long-text error)");
  add_long_text_options(*cmd, options->long_text);
  cmd->add_option("--batch-tokens", options->batch_tokens,
                  "Real tokens per forward pass (no padding is ever added)")
      ->capture_default_str()
      ->check(number_above_zero());
  cmd->add_option("-t,--threads", options->threads, "Threads (0 = all available cores)")
      ->capture_default_str();
  cmd->add_option("--precision", options->precision,
                  "GEMM number format: fp32 (exact), bf16 (about 2x faster on CPUs with bfloat16 "
                  "instructions, features within cosine 0.999), int8 (weights per channel, "
                  "activations per token; cosine 0.99). Default: the model's own, fp32 unless "
                  "`bertlite quantize` wrote it")
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
  cmd->add_flag("--profile", options->profile,
                "Print the time spent in each stage (tokenize, embeddings, QKV, attention, ...) "
                "and the GFLOPS each achieves, per stage and per layer");
  cmd->callback([options] { run(*options); });
}

}  // namespace bertlite::cli
