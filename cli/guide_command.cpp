// cli/guide_command.cpp - `bertlite guide`: the "first BERT" walkthrough, step by step, printing
// what its notebook prints, with real numbers; then the same on all of train -> dev; then an
// illustrated report. With --finetune, the walkthrough's "next step" too: every weight trained,
// scored on the same dev sentences.
//
// The notebook (REFERENCE.md section 1): read SST-2 train.tsv; keep the first 2,000 rows;
// tokenize with [CLS]/[SEP]; pad to the longest and mask; run DistilBERT; keep each sentence's
// [CLS] row; train_test_split 75/25; LogisticRegression(); score; a DummyClassifier baseline;
// a grid search over C. bertlite never pads (it packs real tokens), but prints the shapes the
// notebook holds so a reader can follow along.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>

#include "bertlite/error.h"
#include "commands.h"
#include "finetune_data.h"
#include "input_table.h"
#include "io/model_path.h"
#include "learn/labels.h"
#include "learn/metrics.h"
#include "learn/model_selection.h"
#include "learn/pca.h"
#include "learn/split.h"
#include "learn_helpers.h"
#include "model/feature_cache.h"
#include "precision_notice.h"
#include "report/guide_report.h"
#include "train/finetune.h"
#include "util/memory.h"
#include "util/progress.h"
#include "util/threads.h"

namespace bertlite::cli {
namespace {

namespace fs = std::filesystem;

struct GuideOptions {
  std::string model = io::kDefaultModel;
  std::string train = "data/sst2/train.tsv";
  std::string dev = "data/sst2/dev.tsv";
  std::int64_t rows = 2000;
  std::uint32_t seed = 42;
  int seeds = 10;
  std::string pooling;  // empty: the model's own (sentence-transformers folders name one)
  bool no_normalize = false;
  std::string grid = "walkthrough";
  std::string report = "report.html";
  std::string precision;
  std::string example = "a visually stunning rumination on love";
  int threads = 0;
  bool no_cache = false;
  // The next step: fine-tune the whole model.
  bool finetune = false;
  std::string finetune_train;  // empty: --train; a treebank file trains on its phrases
  std::int64_t finetune_epochs = 2;
  float finetune_lr = 1e-4f;
};

// The project's bundled data when run from elsewhere: data/sst2 beside the sources.
std::string find_data(const std::string& path) {
  if (fs::exists(path) || fs::path(path).is_absolute()) return path;
  const fs::path bundled = fs::path(BERTLITE_SOURCE_DIR) / path;
  return fs::exists(bundled) ? bundled.string() : path;
}

struct LabeledTexts {
  InputTexts input;
  learn::EncodedLabels labels;
};

LabeledTexts read_labeled(const std::string& path) {
  TableInputOptions options;
  options.path = find_data(path);
  LabeledTexts data{read_input_texts(options, /*with_labels=*/true), {}};
  data.labels = learn::encode_labels(data.input.labels);
  return data;
}

// SST-2's labels are 0 and 1; say what they mean.
std::vector<std::string> display_names(const learn::EncodedLabels& labels) {
  if (labels.names == std::vector<std::string>{"0", "1"}) return {"negative", "positive"};
  return labels.names;
}

std::string label_counts(const std::vector<std::int64_t>& codes,
                         const std::vector<std::string>& names) {
  std::vector<std::int64_t> counts(names.size(), 0);
  for (std::int64_t c : codes) ++counts[c];
  std::string out;
  // Most frequent first, as pandas' value_counts() prints them.
  std::vector<std::size_t> order(names.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return counts[a] > counts[b]; });
  for (std::size_t k : order) {
    if (!out.empty()) out += ", ";
    out += util::format_count(counts[k]) + " " + names[k];
  }
  return out;
}

template <typename T>
std::vector<T> first_n(const std::vector<T>& values, std::int64_t n) {
  return {values.begin(), values.begin() + std::min<std::int64_t>(n, std::ssize(values))};
}

std::vector<std::string> take_texts(const std::vector<std::string>& texts,
                                    const std::vector<std::int64_t>& rows) {
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (std::int64_t r : rows) out.push_back(texts[static_cast<std::size_t>(r)]);
  return out;
}

// Time since `start`, in seconds.
double since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Features for `texts` with a progress bar; from the cache when the same model, options and
// texts were encoded before.
std::vector<model::Features> encode_features(const model::FeatureExtractor& extractor,
                                             const model::FeatureCache& cache,
                                             const std::vector<std::string>& texts,
                                             std::span<const io::Pooling> poolings, bool normalize,
                                             const char* label, int threads, bool* from_cache) {
  model::FeatureOptions options;
  options.threads = threads;
  options.normalize = normalize;
  util::ProgressBar bar(label, std::ssize(texts), "sentences");
  int hits = 0;
  auto features = model::extract_cached(
      extractor, cache, texts, poolings, options, [&bar](std::int64_t n) { bar.advance(n); },
      &hits);
  bar.finish();
  *from_cache = hits == static_cast<int>(poolings.size());
  return features;
}

// The test rows the classifier got most wrong: highest probability on the wrong label.
std::vector<report::Mistake> worst_mistakes(const std::vector<std::string>& texts,
                                            const std::vector<std::int64_t>& truth,
                                            const std::vector<double>& probabilities,
                                            std::int64_t classes,
                                            const std::vector<std::string>& names,
                                            std::size_t count) {
  std::vector<report::Mistake> mistakes;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const double* p = probabilities.data() + i * classes;
    const auto predicted = std::max_element(p, p + classes) - p;
    if (predicted == truth[i]) continue;
    mistakes.push_back({texts[i], names[truth[i]], names[predicted], p[predicted]});
  }
  std::stable_sort(mistakes.begin(), mistakes.end(),
                   [](const report::Mistake& a, const report::Mistake& b) {
                     return a.probability > b.probability;
                   });
  if (mistakes.size() > count) mistakes.resize(count);
  return mistakes;
}

