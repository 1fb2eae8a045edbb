// cli/train_command.cpp - `bertlite train`: sentences with labels in, a saved classifier out.
// Features from the encoder (cached on disk), a grid search over C with stratified 5-fold
// cross-validation, a refit on all training rows, and metrics on held-out rows.
#include <cstdio>
#include <memory>

#include "bertlite/error.h"
#include "commands.h"
#include "input_table.h"
#include "io/model_path.h"
#include "learn/classifier_file.h"
#include "learn/labels.h"
#include "learn/metrics.h"
#include "learn/model_selection.h"
#include "learn/split.h"
#include "learn_helpers.h"
#include "long_text_options.h"
#include "model/feature_cache.h"
#include "precision_notice.h"
#include "util/progress.h"
#include "util/threads.h"

namespace bertlite::cli {
namespace {

struct TrainOptions {
  std::string model = io::kDefaultModel;
  TableInputOptions train;
  std::string test;
  double split = 0.25;
  std::string pooling = "cls";
  bool normalize = false;
  std::size_t max_length = 0;
  std::string grid = "log";
  std::uint32_t seed = 42;
  int folds = 5;
  std::string precision;
  std::string out;
  int threads = 0;
  bool no_cache = false;
  LongTextOptions long_text;
};

void print_metrics(const learn::ClassificationReport& r, const std::vector<std::string>& names,
                   std::optional<double> auc) {
  std::printf("test accuracy %.4f, macro F1 %.4f", r.accuracy, r.macro_f1);
  if (auc) std::printf(", ROC AUC %.4f", *auc);
  std::printf("\n  %-12s %9s %9s %9s %8s\n", "label", "precision", "recall", "F1", "rows");
  for (const learn::ClassMetrics& c : r.per_class) {
    std::printf("  %-12s %9.4f %9.4f %9.4f %8lld\n", names[c.label].c_str(), c.precision, c.recall,
                c.f1, static_cast<long long>(c.support));
  }
  std::printf("confusion matrix (rows: true label, columns: predicted):\n  %-12s", "");
  for (std::int64_t label : r.labels) std::printf(" %10s", names[label].c_str());
  std::printf("\n");
  const std::size_t k = r.labels.size();
  for (std::size_t i = 0; i < k; ++i) {
    std::printf("  %-12s", names[r.labels[i]].c_str());
    for (std::size_t j = 0; j < k; ++j) {
      std::printf(" %10lld", static_cast<long long>(r.confusion[i * k + j]));
    }
    std::printf("\n");
  }
}

void run(const TrainOptions& options) {
  if (options.out.empty()) throw InvalidArgument("--out: where to save the classifier");
  const int threads = util::set_compute_threads(options.threads);
  const std::vector<double> grid = learn::parse_grid(options.grid);
  std::optional<kernels::Precision> precision;
  if (!options.precision.empty()) precision = kernels::parse_precision(options.precision);

  // Data: the training file, and the test rows from --test or a seeded split of it.
  const InputTexts train_input = read_input_texts(options.train, /*with_labels=*/true);
  const learn::EncodedLabels train_labels = learn::encode_labels(train_input.labels);
  if (train_labels.names.size() < 2) {
    throw InvalidArgument(train_input.source + ": every row has the label '" +
                          train_labels.names.front() +
                          "'; a classifier needs at least two classes");
  }
  std::vector<std::string> test_texts;
  std::vector<std::int64_t> test_y;
  std::vector<std::string> train_texts = train_input.texts;
  std::vector<std::int64_t> train_y = train_labels.codes;
  std::string test_source;
  if (!options.test.empty()) {
    TableInputOptions test_options = options.train;
    test_options.path = options.test;
    const InputTexts test_input = read_input_texts(test_options, /*with_labels=*/true);
    test_texts = test_input.texts;
    test_y = label_codes(test_input, train_labels.names, train_input.source);
    test_source = options.test;
  } else if (options.split > 0) {
    const learn::TrainTestSplit split =
        learn::train_test_split(std::ssize(train_texts), options.seed, options.split);
    for (std::int64_t r : split.test) test_texts.push_back(train_input.texts[r]);
    test_y = learn::take(train_labels.codes, split.test);
    train_texts.clear();
    for (std::int64_t r : split.train) train_texts.push_back(train_input.texts[r]);
    train_y = learn::take(train_labels.codes, split.train);
    test_source = "a " + std::to_string(static_cast<int>(options.split * 100 + 0.5)) +
                  "% split of " + train_input.source + " (seed " + std::to_string(options.seed) +
                  ")";
  }
  const std::vector<std::string>& names = train_labels.names;
  std::vector<std::int64_t> counts(names.size(), 0);
  for (std::int64_t y : train_y) ++counts[y];
  // Stratified k-fold needs every class in every fold: say so in the data's terms.
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (counts[k] < options.folds) {
      throw InvalidArgument(train_input.source + ": label '" + names[k] + "' has " +
                            std::to_string(counts[k]) + " training rows; " +
                            std::to_string(options.folds) +
                            "-fold cross-validation needs at least " +
                            std::to_string(options.folds) + " of each (--folds)");
    }
  }
  std::printf("train: %s rows from %s; labels:", util::format_count(std::ssize(train_y)).c_str(),
              train_input.source.c_str());
  for (std::size_t k = 0; k < names.size(); ++k) {
    std::printf(" %s %s (%.1f%%)", names[k].c_str(), util::format_count(counts[k]).c_str(),
                100.0 * static_cast<double>(counts[k]) / static_cast<double>(train_y.size()));
  }
  std::printf("\ntest:  %s rows from %s\n", util::format_count(std::ssize(test_y)).c_str(),
              test_source.empty() ? "(none)" : test_source.c_str());

