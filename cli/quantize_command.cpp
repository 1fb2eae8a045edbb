// cli/quantize_command.cpp - `bertlite quantize`: a model folder stored in int8 or bf16.
#include <cstdio>
#include <memory>

#include "commands.h"
#include "io/model_path.h"
#include "model/quantize.h"

namespace bertlite::cli {
namespace {

struct QuantizeOptions {
  std::string model = io::kDefaultModel;
  std::string out;
  std::string precision = "int8";
};

void run(const QuantizeOptions& options) {
  const model::QuantizeReport report = model::quantize_model(
      io::resolve_model(options.model), options.out, kernels::parse_precision(options.precision));
  std::printf(
      "wrote %s: %zu GEMM weights in %s, %zu tensors kept in fp32; weights %.1f MB -> "
      "%.1f MB\n",
      options.out.c_str(), report.quantized, options.precision.c_str(), report.kept,
      static_cast<double>(report.bytes_before) / 1e6,
      static_cast<double>(report.bytes_after) / 1e6);
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto options = std::make_shared<QuantizeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "quantize",
      "Write a copy of a model whose GEMM weights are stored in int8 (per output channel) or\n"
      "bf16. It loads with that precision by default and is never re-quantized; the format is\n"
      "described in docs/architecture.md.");
  cmd->add_option("-m,--model", options->model, "Model folder or name")->capture_default_str();
  cmd->add_option("-o,--out", options->out, "New folder to write (must not exist)")->required();
  cmd->add_option("--precision", options->precision, "int8 or bf16")
      ->capture_default_str()
      ->check(CLI::IsMember({"int8", "bf16"}));
  cmd->callback([options] { run(*options); });
}

}  // namespace bertlite::cli
