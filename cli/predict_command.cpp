// cli/predict_command.cpp - `bertlite predict`: labels and probabilities for sentences, from a
// classifier saved by `bertlite train`, with the encoder settings it was trained with.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "bertlite/error.h"
#include "bertlite/tokenizer.h"
#include "commands.h"
#include "input_table.h"
#include "io/model_path.h"
#include "learn/classifier_file.h"
#include "long_text_options.h"
#include "model/features.h"
#include "train/finetune.h"
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
  LongTextOptions long_text;
  bool long_text_given = false;  // --long-text on the command line
};

// With --long-text window: what each window of each text said, for --json.
struct WindowPredictions {
  std::vector<model::Window> windows;  // one per window
  std::vector<std::size_t> first;      // text i's windows are [first[i], first[i + 1])
  std::vector<double> probabilities;   // [windows, k]
};

// One line (or JSON object) per sentence, from probabilities[texts x k] (and, for a
// fine-tuned model, its logits[texts x k]).
void print_predictions(const std::vector<std::string>& texts, const std::vector<double>& p,
                       const std::vector<std::string>& names, bool json,
                       const std::vector<float>* logits = nullptr,
                       const WindowPredictions* windows = nullptr) {
  const std::size_t k = names.size();
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const double* row = p.data() + i * k;
    const auto best = static_cast<std::size_t>(std::max_element(row, row + k) - row);
    if (json) {
      nlohmann::json probabilities = nlohmann::json::object();
      for (std::size_t c = 0; c < k; ++c) probabilities[names[c]] = row[c];
      nlohmann::json line = {{"text", texts[i]},
                             {"label", names[best]},
                             {"probability", row[best]},
                             {"probabilities", probabilities}};
      if (logits != nullptr) {
        line["logits"] =
            std::vector<float>(logits->begin() + static_cast<std::ptrdiff_t>(i * k),
                               logits->begin() + static_cast<std::ptrdiff_t>((i + 1) * k));
      }
      if (windows != nullptr && windows->first[i + 1] - windows->first[i] > 1) {
        nlohmann::json list = nlohmann::json::array();
        for (std::size_t w = windows->first[i]; w < windows->first[i + 1]; ++w) {
          nlohmann::json window_p = nlohmann::json::object();
          for (std::size_t c = 0; c < k; ++c)
            window_p[names[c]] = windows->probabilities[w * k + c];
          const model::Window& span = windows->windows[w];
          list.push_back({{"bytes", {span.byte_begin, span.byte_end}},
                          {"tokens", span.content_tokens()},
                          {"probabilities", window_p}});
        }
        line["windows"] = list;
      }
      std::cout << line.dump() << '\n';
    } else {
      std::printf("%s\t%.4f\t%s\n", names[best].c_str(), row[best], texts[i].c_str());
    }
  }
}

std::vector<std::string> input_texts(const PredictOptions& options, InputTexts& input) {
  if (!options.texts.empty()) return options.texts;
  if (options.input.path.empty())
    throw InvalidArgument("give sentences as arguments or --input FILE");
  input = read_input_texts(options.input);
  return input.texts;
}

// A fine-tuned folder (`bertlite finetune`, or transformers' *ForSequenceClassification): the
// model is the classifier.
void run_fine_tuned(const PredictOptions& options, int threads) {
  InputTexts input;
  const std::vector<std::string> texts = input_texts(options, input);
  const std::filesystem::path folder = io::resolve_model(options.model);
  train::SequenceClassifier model = train::SequenceClassifier::load(folder);
  const Tokenizer tokenizer = Tokenizer::from_folder(folder);
  const std::size_t max_length = std::min<std::size_t>(
      tokenizer.info().model_max_length, static_cast<std::size_t>(model.config().max_positions));
  const model::LongText mode = model::parse_long_text(options.long_text.mode);
  if (mode == model::LongText::kTruncate) {
    const std::vector<std::int32_t> no_labels(texts.size(), 0);
    const train::EncodedExamples encoded =
        train::encode_examples(tokenizer, texts, {}, no_labels, max_length, threads);
    const std::vector<float> logits = train::predict_logits(model, encoded.examples);
    print_predictions(texts, train::softmax_rows(logits, model.num_labels()), model.labels(),
                      options.json, &logits);
    return;
  }
  // Windows (or errors): every token first, then the model on each window.
  const model::Sequences split = model::split_long_texts(
      tokenizer.encode_batch(texts, {}, threads), max_length, mode,
      options.long_text.stride.value_or(
          model::default_stride(max_length, tokenizer.num_special_tokens())),
      [&input](std::size_t i) {
        return input.texts.empty() ? "text " + std::to_string(i + 1) : input.row_name(i);
      });
  std::vector<train::Example> examples;
  examples.reserve(split.encodings.size());
  for (const Encoding& e : split.encodings) examples.push_back({e.ids, e.type_ids, 0});
  const std::vector<float> logits = train::predict_logits(model, examples);
  WindowPredictions windows{split.windows, split.first,
                            train::softmax_rows(logits, model.num_labels())};
  const std::vector<double> p = model::average_windows(
      windows.probabilities, static_cast<std::size_t>(model.num_labels()), windows.first);
  print_predictions(texts, p, model.labels(), options.json, nullptr, &windows);
}

