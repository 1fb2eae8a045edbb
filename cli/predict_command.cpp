// cli/predict_command.cpp - `bertlite predict`: labels and probabilities for sentences, from a
// classifier saved by `bertlite train`, with the encoder settings it was trained with.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "bertlite/error.h"
#include "commands.h"
#include "input_table.h"
#include "io/model_path.h"
#include "learn/classifier_file.h"
#include "model/features.h"
#include "util/threads.h"

namespace bertlite::cli {
namespace {

struct PredictOptions {
  std::string classifier;
  std::vector<std::string> texts;
  TableInputOptions input;
  std::string model;  // empty: the classifier's
  bool json = false;
  int threads = 0;
};

void run(const PredictOptions& options) {
  const int threads = util::set_compute_threads(options.threads);
  const learn::SavedClassifier saved = learn::load_classifier(options.classifier);
  learn::EncoderSpec encoder = saved.encoder;
  // Another copy of the same model may live elsewhere; the feature-count check below catches
  // a different model.
  if (!options.model.empty()) encoder.model = options.model;
  std::vector<std::string> texts = options.texts;
  InputTexts input;
  if (texts.empty()) {
    if (options.input.path.empty()) {
      throw InvalidArgument("give sentences as arguments or --input FILE");
    }
    input = read_input_texts(options.input);
    texts = input.texts;
  }
  const auto extractor = model::FeatureExtractor::load(io::resolve_model(encoder.model));
  if (extractor.encoder().config().hidden != saved.model.n_features()) {
    throw InvalidArgument(options.classifier + ": the classifier expects " +
                          std::to_string(saved.model.n_features()) + " features, the model '" +
                          encoder.model + "' gives " +
                          std::to_string(extractor.encoder().config().hidden));
  }
  model::FeatureOptions feature_options;
  feature_options.pooling = io::parse_pooling(encoder.pooling);
  feature_options.normalize = encoder.normalize;
  feature_options.max_length = static_cast<std::size_t>(encoder.max_length);
  feature_options.threads = threads;
  if (!input.texts.empty()) {
    feature_options.row_name = [&input](std::size_t i) { return input.row_name(i); };
  }
  const model::Features features = extractor.extract(texts, feature_options);
  const learn::MatrixView x{features.data, features.rows, features.cols};
  const std::vector<double> p = saved.model.predict_proba(x);
  const auto& classes = saved.model.classes();
  const std::size_t k = classes.size();
  const auto name = [&](std::size_t c) {
    return saved.label_names.empty() ? std::to_string(classes[c]) : saved.label_names[c];
  };
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const double* row = p.data() + i * k;
    const std::size_t best = static_cast<std::size_t>(std::max_element(row, row + k) - row);
    if (options.json) {
      nlohmann::json probabilities = nlohmann::json::object();
      for (std::size_t c = 0; c < k; ++c) probabilities[name(c)] = row[c];
      std::cout << nlohmann::json{{"text", texts[i]},
                                  {"label", name(best)},
                                  {"probability", row[best]},
                                  {"probabilities", probabilities}}
                       .dump()
                << '\n';
    } else {
      std::printf("%s\t%.4f\t%s\n", name(best).c_str(), row[best], texts[i].c_str());
    }
  }
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto options = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand(
      "predict",
      "Label sentences with a classifier saved by `bertlite train`: one line per sentence,\n"
      "label<TAB>probability<TAB>sentence, or JSON with --json. The encoder (model, pooling,\n"
      "normalization, max length) is the one the classifier was trained with.");
  cmd->add_option("texts", options->texts, "Sentences to label (else --input)");
  cmd->add_option("-c,--classifier", options->classifier, "Classifier file from `bertlite train`")
      ->required();
  add_table_input_options(*cmd, options->input);
  cmd->add_option("-m,--model", options->model,
                  "Use this copy of the classifier's model (default: the name it was trained "
                  "with)");
  cmd->add_flag("--json", options->json,
                "One JSON object per sentence: text, label, probability, probabilities");
  cmd->add_option("-t,--threads", options->threads, "Threads (0 = all available cores)")
      ->capture_default_str();
  cmd->callback([options] { run(*options); });
}

}  // namespace bertlite::cli