// One experiment of the report: train on `train_x`, evaluate on `test_x`, with a grid search.
report::Experiment evaluate(const std::string& title, const learn::MatrixView& train_x,
                            const std::vector<std::int64_t>& train_y,
                            const learn::MatrixView& test_x,
                            const std::vector<std::int64_t>& test_y,
                            const std::vector<std::string>& test_texts,
                            const std::vector<double>& grid, const std::string& grid_name,
                            const std::vector<std::string>& names, int threads) {
  report::Experiment e;
  e.title = title;
  e.train_rows = train_x.rows;
  e.test_rows = test_x.rows;
  e.grid_name = grid_name;
  learn::GridSearchOptions search;
  search.threads = threads;
  search.base.threads = 1;  // the (C, fold) fits run in parallel instead
  const learn::GridSearchResult result =
      learn::fit_with_grid_search(train_x, train_y, grid, search);
  for (const learn::GridPoint& p : result.points) {
    e.cv_curve.push_back({p.C, p.cv.mean, p.cv.std});
  }
  e.best_C = result.best_C;
  e.best_cv = result.best_score;
  const std::vector<std::int64_t> predicted = result.model.predict(test_x);
  const learn::ClassificationReport metrics = learn::classification_report(test_y, predicted);
  e.accuracy = metrics.accuracy;
  e.labels = names;
  e.confusion = metrics.confusion;
  for (const learn::ClassMetrics& c : metrics.per_class) {
    e.per_class.push_back({names[c.label], c.precision, c.recall, c.f1, c.support});
  }
  e.macro_f1 = metrics.macro_f1;
  const std::vector<double> probabilities = result.model.predict_proba(test_x);
  e.roc_auc = binary_roc_auc(test_y, probabilities, names.size());
  e.mistakes = worst_mistakes(test_texts, test_y, probabilities,
                              static_cast<std::int64_t>(names.size()), names, 10);
  return e;
}