void run(const PredictOptions& options) {
  const int threads = util::set_compute_threads(options.threads);
  if (options.classifier.empty()) {
    if (options.model.empty()) {
      throw InvalidArgument(
          "give --classifier FILE (from bertlite train) or --model DIR (from "
          "bertlite finetune)");
    }
    run_fine_tuned(options, threads);
    return;
  }
  const learn::SavedClassifier saved = learn::load_classifier(options.classifier);
  learn::EncoderSpec encoder = saved.encoder;
  // Another copy of the same model may live elsewhere; the feature-count check below catches
  // a different model.
  if (!options.model.empty()) encoder.model = options.model;
  InputTexts input;
  const std::vector<std::string> texts = input_texts(options, input);
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
  // Long texts as the classifier was trained, unless --long-text says otherwise.
  LongTextOptions long_text = options.long_text;
  if (!options.long_text_given) {
    long_text.mode = saved.training.value("long_text", long_text.mode);
    long_text.window_pooling = saved.training.value("window_pooling", long_text.window_pooling);
    if (saved.training.contains("stride") && !long_text.stride)
      long_text.stride = saved.training["stride"].get<std::size_t>();
  }
  apply_long_text_options(long_text, feature_options);
  if (feature_options.long_text != model::LongText::kWindow) {
    const model::Features features = extractor.extract(texts, feature_options);
    const learn::MatrixView x{features.data, features.rows, features.cols};
    print_predictions(texts, saved.model.predict_proba(x), learn::class_names(saved), options.json);
    return;
  }
  // The classifier on every window's own features; a text's probabilities are their mean.
  feature_options.keep_windows = true;
  const model::Features features = extractor.extract(texts, feature_options);
  const learn::MatrixView windows_x{
      features.window_data, static_cast<std::int64_t>(features.windows.size()), features.cols};
  WindowPredictions windows{features.windows, features.window_begin,
                            saved.model.predict_proba(windows_x)};
  const std::vector<std::string> names = learn::class_names(saved);
  const std::vector<double> p =
      model::average_windows(windows.probabilities, names.size(), windows.first);
  print_predictions(texts, p, names, options.json, nullptr, &windows);
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto options = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand(
      "predict",
      "Label sentences with a classifier saved by `bertlite train` (--classifier), or with a\n"
      "fine-tuned model folder (--model DIR alone): one line per sentence,\n"
      "label<TAB>probability<TAB>sentence, or JSON with --json. With --classifier, the encoder\n"
      "(model, pooling, normalization, max length) is the one the classifier was trained with.");
  cmd->add_option("texts", options->texts, "Sentences to label (else --input)");
  cmd->add_option("-c,--classifier", options->classifier,
                  "Classifier file from `bertlite train` (not needed for a fine-tuned --model)");
  add_table_input_options(*cmd, options->input);
  cmd->add_option("-m,--model", options->model,
                  "A fine-tuned model folder (bertlite finetune, or a transformers "
                  "*ForSequenceClassification) to classify with; with --classifier, the copy of "
                  "its model to use (default: the name it was trained with)");
  cmd->add_flag(
      "--json", options->json,
      "One JSON object per sentence: text, label, probability, probabilities (and logits, for a "
      "fine-tuned model; with --long-text window, each window's bytes, tokens and "
      "probabilities)");
  cmd->add_option("-t,--threads", options->threads, "Threads (0 = all available cores)")
      ->capture_default_str();
  add_long_text_options(*cmd, options->long_text);
  cmd->callback([options, cmd] {
    options->long_text_given = cmd->count("--long-text") > 0;
    run(*options);
  });
}

}  // namespace bertlite::cli
