// report/guide_report.h - the illustrated report of a "first BERT" run, as one HTML file.
//
// A front end (`bertlite guide`) runs the walkthrough, fills a GuideReport with what it found,
// and calls write_guide_report:
//
//   report::GuideReport r;
//   r.model = "all-MiniLM-L6-v2";
//   r.example.sentence = "a visually stunning rumination on love";
//   ...                                // every field below says what it holds
//   report::write_guide_report("report.html", r);
//
// The file is self-contained: inline CSS and SVG only, no script, no font, no request, and a
// Content-Security-Policy that forbids them, so it opens the same offline, from an e-mail or
// from a CI artifact. Every piece of text (sentences hold <, &, quotes) is HTML-escaped.
//
// Figures carry stable ids, and a data-figure attribute naming their kind:
//   fig-flow, fig-shapes, fig-summary               once, for the walkthrough;
//   fig-cv-N, fig-confusion-N, table-mistakes-N     for experiment N (1-based), and
//   fig-pca-N                                       when experiment N has PCA points;
//   fig-loss                                        when the run fine-tuned the model;
// data-figure is the id without "-N" (fig-cv, fig-confusion, table-mistakes, fig-pca).
// tests/report/check_report.py opens the file in a real browser and checks them.
//
// This library draws; it computes nothing about models or data (the numbers come in the
// struct), and it depends only on bertlite_util.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace bertlite::report {

// The example sentence on its way through the model (fig-flow).
struct ExampleFlow {
  std::string sentence;             // as the user typed it
  std::vector<std::string> tokens;  // [CLS] a visually stunning rum ##ination ... [SEP]
  std::vector<std::int32_t> ids;    // one per token
  std::vector<float> feature;       // the pooled vector [hidden]; its first dims are drawn
  std::optional<std::string> predicted_label;  // what the walkthrough's classifier says,
  std::optional<double> probability;           //   and its probability, when known
};

// A few rows of the padded input_ids matrix the notebook builds (fig-flow, fig-shapes).
struct PaddedMatrix {
  std::int64_t rows = 0;  // of the whole matrix: the subset's sentences (2,000)
  std::int64_t cols = 0;  // T: the longest tokenized sentence (59)
  std::int32_t pad_id = 0;
  std::int64_t real_tokens = 0;  // cells that are not padding, over all rows
  // The first rows, each `cols` ids long, padded with pad_id (the mask is id != pad_id).
  std::vector<std::vector<std::int32_t>> preview;
};

// One point of a grid search: C and the cross-validated accuracy over the folds.
struct CvPoint {
  double C = 0;
  double mean = 0;
  double std = 0;
};

// One class's scores on the test rows.
struct ClassScores {
  std::string label;
  double precision = 0;
  double recall = 0;
  double f1 = 0;
  std::int64_t support = 0;  // test rows whose true label this is
};

// A test sentence the classifier got wrong.
struct Mistake {
  std::string sentence;
  std::string truth;
  std::string predicted;
  double probability = 0;  // the classifier's probability of its (wrong) prediction
};

// A training row projected on the first two principal components.
struct PcaPoint {
  double x = 0;
  double y = 0;
  std::int64_t label = 0;  // index into Experiment::labels
};

// Train on one set, choose C by cross-validation, evaluate on another: one report section.
struct Experiment {
  std::string title;        // "The walkthrough: first 2,000 rows, 75/25 split"
  std::string description;  // optional sentence under the title
  std::int64_t train_rows = 0;
  std::int64_t test_rows = 0;
  std::string grid_name;          // "walkthrough", "log", "0.1,1,10"
  std::vector<CvPoint> cv_curve;  // in grid order (sorted by C when drawn)
  int cv_folds = 5;
  double best_C = 0;
  double best_cv = 0;   // mean CV accuracy at best_C
  double accuracy = 0;  // on the test rows, after refitting at best_C
  double macro_f1 = 0;
  std::optional<double> roc_auc;        // binary tasks
  std::vector<std::string> labels;      // class names; a label code indexes this
  std::vector<std::int64_t> confusion;  // [labels, labels] row-major, row = true label
  std::vector<ClassScores> per_class;   // in label order
  std::vector<Mistake> mistakes;        // the most confident wrong ones, worst first
  std::vector<PcaPoint> pca;            // training features; empty = no scatter
  std::vector<double> pca_variance;     // explained variance ratio of PC1, PC2
};