  // Features.
  const auto extractor = model::FeatureExtractor::load(io::resolve_model(options.model), precision);
  print_precision_notice(extractor.encoder().precision());
  model::FeatureOptions feature_options;
  feature_options.pooling = io::parse_pooling(options.pooling);
  feature_options.normalize = options.normalize;
  feature_options.max_length = options.max_length;
  feature_options.threads = threads;
  apply_long_text_options(options.long_text, feature_options);
  const model::FeatureOptions resolved = extractor.resolve(feature_options);
  const model::FeatureCache cache(options.no_cache ? std::filesystem::path()
                                                   : model::default_feature_cache_dir());
  const io::Pooling pooling = *resolved.pooling;
  util::ProgressBar bar("encoding", std::ssize(train_texts) + std::ssize(test_texts), "sentences");
  const auto progress = [&bar](std::int64_t n) { bar.advance(n); };
  const model::Features train_x = model::extract_cached(extractor, cache, train_texts,
                                                        std::span(&pooling, 1), resolved, progress)
                                      .front();
  model::Features test_x;
  if (!test_texts.empty()) {
    test_x = model::extract_cached(extractor, cache, test_texts, std::span(&pooling, 1), resolved,
                                   progress)
                 .front();
  }
  bar.finish();
  std::printf("features: %s pooling%s, [%lld, %lld], %.1f s\n", io::pooling_name(pooling),
              *resolved.normalize ? ", L2-normalized" : "", static_cast<long long>(train_x.rows),
              static_cast<long long>(train_x.cols), bar.elapsed_seconds());

  // Baseline, grid search, refit.
  const learn::CrossValidation baseline = learn::cross_val_score_majority(train_y, options.folds);
  std::printf("baseline (most frequent class, %d-fold CV): %.4f +/- %.4f\n", options.folds,
              baseline.mean, baseline.std);
  learn::GridSearchOptions search;
  search.folds = options.folds;
  search.threads = threads;
  search.base.threads = 1;
  const learn::GridSearchResult result =
      learn::fit_with_grid_search(view_of(train_x), train_y, grid, search);
  std::printf("grid search over C (%s), %d-fold stratified CV accuracy, mean +/- std:\n",
              options.grid.c_str(), options.folds);
  for (std::size_t i = 0; i < result.points.size(); ++i) {
    const learn::GridPoint& p = result.points[i];
    std::printf("  C = %-10.4g %.4f +/- %.4f%s%s\n", p.C, p.cv.mean, p.cv.std,
                i == result.best_index ? "   <- chosen" : "",
                p.unconverged_folds > 0 ? "   (L-BFGS hit max_iter in some folds)" : "");
  }
  std::printf("chosen C = %.4g (CV accuracy %.4f); refit on all %s training rows\n", result.best_C,
              result.best_score, util::format_count(std::ssize(train_y)).c_str());

