// cli/info_command.cpp - `bertlite info`: what a model is, before running it.
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "bertlite/tokenizer.h"
#include "commands.h"
#include "io/model_path.h"
#include "io/tensor_file.h"
#include "model/encoder.h"
#include "util/progress.h"

namespace bertlite::cli {
namespace {

struct InfoOptions {
  std::string model = io::kDefaultModel;
  bool json = false;
};

void run(const InfoOptions& options) {
  const std::filesystem::path folder = io::resolve_model(options.model);
  const model::Encoder encoder = model::Encoder::load(folder);
  const Tokenizer tokenizer = Tokenizer::from_folder(folder);
  const io::ModelConfig& c = encoder.config();
  const io::TensorFile weights = io::open_checkpoint(folder);
  std::map<std::string, int> dtypes;  // stored dtype -> tensor count
  for (const io::TensorInfo& t : weights.tensors())
    ++dtypes[std::string(io::dtype_name(t.source_dtype))];
  std::string dtype_summary;
  for (const auto& [name, count] : dtypes) {
    dtype_summary += (dtype_summary.empty() ? "" : ", ") + std::to_string(count) + " " + name;
  }
  const TokenizerInfo& t = tokenizer.info();

  if (options.json) {
    const nlohmann::json info = {{"folder", folder.string()},
                                 {"architecture", io::architecture_name(c.architecture)},
                                 {"hidden_size", c.hidden},
                                 {"layers", c.layers},
                                 {"heads", c.heads},
                                 {"intermediate_size", c.intermediate},
                                 {"activation", io::activation_name(c.activation)},
                                 {"vocab_size", c.vocab_size},
                                 {"tokenizer_vocab_size", t.vocab_size},
                                 {"lowercase", t.lowercase},
                                 {"max_positions", c.max_positions},
                                 {"type_vocab_size", c.type_vocab_size},
                                 {"parameters", encoder.parameter_count()},
                                 {"pooler", encoder.has_pooler()},
                                 {"pooling", io::pooling_name(c.pooling)},
                                 {"normalize", c.normalize},
                                 {"weights", weights.source()},
                                 {"precision", c.precision.empty() ? "fp32" : c.precision},
                                 {"weight_dtypes", dtypes}};
    std::cout << info.dump(2) << '\n';
    return;
  }
  std::printf("model          %s\n", folder.string().c_str());
  std::printf("architecture   %s\n", io::architecture_name(c.architecture));
  std::printf("shape          %lld layers, hidden %lld, %lld heads of %lld, FFN %lld, %s\n",
              static_cast<long long>(c.layers), static_cast<long long>(c.hidden),
              static_cast<long long>(c.heads), static_cast<long long>(c.head_size()),
              static_cast<long long>(c.intermediate), io::activation_name(c.activation));
  std::printf("parameters     %s\n", util::format_count(encoder.parameter_count()).c_str());
  std::printf("vocab          %s tokens (%s%s)\n", util::format_count(c.vocab_size).c_str(),
              t.lowercase ? "uncased" : "cased", t.strip_accents ? ", accents stripped" : "");
  std::printf("max length     %lld tokens\n", static_cast<long long>(c.max_positions));
  std::printf("token types    %lld\n", static_cast<long long>(c.type_vocab_size));
  std::printf("pooling        %s%s (default for embed)\n", io::pooling_name(c.pooling),
              c.normalize ? ", L2-normalized" : "");
  std::printf("pooler layer   %s\n", encoder.has_pooler() ? "yes" : "no");
  std::printf("weights        %s (%s tensors)\n", weights.source().c_str(), dtype_summary.c_str());
  std::printf("precision      %s (default for embed)\n",
              c.precision.empty() ? "fp32" : c.precision.c_str());
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto options = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "info",
      "Show a model's architecture, sizes, parameter count, vocabulary, maximum length\n"
      "and default pooling.");
  cmd->add_option("-m,--model", options->model, "Model folder or name")->capture_default_str();
  cmd->add_flag("--json", options->json, "Print one JSON object");
  cmd->callback([options] { run(*options); });
}

}  // namespace bertlite::cli
