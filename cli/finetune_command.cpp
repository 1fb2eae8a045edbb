// cli/finetune_command.cpp - `bertlite finetune`: every weight of the encoder and a new
// classification head trained on labelled sentences (train/finetune.h), written as a Hugging
// Face folder that `bertlite predict --model` and transformers both load.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "bertlite/error.h"
#include "bertlite/tokenizer.h"
#include "commands.h"
#include "validators.h"
#include "finetune_data.h"
#include "input_table.h"
#include "io/model_path.h"
#include "io/treebank.h"
#include "learn/labels.h"
#include "train/finetune.h"
#include "util/file.h"
#include "util/memory.h"
#include "util/progress.h"
#include "util/threads.h"

namespace bertlite::cli {
namespace {

namespace fs = std::filesystem;

struct FinetuneCliOptions {
  std::string model = io::kDefaultModel;
  TableInputOptions train;
  std::string pair_column;
  std::string eval;
  std::string task = "sst2";
  bool phrases = false;
  std::string head;
  std::size_t max_length = 128;
  train::FinetuneOptions loop;
  std::string checkpoint;
  std::string resume;
  bool keep_checkpoint = false;
  std::string out;
  int threads = 0;
};

nlohmann::json result_json(const train::FinetuneResult& r, const FinetuneCliOptions& options,
                           int threads, std::int64_t examples) {
  nlohmann::json epochs = nlohmann::json::array();
  for (const train::EpochMetrics& m : r.epochs) {
    epochs.push_back({{"epoch", m.epoch},
                      {"train_loss", m.train_loss},
                      {"eval_loss", m.eval_loss},
                      {"eval_accuracy", m.eval_accuracy},
                      {"seconds", m.seconds},
                      {"tokens_per_second", m.tokens_per_second}});
  }
  return {{"model", options.model},
          {"train", options.train.path},
          {"eval", options.eval},
          {"phrases", options.phrases},
          {"examples", examples},
          {"epochs", epochs},
          {"best_epoch", r.best_epoch},
          {"steps", r.steps},
          {"step_losses", r.step_losses},
          {"train_tokens", r.train_tokens * static_cast<std::int64_t>(r.epochs.size())},
          {"train_tokens_per_epoch", r.train_tokens},
          {"padded_tokens", r.padded_tokens * static_cast<std::int64_t>(r.epochs.size())},
          {"trainer_padded_tokens",
           r.trainer_padded_tokens * static_cast<std::int64_t>(r.epochs.size())},
          {"train_seconds", r.train_seconds},
          {"tokens_per_second", r.tokens_per_second},
          {"useful_gflops", r.useful_gflops},
          {"peak_rss_mib", static_cast<double>(util::peak_rss_bytes()) / (1024.0 * 1024.0)},
          {"peak_activation_mib",
           static_cast<double>(r.peak_activation_floats) * 4.0 / (1024.0 * 1024.0)},
          {"threads", threads},
          {"lr", options.loop.lr},
          {"batch_tokens", options.loop.batching.batch_tokens},
          {"batch_size", options.loop.batching.batch_size},
          {"warmup", options.loop.warmup},
          {"weight_decay", options.loop.weight_decay},
          {"max_length", options.max_length},
          {"seed", options.loop.seed}};
}

void run(FinetuneCliOptions options) {
  const int threads = util::set_compute_threads(options.threads);
  const fs::path out = options.out;
  if (fs::exists(out)) throw InvalidArgument("--out " + options.out + ": already exists");
  options.loop.resume = !options.resume.empty();
  const fs::path checkpoint = options.loop.resume          ? fs::path(options.resume)
                              : options.checkpoint.empty() ? fs::path(options.out + ".checkpoint")
                                                           : fs::path(options.checkpoint);
  if (!options.loop.resume && fs::exists(checkpoint / "state.json")) {
    throw InvalidArgument(checkpoint.string() +
                          ": a checkpoint of an earlier run is there; continue it with --resume " +
                          checkpoint.string() + " or delete it");
  }
  options.loop.checkpoint_dir = checkpoint;

  // Data, all checked before the model is read.
  LabelledSource source;
  source.table = options.train;
  source.pair_column = options.pair_column;
  source.task = options.task == "sst5" ? io::TreebankTask::kSst5 : io::TreebankTask::kSst2;
  const LabelledData train_data = read_labelled(source, options.train.path, options.phrases);
  const std::vector<std::string> names = class_names(train_data, source.task);
  const std::vector<std::int32_t> train_codes = codes_in(train_data, names, train_data.source);
  require_two_classes(train_data, train_codes, names);
  print_label_counts("train:", train_data, train_codes, names);
  LabelledData eval_data;
  std::vector<std::int32_t> eval_codes;
  if (!options.eval.empty()) {
    eval_data = read_labelled(source, options.eval, /*phrases=*/false);
    eval_codes = codes_in(eval_data, names, train_data.source);
    print_label_counts("eval: ", eval_data, eval_codes, names);
  }

  const fs::path folder = io::resolve_model(options.model);
  train::ClassifierOptions classifier_options;
  classifier_options.labels = names;
  if (!options.head.empty()) classifier_options.head = train::parse_head_kind(options.head);
  classifier_options.init_seed = options.loop.seed;
  train::SequenceClassifier model = train::SequenceClassifier::load(folder, classifier_options);
  const Tokenizer tokenizer = Tokenizer::from_folder(folder);
  const std::size_t max_length = std::min<std::size_t>(
      options.max_length != 0 ? options.max_length : tokenizer.info().model_max_length,
      static_cast<std::size_t>(model.config().max_positions));

  const train::EncodedExamples train_set = train::encode_examples(
      tokenizer, train_data.texts, train_data.pairs, train_codes, max_length, threads);
  train::EncodedExamples eval_set;
  if (!options.eval.empty()) {
    eval_set = train::encode_examples(tokenizer, eval_data.texts, eval_data.pairs, eval_codes,
                                      max_length, threads);
  }
  std::printf("model: %s, %s parameters, %s head, dropout %.2g; %s tokens per epoch",
              folder.string().c_str(), util::format_count(model.parameter_count()).c_str(),
              train::head_kind_name(model.head()), model.hidden_dropout(),
              util::format_count(train_set.tokens).c_str());
  if (train_set.truncated > 0) {
    std::printf(" (%s rows cut to %zu tokens)", util::format_count(train_set.truncated).c_str(),
                max_length);
  }
  std::printf("\n");
  std::fflush(stdout);

  const train::FinetuneResult result =
      train::finetune(model, train_set.examples, eval_set.examples, options.loop,
                      console_hooks(options.loop.epochs));
  model.save(out);
  util::write_file_atomic(
      out / "training.json",
      result_json(result, options, threads, std::ssize(train_set.examples)).dump(1));
  if (!options.keep_checkpoint) fs::remove_all(checkpoint);

  const double padding =
      result.trainer_padded_tokens > 0
          ? 100.0 * static_cast<double>(result.trainer_padded_tokens - result.train_tokens) /
                static_cast<double>(result.trainer_padded_tokens)
          : 0.0;
  std::printf(
      "fine-tuned %lld epochs (%s steps) in %s: %s tokens/s, %.1f GFLOPS useful; "
      "packed batches skip the %.0f%% padding of random padded ones",
      static_cast<long long>(result.epochs.size()), util::format_count(result.steps).c_str(),
      util::format_duration(result.train_seconds).c_str(),
      util::format_count(std::llround(result.tokens_per_second)).c_str(), result.useful_gflops,
      padding);
  const train::EpochMetrics& best = result.epochs[static_cast<std::size_t>(result.best_epoch - 1)];
  if (best.eval_accuracy >= 0) {
    std::printf("; best epoch %lld: eval accuracy %.4f", static_cast<long long>(best.epoch),
                best.eval_accuracy);
  }
  std::printf("; peak RSS %.0f MiB; saved %s\n",
              static_cast<double>(util::peak_rss_bytes()) / (1024.0 * 1024.0), out.c_str());
}

}  // namespace

void add_finetune_command(CLI::App& app) {
  auto options = std::make_shared<FinetuneCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "finetune",
      "Fine-tune the whole model and a classification head on labelled sentences, and save a\n"
      "Hugging Face folder (config.json with the labels, model.safetensors, tokenizer files)\n"
      "that `bertlite predict --model` and transformers' AutoModelForSequenceClassification\n"
      "load. Training data: a TSV/CSV/JSONL table with text and label columns, or a Stanford\n"
      "Sentiment Treebank file (data/sst/train.txt; --phrases for every labelled phrase).\n"
      "Checkpoints go to OUT.checkpoint at every epoch end (and every --save-every steps);\n"
      "--resume continues a killed run exactly.");
  cmd->add_option("-m,--model", options->model, "Model folder or name")->capture_default_str();
  add_table_input_options(*cmd, options->train, /*labels=*/true, "--train");
  cmd->get_option("--train")->required();
  cmd->add_option("--pair-column", options->pair_column,
                  "A second text column: sentence pairs ([CLS] a [SEP] b [SEP])");
  cmd->add_option("--eval", options->eval,
                  "Data to evaluate on after every epoch (same format; labels 0, 1, ... stand "
                  "for the training labels in order); the best epoch is kept");
  cmd->add_option("--task", options->task,
                  "For treebank files: sst2 (neutral dropped) or sst5 (five classes)")
      ->capture_default_str()
      ->check(CLI::IsMember({"sst2", "sst5"}));
  cmd->add_flag("--phrases", options->phrases,
                "Treebank training file: every distinct labelled phrase, not just sentences "
                "(the GLUE SST-2 protocol)");
  cmd->add_option("--head", options->head,
                  "pooler (BERT's), distilbert (DistilBERT's) or mean (a linear layer on mean "
                  "pooling; saved with a module transformers loads with trust_remote_code). "
                  "Default: a fine-tuned folder's own head; mean for sentence-transformers "
                  "models that pool by the mean (all-MiniLM-L6-v2); else pooler or distilbert")
      ->check(CLI::IsMember({"pooler", "distilbert", "mean"}));
  cmd->add_option("--epochs", options->loop.epochs, "Passes over the training data")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--lr", options->loop.lr, "Peak learning rate (AdamW)")->capture_default_str();
  cmd->add_option("--batch-tokens", options->loop.batching.batch_tokens,
                  "Real tokens per batch (packed: no padding is computed); 0 = no limit")
      ->capture_default_str()
      ->check(number_above_zero(true));
  cmd->add_option("--batch-size", options->loop.batching.batch_size,
                  "At most this many sentences per batch (0 = no limit)")
      ->capture_default_str()
      ->check(number_above_zero(true));
  cmd->add_option("--accumulate", options->loop.accumulation,
                  "Batches per optimizer step (gradient accumulation)")
      ->capture_default_str()
      ->check(number_above_zero());
  cmd->add_option("--warmup", options->loop.warmup,
                  "Fraction of the steps over which the learning rate rises from 0, then falls "
                  "linearly to 0")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--weight-decay", options->loop.weight_decay,
                  "AdamW's decoupled weight decay (not on biases and LayerNorm weights)")
      ->capture_default_str();
  cmd->add_option("--max-grad-norm", options->loop.max_grad_norm,
                  "Clip gradients to this global norm (0 = no clipping)")
      ->capture_default_str();
  cmd->add_option("--label-smoothing", options->loop.label_smoothing,
                  "Cross-entropy label smoothing")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--max-length", options->max_length,
                  "Cut inputs to this many tokens (0 = the model's maximum)")
      ->capture_default_str();
  cmd->add_option("--seed", options->loop.seed,
                  "Seed of the batch order, dropout and the new head's weights: a run repeats "
                  "exactly on the same machine and thread count")
      ->capture_default_str();
  cmd->add_option("--save-every", options->loop.save_every,
                  "Also checkpoint every N optimizer steps (0 = at epoch ends only)")
      ->capture_default_str()
      ->check(number_above_zero(true));
  auto* checkpoint = cmd->add_option("--checkpoint", options->checkpoint,
                                     "Checkpoint folder (default OUT.checkpoint)");
  cmd->add_option("--resume", options->resume,
                  "Continue the run whose checkpoint folder this is (same data and options)")
      ->excludes(checkpoint);
  cmd->add_flag("--keep-checkpoint", options->keep_checkpoint,
                "Keep the checkpoint folder after a successful run");
  cmd->add_option("-o,--out", options->out, "The fine-tuned model folder to write (must not exist)")
      ->required();
  cmd->add_option("-t,--threads", options->threads, "Threads (0 = all available cores)")
      ->capture_default_str();
  cmd->callback([options] { run(*options); });
}

}  // namespace bertlite::cli