void print_experiment(const report::Experiment& e) {
  std::printf(
      "    grid search over C (%s, %zu values, 5-fold CV): best C = %.4g, CV accuracy "
      "%.3f\n",
      e.grid_name.c_str(), e.cv_curve.size(), e.best_C, e.best_cv);
  std::printf("    refit on all %s training rows -> accuracy on the %s test rows: %.3f",
              util::format_count(e.train_rows).c_str(), util::format_count(e.test_rows).c_str(),
              e.accuracy);
  if (e.roc_auc) std::printf(" (ROC AUC %.3f)", *e.roc_auc);
  std::printf("\n");
  for (const report::ClassScores& c : e.per_class) {
    std::printf("      %-10s precision %.3f  recall %.3f  F1 %.3f  (%lld rows)\n", c.label.c_str(),
                c.precision, c.recall, c.f1, static_cast<long long>(c.support));
  }
}

// The fine-tuning step's data, read and checked before anything long runs.
struct FinetuneData {
  LabelledData train, dev;
  std::vector<std::string> names;
  std::vector<std::int32_t> train_codes, dev_codes;
};

FinetuneData read_finetune_data(const GuideOptions& options) {
  FinetuneData data;
  const LabelledSource source;  // the guide's TSV layout: sentence<TAB>label
  const std::string train =
      find_data(options.finetune_train.empty() ? options.train : options.finetune_train);
  data.train = read_labelled(source, train, /*phrases=*/io::looks_like_treebank(train));
  data.names = class_names(data.train, source.task);
  data.train_codes = codes_in(data.train, data.names, data.train.source);
  require_two_classes(data.train, data.train_codes, data.names);
  data.dev = read_labelled(source, find_data(options.dev), /*phrases=*/false);
  data.dev_codes = codes_in(data.dev, data.names, data.train.source);
  return data;
}

// Step 9: every weight of the encoder trained with a classification head, scored on dev.
report::Finetuning finetune_step(const GuideOptions& options, const FinetuneData& data,
                                 const fs::path& folder, int threads) {
  train::ClassifierOptions classifier_options;
  classifier_options.labels = data.names;
  classifier_options.init_seed = options.seed;
  train::SequenceClassifier model = train::SequenceClassifier::load(folder, classifier_options);
  const Tokenizer tokenizer = Tokenizer::from_folder(folder);
  const std::size_t max_length =
      std::min<std::size_t>(128, static_cast<std::size_t>(model.config().max_positions));
  const train::EncodedExamples train_set = train::encode_examples(
      tokenizer, data.train.texts, {}, data.train_codes, max_length, threads);
  const train::EncodedExamples dev_set =
      train::encode_examples(tokenizer, data.dev.texts, {}, data.dev_codes, max_length, threads);

  train::FinetuneOptions loop;
  loop.epochs = options.finetune_epochs;
  loop.lr = options.finetune_lr;
  loop.seed = options.seed;
  std::printf(
      "\n[9] the walkthrough's next step: fine-tune every weight (%s head, %s parameters) on "
      "%s %s of %s, %lld epochs, lr %g\n",
      train::head_kind_name(model.head()), util::format_count(model.parameter_count()).c_str(),
      util::format_count(std::ssize(data.train.texts)).c_str(),
      data.train.treebank ? "phrases" : "sentences", data.train.source.c_str(),
      static_cast<long long>(loop.epochs), static_cast<double>(loop.lr));
  std::fflush(stdout);
  // The console's progress, and each epoch's last step for the loss figure.
  std::vector<std::int64_t> end_steps;
  std::int64_t steps = 0;
  train::FinetuneHooks hooks = console_hooks(loop.epochs);
  hooks.step_done = [steps = &steps, inner = hooks.step_done](std::int64_t tokens, double loss) {
    ++*steps;
    inner(tokens, loss);
  };
  hooks.epoch_done = [&, inner = hooks.epoch_done](const train::EpochMetrics& m) {
    end_steps.push_back(steps);
    std::printf("    ");
    inner(m);
  };
  const train::FinetuneResult result =
      train::finetune(model, train_set.examples, dev_set.examples, loop, hooks);

  report::Finetuning f;
  f.title = "Fine-tuned on " + util::format_count(std::ssize(data.train.texts)) +
            (data.train.treebank ? " phrases" : " sentences") + ", " +
            std::to_string(result.epochs.size()) +
            (result.epochs.size() == 1 ? " epoch" : " epochs");
  f.train_source = data.train.source;
  f.train_rows = std::ssize(data.train.texts);
  f.eval_rows = std::ssize(data.dev.texts);
  f.head = train::head_kind_name(model.head());
  f.lr = loop.lr;
  f.batch_tokens = loop.batching.batch_tokens;
  f.step_losses = result.step_losses;
  for (std::size_t e = 0; e < result.epochs.size(); ++e) {
    const train::EpochMetrics& m = result.epochs[e];
    f.epochs.push_back(
        {m.epoch, end_steps[e], m.train_loss, m.eval_loss, m.eval_accuracy, m.seconds});
  }
  f.best_epoch = result.best_epoch;
  f.seconds = result.train_seconds;
  f.tokens_per_second = result.tokens_per_second;
  f.peak_rss_mib = static_cast<double>(util::peak_rss_bytes()) / (1024.0 * 1024.0);
  const report::FinetuneEpoch& best = f.epochs[static_cast<std::size_t>(f.best_epoch - 1)];
  std::printf("    fine-tuned -> accuracy on the %s dev sentences: %.3f (epoch %lld kept), %s\n",
              util::format_count(f.eval_rows).c_str(), best.eval_accuracy,
              static_cast<long long>(best.epoch), util::format_duration(f.seconds).c_str());
  return f;
}

