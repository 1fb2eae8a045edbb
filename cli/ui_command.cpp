// cli/ui_command.cpp - `bertlite ui`: the walkthrough live, one page on loopback (ui/).
#include <cstdio>
#include <memory>

#include "bertlite/error.h"
#include "commands.h"
#include "io/model_path.h"
#include "learn/classifier_file.h"
#include "train/sequence_classifier.h"
#include "ui/ui_server.h"
#include "util/threads.h"

namespace bertlite::cli {
namespace {

struct UiCliOptions {
  std::vector<std::string> models;
  std::vector<std::string> classifiers;
  std::vector<std::string> fine_tuned;
  std::string host = "127.0.0.1";
  int port = 8088;
  int threads = 0;
};

void run(const UiCliOptions& options) {
  ui::block_stop_signals();  // before any thread exists: Ctrl-C and SIGTERM stop it cleanly
  util::set_compute_threads(options.threads);
  std::vector<ui::LoadedModel> models;
  const auto model_index = [&](const std::string& name) {
    for (std::size_t i = 0; i < models.size(); ++i)
      if (models[i].name == name) return i;
    models.push_back({name, std::make_unique<model::FeatureExtractor>(
                                model::FeatureExtractor::load(io::resolve_model(name)))});
    return models.size() - 1;
  };
  for (const std::string& name : options.models) model_index(name);
  std::vector<ui::LoadedClassifier> classifiers;
  for (const std::string& path : options.classifiers) {
    learn::SavedClassifier saved = learn::load_classifier(path);
    const std::size_t index = model_index(saved.encoder.model);
    if (saved.model.n_features() != models[index].extractor->encoder().config().hidden) {
      throw InvalidArgument(path + ": the classifier expects " +
                            std::to_string(saved.model.n_features()) + " features, the model '" +
                            saved.encoder.model + "' gives " +
                            std::to_string(models[index].extractor->encoder().config().hidden));
    }
    classifiers.push_back(
        {std::filesystem::path(path).filename().string(), std::move(saved), index});
  }
  for (const std::string& name : options.fine_tuned) {
    const std::size_t index = model_index(name);
    models[index].fine_tuned = std::make_unique<train::SequenceClassifier>(
        train::SequenceClassifier::load(io::resolve_model(name)));
    classifiers.push_back({name, {}, index, /*fine_tuned=*/true});
  }
  if (models.empty()) model_index(io::kDefaultModel);
  ui::serve_ui(models, classifiers, {options.host, options.port}, [&](int port) {
    std::printf("bertlite ui: open http://%s:%d/ (Ctrl-C stops it)\n", options.host.c_str(), port);
    std::fflush(stdout);
  });
}

}  // namespace

void add_ui_command(CLI::App& app) {
  auto options = std::make_shared<UiCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "ui",
      "The walkthrough, live: a page on loopback where you type a sentence and see its tokens,\n"
      "ids and mask, the attention of every layer and head, its feature vector and, with a\n"
      "classifier from `bertlite train` or a fine-tuned folder, the label and the words that\n"
      "move it.");
  cmd->add_option("-m,--model", options->models,
                  "Model folder or name (repeat for several; default: the default model, or "
                  "the classifiers' own)");
  cmd->add_option("-c,--classifier", options->classifiers,
                  "Classifier file from `bertlite train` (repeat for several); its model is "
                  "loaded too");
  cmd->add_option("-f,--fine-tuned", options->fine_tuned,
                  "A fine-tuned model folder (bertlite finetune, or a transformers "
                  "*ForSequenceClassification) whose own head classifies (repeat for several)");
  cmd->add_option("--host", options->host, "Address to listen on")->capture_default_str();
  cmd->add_option("-p,--port", options->port, "Port (0: any free port)")->capture_default_str();
  cmd->add_option("-t,--threads", options->threads, "Threads (0 = all available cores)")
      ->capture_default_str();
  cmd->callback([options] { run(*options); });
}

}  // namespace bertlite::cli