  nlohmann::json summary = {
      // predict reads long texts as training did unless told otherwise.
      {"long_text", options.long_text.mode},
      {"window_pooling", options.long_text.window_pooling},
      {"train_rows", train_y.size()},
      {"train_source", train_input.source},
      {"best_C", result.best_C},
      {"cv_accuracy", result.best_score},
      {"folds", options.folds},
      {"grid", options.grid},
      {"baseline_cv_accuracy", baseline.mean},
      {"precision", kernels::precision_name(extractor.encoder().precision())}};
  if (!test_y.empty()) {
    const learn::MatrixView test_view = view_of(test_x);
    const std::vector<std::int64_t> predicted = result.model.predict(test_view);
    const learn::ClassificationReport metrics = learn::classification_report(test_y, predicted);
    const std::optional<double> auc =
        binary_roc_auc(test_y, result.model.predict_proba(test_view), names.size());
    print_metrics(metrics, names, auc);
    summary["test_rows"] = test_y.size();
    summary["test_source"] = test_source;
    summary["test_accuracy"] = metrics.accuracy;
    summary["test_macro_f1"] = metrics.macro_f1;
    if (auc) summary["test_roc_auc"] = *auc;
  }

  if (options.long_text.stride) summary["stride"] = *options.long_text.stride;
  learn::SavedClassifier saved{result.model,
                               names,
                               {options.model, io::pooling_name(pooling), *resolved.normalize,
                                static_cast<std::int64_t>(resolved.max_length)},
                               summary};
  learn::save_classifier(options.out, saved);
  std::printf("saved %s\n", options.out.c_str());
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a logistic-regression classifier on the encoder's features of labelled sentences:\n"
      "grid search over C with stratified k-fold CV, refit on all training rows, test metrics,\n"
      "and a saved classifier that `bertlite predict` uses.");
  cmd->add_option("-m,--model", options->model, "Model folder or name")->capture_default_str();
  add_table_input_options(*cmd, options->train, /*labels=*/true, "--train");
  auto* test = cmd->add_option("--test", options->test, "Held-out data in the same format");
  cmd->add_option("--split", options->split,
                  "Without --test: hold out this fraction of the training data (0 = none)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.95))
      ->excludes(test);
  cmd->add_option("--pooling", options->pooling, "cls, mean or pooler")
      ->capture_default_str()
      ->check(CLI::IsMember({"cls", "mean", "pooler"}));
  cmd->add_flag("--normalize", options->normalize, "L2-normalize the features");
  cmd->add_option("--max-length", options->max_length,
                  "Cut inputs to this many tokens (default: the model's max positions)");
  add_long_text_options(*cmd, options->long_text);
  cmd->add_option("--grid", options->grid,
                  "C values: log (1e-4..1e4 at half decades), walkthrough "
                  "(linspace(0.0001, 100, 20)), or a list like 0.1,1,10")
      ->capture_default_str();
  cmd->add_option("--folds", options->folds, "Cross-validation folds")
      ->capture_default_str()
      ->check(CLI::Range(2, 100));
  cmd->add_option("--seed", options->seed, "Seed of the --split (numpy's RandomState)")
      ->capture_default_str();
  cmd->add_option("--precision", options->precision, "fp32, bf16 or int8 (default: the model's)")
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
  cmd->add_option("-o,--out", options->out, "Where to save the classifier (JSON)")->required();
  cmd->add_flag("--no-cache", options->no_cache, "Always run the encoder");
  cmd->add_option("-t,--threads", options->threads, "Threads (0 = all available cores)")
      ->capture_default_str();
  cmd->callback([options] { run(*options); });
}

}  // namespace bertlite::cli