void run(const GuideOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  const int threads = util::set_compute_threads(options.threads);
  std::optional<kernels::Precision> precision;
  if (!options.precision.empty()) precision = kernels::parse_precision(options.precision);
  const std::vector<double> grid = learn::parse_grid(options.grid);
  if (options.rows < 8) throw InvalidArgument("--rows must be at least 8");
  if (options.finetune_epochs < 1) throw InvalidArgument("--finetune-epochs must be at least 1");
  if (!(options.finetune_lr > 0)) throw InvalidArgument("--finetune-lr must be positive");
  // Bad fine-tuning data fails now, not after the walkthrough.
  const std::optional<FinetuneData> finetune_data =
      options.finetune ? std::optional(read_finetune_data(options)) : std::nullopt;

  const fs::path folder = io::resolve_model(options.model);
  const auto load_start = std::chrono::steady_clock::now();
  const auto extractor = model::FeatureExtractor::load(folder, precision);
  print_precision_notice(extractor.encoder().precision());
  const double load_seconds = since(load_start);
  const io::ModelConfig& config = extractor.encoder().config();
  const io::Pooling pooling =
      options.pooling.empty() ? config.pooling : io::parse_pooling(options.pooling);
  // The model's own normalization (all-MiniLM-L6-v2: L2-normalized), unless told otherwise.
  const bool normalize = config.normalize && !options.no_normalize;
  const model::FeatureCache cache(options.no_cache ? fs::path()
                                                   : model::default_feature_cache_dir());

  report::GuideReport rep;
  rep.model = options.model;
  rep.model_summary = std::string(io::architecture_name(config.architecture)) + ", " +
                      std::to_string(config.layers) + " layers, hidden " +
                      std::to_string(config.hidden) + ", " +
                      util::format_count(extractor.encoder().parameter_count()) + " parameters";
  rep.pooling = io::pooling_name(pooling);
  rep.normalized = normalize;
  rep.precision = kernels::precision_name(extractor.encoder().precision());
  rep.threads = threads;

  std::printf("bertlite guide: the \"first BERT\" walkthrough, step by step\n");
  std::printf(
      "model: %s (%s; %s GEMMs)\nfeatures: %s%s pooling (the walkthrough keeps the [CLS] "
      "row; --pooling cls does too)\n\n",
      options.model.c_str(), rep.model_summary.c_str(), rep.precision.c_str(), rep.pooling.c_str(),
      normalize ? ", L2-normalized" : "");

  // 1. Read the data.
  const LabeledTexts train = read_labeled(options.train);
  const std::vector<std::string> names = display_names(train.labels);
  const std::int64_t rows = std::min<std::int64_t>(options.rows, std::ssize(train.input.texts));
  const std::vector<std::string> texts = first_n(train.input.texts, rows);
  const std::vector<std::int64_t> labels = first_n(train.labels.codes, rows);
  std::printf("[1] read %s: %s rows x 2 columns (sentence, label)\n", train.input.source.c_str(),
              util::format_count(std::ssize(train.input.texts)).c_str());
  std::printf("    the first %s rows: %s\n\n", util::format_count(rows).c_str(),
              label_counts(labels, names).c_str());
  rep.data_source = train.input.source;
  rep.total_rows = std::ssize(train.input.texts);
  rep.subset_rows = rows;
  rep.label_names = names;
  rep.subset_label_counts.assign(names.size(), 0);
  for (std::int64_t c : labels) ++rep.subset_label_counts[c];

  // 2. Tokenize: one example, then the subset; the padded matrix the notebook builds.
  const Tokenizer& tokenizer = extractor.tokenizer();
  EncodeOptions encode;
  encode.max_length = static_cast<std::size_t>(config.max_positions);
  const Encoding example = tokenizer.encode(options.example, encode);
  std::printf("[2] tokenize (adds [CLS] and [SEP]):\n    \"%s\"\n", options.example.c_str());
  std::string token_line = "    ", id_line = "    ";
  for (std::size_t i = 0; i < example.size(); ++i) {
    const std::string token(tokenizer.token(example.ids[i]));
    const std::string id = std::to_string(example.ids[i]);
    const std::size_t width = std::max(token.size(), id.size()) + 2;
    token_line += token + std::string(width - token.size(), ' ');
    id_line += id + std::string(width - id.size(), ' ');
  }
  while (token_line.ends_with(' ')) token_line.pop_back();
  while (id_line.ends_with(' ')) id_line.pop_back();
  std::printf("%s\n%s\n", token_line.c_str(), id_line.c_str());
  rep.example.sentence = options.example;
  rep.example.tokens = tokenizer.tokens(example.ids);
  rep.example.ids = example.ids;

  const std::vector<Encoding> encodings = tokenizer.encode_batch(texts, encode, threads);
  std::int64_t longest = 0, real_tokens = 0;
  for (const Encoding& e : encodings) {
    longest = std::max<std::int64_t>(longest, std::ssize(e.ids));
    real_tokens += std::ssize(e.ids);
  }
  const std::int64_t padded_cells = rows * longest;
  std::printf(
      "    padded to the longest sentence: input_ids (%lld, %lld), attention_mask "
      "(%lld, %lld)\n",
      static_cast<long long>(rows), static_cast<long long>(longest), static_cast<long long>(rows),
      static_cast<long long>(longest));
  std::printf(
      "    %s of those %s cells are real tokens (%.0f%%); bertlite packs the real "
      "tokens and never computes the padding\n\n",
      util::format_count(real_tokens).c_str(), util::format_count(padded_cells).c_str(),
      100.0 * static_cast<double>(real_tokens) / static_cast<double>(padded_cells));
  rep.padded.rows = rows;
  rep.padded.cols = longest;
  rep.padded.real_tokens = real_tokens;
  rep.padded.pad_id = tokenizer.pad_id();
  for (std::size_t i = 0; i < std::min<std::size_t>(8, encodings.size()); ++i) {
    std::vector<std::int32_t> row = encodings[i].ids;
    row.resize(static_cast<std::size_t>(longest), tokenizer.pad_id());
    rep.padded.preview.push_back(std::move(row));
  }

  // 3. The encoder.
  std::vector<io::Pooling> poolings = {pooling};
  // Step 8 compares [CLS] and mean pooling.
  poolings.push_back(pooling == io::Pooling::kMean ? io::Pooling::kCls : io::Pooling::kMean);
  bool cached = false;
  const auto encode_start = std::chrono::steady_clock::now();
  const model::Features subset =
      encode_features(extractor, cache, texts, std::span(poolings).first(1), normalize, "encoding",
                      threads, &cached)
          .front();
  const double encode_seconds = since(encode_start);
  std::printf(
      "[3] run the encoder: last_hidden_state (%lld, %lld, %lld) as the notebook holds "
      "it; bertlite computed %s x %lld\n",
      static_cast<long long>(rows), static_cast<long long>(longest),
      static_cast<long long>(config.hidden), util::format_count(real_tokens).c_str(),
      static_cast<long long>(config.hidden));
  std::printf("    features = %s of each sentence: (%lld, %lld)   %s\n\n",
              pooling == io::Pooling::kCls    ? "the [CLS] row"
              : pooling == io::Pooling::kMean ? "the mean over the tokens"
                                              : "BERT's pooler output",
              static_cast<long long>(subset.rows), static_cast<long long>(subset.cols),
              cached ? "(from the feature cache)"
                     : (std::to_string(encode_seconds).substr(0, 4) + " s, " +
                        util::format_count(static_cast<std::int64_t>(
                            static_cast<double>(real_tokens) / encode_seconds)) +
                        " tokens/s")
                           .c_str());
  rep.hidden = config.hidden;
  rep.timings.push_back({"load the model", load_seconds, ""});
  rep.timings.push_back({"encode " + util::format_count(rows) + " sentences", encode_seconds,
                         cached ? "from the feature cache"
                                : util::format_count(static_cast<std::int64_t>(
                                      static_cast<double>(real_tokens) / encode_seconds)) +
                                      " tokens/s"});
  {
    // The example sentence's feature vector, for the picture.
    model::FeatureOptions one;
    one.pooling = pooling;
    one.normalize = normalize;
    rep.example.feature = extractor.extract(std::vector<std::string>{options.example}, one).data;
  }

  // 4-6. Split, fit, score, baseline.
  const learn::MatrixView x = view_of(subset);
  const learn::TrainTestSplit split = learn::train_test_split(rows, options.seed, 0.25);
  const learn::Matrix train_x = learn::take_rows(x, split.train);
  const learn::Matrix test_x = learn::take_rows(x, split.test);
  const std::vector<std::int64_t> train_y = learn::take(labels, split.train);
  const std::vector<std::int64_t> test_y = learn::take(labels, split.test);
  std::printf(
      "[4] train_test_split(features, labels, test_size=0.25, random_state=%u): train "
      "(%lld, %lld), test (%lld, %lld)\n",
      options.seed, static_cast<long long>(train_x.rows), static_cast<long long>(train_x.cols),
      static_cast<long long>(test_x.rows), static_cast<long long>(test_x.cols));
  learn::LogisticRegressionOptions lr_options;
  lr_options.threads = threads;
  learn::LogisticRegression classifier(lr_options);
  classifier.fit(train_x.view(), train_y);
  const double accuracy = classifier.score(test_x.view(), test_y);
  std::printf("[5] LogisticRegression(C=1).fit(train) -> accuracy on the test rows: %.3f%s\n",
              accuracy,
              classifier.fit_report().converged ? ""
                                                : "  (L-BFGS stopped at max_iter=100, as "
                                                  "scikit-learn would, with a warning)");
  const learn::CrossValidation baseline = learn::cross_val_score_majority(train_y, 5);
  std::printf(
      "[6] baseline, the most frequent class (DummyClassifier, 5-fold CV): %.3f (+/- "
      "%.2f)\n",
      baseline.mean, 2 * baseline.std);
  rep.split_train = train_x.rows;
  rep.split_test = test_x.rows;
  rep.walkthrough_accuracy = accuracy;
  rep.baseline = baseline.mean;
  rep.baseline_std = baseline.std;

  // Over several seeds: the notebook's split is unseeded, so one figure is one draw.
  std::vector<double> seed_scores;
  for (int s = 0; s < options.seeds; ++s) {
    const auto seed = static_cast<std::uint32_t>(options.seed + s);
    const learn::TrainTestSplit other = learn::train_test_split(rows, seed, 0.25);
    learn::LogisticRegression fit(lr_options);
    fit.fit(learn::take_rows(x, other.train).view(), learn::take(labels, other.train));
    seed_scores.push_back(
        fit.score(learn::take_rows(x, other.test).view(), learn::take(labels, other.test)));
  }
  const learn::CrossValidation over_seeds = learn::summarize_scores(seed_scores);
  std::printf("    over %d seeds (%u..%u): accuracy %.3f +/- %.3f (mean +/- std)\n", options.seeds,
              options.seed, options.seed + options.seeds - 1, over_seeds.mean, over_seeds.std);
  rep.seeds = options.seeds;
  rep.seed_mean = over_seeds.mean;
  rep.seed_std = over_seeds.std;

  // 7. Grid search (the notebook shows it; here it runs), on the 1,500 training rows.
  std::printf("[7] grid search:\n");
  report::Experiment walkthrough =
      evaluate("The walkthrough: first " + util::format_count(rows) + " rows, 75/25 split",
               train_x.view(), train_y, test_x.view(), test_y, take_texts(texts, split.test), grid,
               options.grid, names, threads);
  print_experiment(walkthrough);
  {
    const learn::Pca pca = learn::fit_pca(train_x.view(), 2, threads);
    const std::vector<double> xy = pca.transform(train_x.view());
    for (std::int64_t i = 0; i < train_x.rows; ++i) {
      walkthrough.pca.push_back({xy[2 * i], xy[2 * i + 1], train_y[i]});
    }
    walkthrough.pca_variance = {pca.explained_variance_ratio[0], pca.explained_variance_ratio[1]};
  }
  rep.experiments.push_back(std::move(walkthrough));

  // 8. Beyond the notebook: all of train -> dev, [CLS] and mean pooling.
  const LabeledTexts dev = read_labeled(options.dev);
  const std::vector<std::int64_t> dev_y =
      label_codes(dev.input, train.labels.names, train.input.source);
  std::printf("\n[8] beyond the notebook: all %s training sentences -> the %s dev sentences\n",
              util::format_count(std::ssize(train.input.texts)).c_str(),
              util::format_count(std::ssize(dev.input.texts)).c_str());
  const auto full_start = std::chrono::steady_clock::now();
  bool train_cached = false, dev_cached = false;
  const std::vector<model::Features> train_features =
      encode_features(extractor, cache, train.input.texts, poolings, normalize, "encoding train",
                      threads, &train_cached);
  const std::vector<model::Features> dev_features = encode_features(
      extractor, cache, dev.input.texts, poolings, normalize, "encoding dev", threads, &dev_cached);
  rep.timings.push_back({"encode train + dev", since(full_start),
                         train_cached && dev_cached ? "from the feature cache" : ""});
  std::printf(
      "    features for %s sentences in %.1f s%s\n",
      util::format_count(std::ssize(train.input.texts) + std::ssize(dev.input.texts)).c_str(),
      since(full_start), train_cached && dev_cached ? " (from the feature cache)" : "");
  for (std::size_t k = 0; k < poolings.size(); ++k) {
    std::printf("    %s pooling:\n", io::pooling_name(poolings[k]));
    report::Experiment full =
        evaluate("All of train -> dev, " + std::string(io::pooling_name(poolings[k])) + " pooling",
                 view_of(train_features[k]), train.labels.codes, view_of(dev_features[k]), dev_y,
                 dev.input.texts, grid, options.grid, names, threads);
    print_experiment(full);
    rep.experiments.push_back(std::move(full));
  }

  if (finetune_data) {
    rep.finetuning = finetune_step(options, *finetune_data, folder, threads);
    rep.timings.push_back(
        {"fine-tune " + std::to_string(options.finetune_epochs) +
             (options.finetune_epochs == 1 ? " epoch" : " epochs"),
         rep.finetuning->seconds,
         util::format_count(static_cast<std::int64_t>(rep.finetuning->tokens_per_second)) +
             " tokens/s"});
  }

  rep.total_seconds = since(started);
  rep.references = {{"BERT-base [CLS] + logistic regression, SST (SentEval)", 0.8413},
                    {"BERT-base mean + logistic regression, SST (SentEval)", 0.8440},
                    {"DistilBERT [CLS] walkthrough notebook, 2,000 rows", 0.824},
                    {"DistilBERT fine-tuned, SST-2 dev", 0.913}};
  if (!options.report.empty()) {
    report::write_guide_report(options.report, rep);
    std::printf("\nreport: %s\n", options.report.c_str());
  }
  std::printf("done in %.1f s\n", rep.total_seconds);
}

}  // namespace

