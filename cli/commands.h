// cli/commands.h - the bertlite subcommands. Each registers its options and a callback that
// runs it; errors propagate as bertlite::Error to main(), which prints them on one line.
#pragma once

#include <CLI/CLI.hpp>

namespace bertlite::cli {

void add_tokenize_command(CLI::App& app);
void add_embed_command(CLI::App& app);
void add_attention_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_guide_command(CLI::App& app);
void add_finetune_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_ui_command(CLI::App& app);

}  // namespace bertlite::cli