// A step and how long it took (the header lists them).
struct Timing {
  std::string step;  // "load the model", "encode 2,000 sentences"
  double seconds = 0;
  std::string note;  // "from the feature cache", "41,000 tokens/s"
};

// A published accuracy, drawn beside the run's own in fig-summary.
struct Reference {
  std::string name;  // "BERT-base [CLS] + logistic regression (SentEval)"
  double accuracy = 0;
};

// One epoch of fine-tuning.
struct FinetuneEpoch {
  std::int64_t epoch = 0;     // 1-based
  std::int64_t end_step = 0;  // optimizer steps done when the epoch ended
  double train_loss = 0;      // mean over the epoch's batches
  double eval_loss = 0;
  double eval_accuracy = 0;  // on the held-out rows
  double seconds = 0;
};

// The walkthrough's next step: every weight of the encoder trained with a classification head
// (a section with fig-loss, and a row of fig-summary).
struct Finetuning {
  std::string title;         // "Fine-tuned: all 6,920 training sentences, 2 epochs"
  std::string train_source;  // "data/sst2/train.tsv"
  std::int64_t train_rows = 0;
  std::int64_t eval_rows = 0;
  std::string head;  // "pooler"
  double lr = 0;     // peak learning rate
  std::int64_t batch_tokens = 0;
  std::vector<double> step_losses;  // the training loss of every optimizer step
  std::vector<FinetuneEpoch> epochs;
  std::int64_t best_epoch = 0;  // 1-based; its weights are the model's
  double seconds = 0;           // training only
  double tokens_per_second = 0;
  double peak_rss_mib = 0;
};

struct GuideReport {
  std::string title = "Your first BERT, step by step";
  // The header.
  std::string model;          // "all-MiniLM-L6-v2"
  std::string model_summary;  // "BERT, 6 layers, hidden 384, 22,713,216 parameters"
  std::string pooling;        // "cls", "mean" or "pooler": the captions follow it
  bool normalized = false;    // the features were L2-normalized
  std::string precision;      // "fp32"
  int threads = 0;
  std::string data_source;                        // "data/sst2/train.tsv"
  std::int64_t total_rows = 0;                    // rows in data_source (6,920)
  std::int64_t subset_rows = 0;                   // the walkthrough's first rows (2,000)
  std::vector<std::string> label_names;           // "negative", "positive"
  std::vector<std::int64_t> subset_label_counts;  // per label, in the subset
  std::vector<Timing> timings;
  double total_seconds = 0;

  // The walkthrough's pictures.
  ExampleFlow example;
  PaddedMatrix padded;
  std::int64_t hidden = 0;  // H: the encoder's width (384, 768)
  std::int64_t split_train = 0;
  std::int64_t split_test = 0;

  // The walkthrough's numbers (fig-summary).
  double walkthrough_accuracy = 0;  // LogisticRegression() on the split
  double baseline = 0;              // majority class, 5-fold CV on the training rows
  double baseline_std = 0;
  int seeds = 0;  // splits the accuracy was averaged over (0 = not done)
  double seed_mean = 0;
  double seed_std = 0;
  std::vector<Reference> references;

  std::vector<Experiment> experiments;
  std::optional<Finetuning> finetuning;
};

// The report as one HTML document.
std::string render_guide_report(const GuideReport& report);

// Writes render_guide_report(report) to `path` atomically. Throws IoError.
void write_guide_report(const std::filesystem::path& path, const GuideReport& report);

}  // namespace bertlite::report
