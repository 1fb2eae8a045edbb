// cli/main.cpp - the bertlite command line: turns library errors into one-line messages and
// exit codes (1 for bad input or files, 2 for bad usage).
#include <iostream>
#include <string>

#include "bertlite/error.h"
#include "commands.h"
#include "util/threads.h"

int main(int argc, char** argv) {
  bertlite::util::reexec_with_openmp_spin_limit(argv);
  CLI::App app{
      "bertlite: from sentences to a BERT-based classifier, on the CPU.\n"
      "Models are folders of Hugging Face files, or names looked up in $BERTLITE_MODELS, the\n"
      "project's models/ folder (default: all-MiniLM-L6-v2, installed by scripts/setup.sh), then\n"
      "the Hugging Face hub cache, downloading what is missing (org/name[@revision])."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "bertlite 0.1.0");
  bertlite::cli::add_tokenize_command(app);
  bertlite::cli::add_embed_command(app);
  bertlite::cli::add_attention_command(app);
  bertlite::cli::add_info_command(app);
  bertlite::cli::add_convert_command(app);
  bertlite::cli::add_quantize_command(app);
  bertlite::cli::add_train_command(app);
  bertlite::cli::add_predict_command(app);
  bertlite::cli::add_guide_command(app);
  bertlite::cli::add_finetune_command(app);
  bertlite::cli::add_serve_command(app);
  bertlite::cli::add_ui_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion& version) {
    return app.exit(version);
  } catch (const CLI::ParseError& error) {
    // Bad usage: one line, like every other error, and exit code 2.
    std::string message = error.what();
    for (char& c : message) c = c == '\n' ? ' ' : c;
    std::cerr << "bertlite: error: " << message << " (see bertlite --help)\n";
    return 2;
  } catch (const bertlite::Error& error) {
    std::cerr << "bertlite: error: " << error.what() << '\n';
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "bertlite: internal error: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