void add_guide_command(CLI::App& app) {
  auto options = std::make_shared<GuideOptions>();
  CLI::App* cmd = app.add_subcommand(
      "guide",
      "The \"first BERT\" walkthrough, step by step, on SST-2: tokens, padded shape, [CLS]\n"
      "features, a 75/25 split, logistic regression, a baseline, a grid search over C; then\n"
      "all of train -> dev with [CLS] and mean pooling; with --finetune, the next step, the\n"
      "whole model fine-tuned; then an illustrated HTML report.\n"
      "Features are cached on disk ($BERTLITE_CACHE, else ~/.cache/bertlite), so a second\n"
      "run skips the encoder.");
  cmd->add_option("-m,--model", options->model, "Model folder or name")->capture_default_str();
  cmd->add_option("--train", options->train, "Training data: sentence<TAB>label")
      ->capture_default_str();
  cmd->add_option("--dev", options->dev, "Held-out data for step 8")->capture_default_str();
  cmd->add_option("--rows", options->rows, "Rows of train the walkthrough uses")
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "Seed of the 75/25 split (numpy's RandomState)")
      ->capture_default_str();
  cmd->add_option("--seeds", options->seeds, "Splits to average the walkthrough accuracy over")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--pooling", options->pooling,
                  "cls (the walkthrough's), mean or pooler (default: the model's own: mean for "
                  "all-MiniLM-L6-v2, cls for plain Hugging Face models)")
      ->check(CLI::IsMember({"cls", "mean", "pooler"}));
  cmd->add_option("--grid", options->grid,
                  "C values: walkthrough (linspace(0.0001, 100, 20)), log (1e-4..1e4), or "
                  "a list like 0.1,1,10")
      ->capture_default_str();
  cmd->add_option("--report", options->report, "Write the illustrated report here ('' = none)")
      ->capture_default_str();
  cmd->add_option("--precision", options->precision, "fp32, bf16 or int8 (default: the model's)")
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
  cmd->add_option("--example", options->example, "The sentence shown flowing through the model")
      ->capture_default_str();
  cmd->add_flag("--no-normalize", options->no_normalize,
                "Keep raw vectors even where the model L2-normalizes its embeddings");
  cmd->add_flag("--no-cache", options->no_cache, "Always run the encoder");
  cmd->add_flag("--finetune", options->finetune,
                "Also take the walkthrough's next step: fine-tune every weight on the training "
                "data and score it on --dev (a few minutes on 2 cores)");
  cmd->add_option("--finetune-train", options->finetune_train,
                  "Data to fine-tune on (default: --train); a treebank file such as "
                  "data/sst/train.txt trains on its labelled phrases, the GLUE way");
  cmd->add_option("--finetune-epochs", options->finetune_epochs, "Fine-tuning epochs")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->add_option("--finetune-lr", options->finetune_lr, "Fine-tuning's peak learning rate")
      ->capture_default_str();
  cmd->add_option("-t,--threads", options->threads, "Threads (0 = all available cores)")
      ->capture_default_str();
  cmd->callback([options] { run(*options); });
}

}  // namespace bertlite::cli
