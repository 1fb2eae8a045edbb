// cli/attention_command.cpp - `bertlite attention`: where each token looks, in every layer and
// head, for one sentence: a summary of what [CLS] attends to per layer, or the whole
// [layers, heads, T, T] array as .npy (the probabilities transformers gives with
// output_attentions=True).
#include <algorithm>
#include <cstdio>
#include <memory>

#include "bertlite/error.h"
#include "bertlite/tokenizer.h"
#include "commands.h"
#include "io/model_path.h"
#include "io/npy.h"
#include "model/encoder.h"
#include "util/threads.h"

namespace bertlite::cli {
namespace {

struct AttentionOptions {
  std::string model = io::kDefaultModel;
  std::string text;
  std::string out;
  int threads = 0;
};

void run(const AttentionOptions& options) {
  util::set_compute_threads(options.threads);
  const std::filesystem::path folder = io::resolve_model(options.model);
  const Tokenizer tokenizer = Tokenizer::from_folder(folder);
  const model::Encoder encoder = model::Encoder::load(folder);
  EncodeOptions encode;
  encode.max_length = static_cast<std::size_t>(encoder.config().max_positions);
  const Encoding e = tokenizer.encode(options.text, encode);
  const std::vector<std::vector<float>> layers = encoder.attention_probabilities(e.ids, e.type_ids);
  const auto T = static_cast<std::int64_t>(e.size());
  const std::int64_t NH = encoder.config().heads;

  if (!options.out.empty()) {
    std::vector<float> all;
    for (const std::vector<float>& layer : layers)
      all.insert(all.end(), layer.begin(), layer.end());
    // A 2-D .npy: [layers * heads * T, T]; reshape to [layers, heads, T, T].
    io::write_npy(options.out, all, static_cast<std::int64_t>(layers.size()) * NH * T, T);
  }
  const std::vector<std::string> tokens = tokenizer.tokens(e.ids);
  std::printf("%lld tokens, %zu layers x %lld heads\n", static_cast<long long>(T), layers.size(),
              static_cast<long long>(NH));
  // Per layer, the token [CLS] weighs most, averaged over heads.
  for (std::size_t l = 0; l < layers.size(); ++l) {
    std::vector<double> mean(static_cast<std::size_t>(T), 0.0);
    for (std::int64_t h = 0; h < NH; ++h) {
      for (std::int64_t j = 0; j < T; ++j) mean[j] += layers[l][(h * T) * T + j] / NH;
    }
    const auto top = std::max_element(mean.begin(), mean.end()) - mean.begin();
    std::printf("layer %zu: [CLS] attends most to %s (%.2f)\n", l + 1, tokens[top].c_str(),
                mean[top]);
  }
  if (!options.out.empty()) {
    std::printf("wrote %s [%lld, %lld] = [layers x heads x %lld tokens, %lld keys]\n",
                options.out.c_str(), static_cast<long long>(layers.size() * NH * T),
                static_cast<long long>(T), static_cast<long long>(T), static_cast<long long>(T));
  }
}

}  // namespace

void add_attention_command(CLI::App& app) {
  auto options = std::make_shared<AttentionOptions>();
  CLI::App* cmd = app.add_subcommand(
      "attention",
      "The attention probabilities of one sentence in every layer and head (what transformers\n"
      "returns with output_attentions=True): prints what [CLS] attends to most per layer and,\n"
      "with --out, writes them all as a float32 .npy of [layers * heads * T, T].");
  cmd->add_option("text", options->text, "The sentence")->required();
  cmd->add_option("-m,--model", options->model, "Model folder or name")->capture_default_str();
  cmd->add_option("-o,--out", options->out, "Write every probability to this .npy file");
  cmd->add_option("-t,--threads", options->threads, "Threads (0 = all available cores)")
      ->capture_default_str();
  cmd->callback([options] { run(*options); });
}

}  // namespace bertlite::cli
