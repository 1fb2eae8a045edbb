// cli/convert_command.cpp - `bertlite convert`: a model folder with safetensors weights.
#include <iostream>
#include <memory>

#include "commands.h"
#include "io/convert.h"
#include "io/model_path.h"

namespace bertlite::cli {
namespace {

struct ConvertOptions {
  std::string model;
  std::string out;
};

void run(const ConvertOptions& options) {
  const io::ConversionReport report =
      io::convert_to_safetensors(io::resolve_model(options.model), options.out);
  std::cout << "read " << report.source << "\nwrote " << options.out << "/model.safetensors ("
            << report.tensors << " tensors) and copied " << report.copied.size()
            << " other files\n";
  for (const std::string& skipped : report.skipped) {
    std::cout << "skipped " << skipped << ": not a float weight\n";
  }
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto options = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert",
      "Write a copy of a model folder whose weights are model.safetensors (from\n"
      "pytorch_model.bin or any format bertlite reads), which then loads by memory map.");
  cmd->add_option("-m,--model", options->model, "Model folder or name")->required();
  cmd->add_option("-o,--out", options->out, "New folder to write (must not exist)")->required();
  cmd->callback([options] { run(*options); });
}

}  // namespace bertlite::cli
