// report_example - writes an illustrated report filled with realistic, synthetic numbers.
//
//   report_example [--stress] [OUT.html]      (default: report_example.html)
//
// The numbers imitate a run of `bertlite guide` on SST-2 with all-MiniLM-L6-v2 (the
// walkthrough's 2,000 rows and 75/25 split, then all of train -> dev), but nothing here ran a
// model: every value comes from a fixed-seed generator, so the output is the same on every
// machine. It exercises every figure (long and short sentences, markup in sentences, a linear
// and a log grid, PCA points) for the browser test (check_report.py) and for design work;
// --stress pushes every figure to the edges of its layout.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "report/guide_report.h"
#include "util/random.h"

namespace {

using bertlite::report::CvPoint;
using bertlite::report::Experiment;
using bertlite::report::GuideReport;

// splitmix64 (util/random.h), with the normals std::normal_distribution would not give the same
// everywhere.
class Random {
 public:
  explicit Random(std::uint64_t seed) : bits_(seed) {}
  std::uint64_t next() { return bits_.next(); }
  double uniform() { return bits_.uniform(); }  // [0, 1)
  double normal() {                             // Box-Muller
    const double u = 1.0 - uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * 3.14159265358979323846 * v);
  }
  std::int32_t between(std::int32_t lo, std::int32_t hi) {  // [lo, hi]
    return lo + static_cast<std::int32_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }

 private:
  bertlite::util::SplitMix64 bits_;
};

// Film-review sentences in the style of SST-2 (written for this example), some with the
// characters HTML must escape.
const std::vector<std::string> kMistakeSentences = {
    "it 's not a bad film , just one that forgets to be good",
    "a movie that is never quite as clever as it thinks it is , yet oddly charming",
    "the director <script>alert('hi')</script> keeps the tension low & the laughs lower",
    "\"funny\" is the word the trailer uses ; \"tiresome\" is the one you 'll remember",
    "so bad it 's almost good , which is a kind of compliment",
    "the plot , such as it is , hardly matters when the performances are this alive",
    "a loud , messy & weirdly endearing sequel",
    "you will either love it or leave at the intermission < and both are fair >",
    "beautifully shot , emotionally inert",
    "nothing new , but the familiar is done with such care that it hardly matters",
    "an ambitious failure that deserves more attention than most successes",
    "the kind of movie that makes you grateful for the fast-forward button -- and for its final "
    "ten minutes , which are superb",
};

std::vector<CvPoint> cv_curve(const std::vector<double>& grid, double scale, double peak,
                              Random& rng) {
  std::vector<CvPoint> curve;
  for (double C : grid) {
    // Under-fitted at tiny C, a plateau, then a slow decline as regularization fades.
    const double fit = 1.0 - std::exp(-C / scale);
    const double mean = 0.52 + (peak - 0.52) * fit - 0.0009 * std::log1p(C) + 0.002 * rng.normal();
    curve.push_back({C, mean, 0.012 + 0.004 * rng.uniform()});
  }
  return curve;
}

void choose_best(Experiment& e) {
  e.best_C = e.cv_curve.front().C;
  e.best_cv = e.cv_curve.front().mean;
  for (const CvPoint& p : e.cv_curve) {
    if (p.mean > e.best_cv) e.best_C = p.C, e.best_cv = p.mean;
  }
}

// Confusion, per-class scores and accuracy from true-positive rates on a binary test set.
void score_binary(Experiment& e, std::int64_t negatives, std::int64_t positives,
                  double negative_recall, double positive_recall) {
  const auto tn = static_cast<std::int64_t>(std::lround(negatives * negative_recall));
  const auto tp = static_cast<std::int64_t>(std::lround(positives * positive_recall));
  const std::int64_t fp = negatives - tn, fn = positives - tp;
  e.labels = {"negative", "positive"};
  e.confusion = {tn, fp, fn, tp};
  e.test_rows = negatives + positives;
  e.accuracy = static_cast<double>(tn + tp) / static_cast<double>(e.test_rows);
  auto scores = [](const std::string& label, std::int64_t right, std::int64_t predicted,
                   std::int64_t support) {
    const double precision = static_cast<double>(right) / static_cast<double>(predicted);
    const double recall = static_cast<double>(right) / static_cast<double>(support);
    return bertlite::report::ClassScores{label, precision, recall,
                                         2 * precision * recall / (precision + recall), support};
  };
  e.per_class = {scores("negative", tn, tn + fn, negatives),
                 scores("positive", tp, tp + fp, positives)};
  e.macro_f1 = (e.per_class[0].f1 + e.per_class[1].f1) / 2;
  e.roc_auc = 0.5 + (e.accuracy - 0.5) * 1.12;
}

void add_mistakes(Experiment& e, Random& rng, std::size_t count) {
  double p = 0.995;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string& sentence =
        kMistakeSentences[(i * 5 + e.title.size()) % kMistakeSentences.size()];
    const bool truth_positive = rng.uniform() < 0.5;
    e.mistakes.push_back({sentence, truth_positive ? "positive" : "negative",
                          truth_positive ? "negative" : "positive", p});
    p -= 0.01 + 0.02 * rng.uniform();
  }
}

GuideReport make_report() {
  Random rng(20191126);  // the day the walkthrough's notebook ran
  GuideReport r;
  r.model = "all-MiniLM-L6-v2";
  r.model_summary = "BERT, 6 layers, hidden 384, 22,713,216 parameters";
  r.pooling = "cls";
  r.precision = "fp32";
  r.threads = 2;
  r.data_source = "data/sst2/train.tsv";
  r.total_rows = 6920;
  r.subset_rows = 2000;
  r.label_names = {"negative", "positive"};
  r.subset_label_counts = {959, 1041};
  r.timings = {{"load the model", 0.21, "safetensors, memory-mapped"},
               {"tokenize 2,000 sentences", 0.03, ""},
               {"encode 2,000 sentences", 3.92, "11,800 tokens/s"},
               {"grid search, 20 values of C \xC3\x97 5 folds", 1.46, ""},
               {"encode all of train and dev (7,792 sentences)", 14.8, "from the feature cache"},
               {"grid searches on train \xE2\x86\x92 dev", 9.7, ""}};
  r.total_seconds = 30.9;

  r.example.sentence = "a visually stunning rumination on love";
  r.example.tokens = {"[CLS]",     "a",  "visually", "stunning", "rum",
                      "##ination", "on", "love",     "[SEP]"};
  r.example.ids = {101, 1037, 17453, 14726, 19379, 12758, 2006, 2293, 102};
  for (int i = 0; i < 384; ++i)
    r.example.feature.push_back(static_cast<float>(0.35 * rng.normal()));
  r.example.predicted_label = "positive";
  r.example.probability = 0.934;

  r.hidden = 384;
  r.padded.rows = 2000;
  r.padded.cols = 59;
  r.padded.pad_id = 0;
  r.padded.real_tokens = 46213;
  for (int row = 0; row < 8; ++row) {
    std::vector<std::int32_t> ids(59, 0);
    const int length = rng.between(6, row == 3 ? 59 : 34);
    ids[0] = 101;
    for (int k = 1; k + 1 < length; ++k) ids[k] = rng.between(1000, 29000);
    ids[length - 1] = 102;
    r.padded.preview.push_back(ids);
  }
  r.split_train = 1500;
  r.split_test = 500;
  r.walkthrough_accuracy = 0.826;
  r.baseline = 0.521;
  r.baseline_std = 0.0021;
  r.seeds = 10;
  r.seed_mean = 0.829;
  r.seed_std = 0.0142;
  r.references = {{"BERT-base [CLS] + logistic regression (SentEval, SST)", 0.8413},
                  {"DistilBERT fine-tuned, SST-2 dev", 0.913}};

  // 1. The walkthrough: first 2,000 rows, 75/25 split, the notebook's linear grid, PCA.
  {
    Experiment e;
    e.title = "The walkthrough: first 2,000 rows, 75/25 split";
    e.description =
        "LogisticRegression on the 1,500 training rows, C chosen by 5-fold "
        "cross-validation, scored on the 500 held-out rows.";
    e.train_rows = 1500;
    e.grid_name = "walkthrough";
    std::vector<double> grid;
    for (int i = 0; i < 20; ++i) grid.push_back(0.0001 + (100 - 0.0001) * i / 19);
    e.cv_curve = cv_curve(grid, 0.9, 0.842, rng);
    choose_best(e);
    score_binary(e, 241, 259, 0.813, 0.857);
    add_mistakes(e, rng, 10);
    for (int i = 0; i < 1500; ++i) {
      const std::int64_t label = i < 719 ? 0 : 1;
      const double shift = label == 0 ? -1.1 : 1.0;
      e.pca.push_back({shift + 1.3 * rng.normal(), 0.3 * shift + 0.9 * rng.normal(), label});
    }
    e.pca_variance = {0.112, 0.064};
    r.experiments.push_back(std::move(e));
  }
  // 2-3. All of train -> dev, [CLS] and mean pooling, a log grid.
  for (const char* pooling : {"cls", "mean"}) {
    Experiment e;
    e.title = std::string("All of train \xE2\x86\x92 dev, ") + pooling + " pooling";
    e.train_rows = 6920;
    e.grid_name = "log";
    std::vector<double> grid;
    for (int k = -4; k <= 4; ++k) grid.push_back(std::pow(10.0, k));
    const bool mean = std::string(pooling) == "mean";
    e.cv_curve = cv_curve(grid, 0.05, mean ? 0.861 : 0.848, rng);
    choose_best(e);
    score_binary(e, 428, 444, mean ? 0.853 : 0.836, mean ? 0.874 : 0.867);
    add_mistakes(e, rng, 12);
    r.experiments.push_back(std::move(e));
  }
  // 4. Fine-tuning: 2 epochs of 80 steps, a noisy loss falling from ln 2.
  {
    bertlite::report::Finetuning f;
    f.title = "Fine-tuned on 6,920 sentences, 2 epochs";
    f.train_source = "data/sst2/train.tsv";
    f.train_rows = 6920;
    f.eval_rows = 872;
    f.head = "pooler";
    f.lr = 1e-4;
    f.batch_tokens = 2048;
    for (int i = 0; i < 160; ++i) {
      f.step_losses.push_back(0.18 + 0.51 * std::exp(-i / 25.0) + 0.06 * rng.normal());
    }
    f.epochs = {{1, 80, 0.51, 0.341, 0.8612, 83.3}, {2, 160, 0.283, 0.332, 0.8704, 80.2}};
    f.best_epoch = 2;
    f.seconds = 163.5;
    f.tokens_per_second = 1976;
    f.peak_rss_mib = 1104;
    r.finetuning = std::move(f);
  }
  return r;
}

// The same report pushed to the edges of the layout: five classes with long names, a long
// sentence with long tokens and markup, T = 512, a hidden size of 1,024 with an all-zero
// vector, 7,000 PCA points, a one-point grid, a std band past 1, a perfect classifier, long
// titles. The browser test checks that nothing spills out of its figure.
GuideReport make_stress_report() {
  Random rng(7);
  GuideReport r = make_report();
  r.title = "Your first BERT, step by step, with a title long enough to wrap onto a second line";
  r.model = "sentence-transformers/all-MiniLM-L6-v2@a-long-revision-name-that-goes-on-and-on";
  r.model_summary = "BERT, 24 layers, hidden 1,024, 335,141,888 parameters";
  r.pooling = "mean";
  r.label_names = {"very negative", "negative", "neutral", "positive", "very positive"};
  r.subset_label_counts = {279, 633, 389, 510, 189};
  r.example.sentence =
      "an <extraordinarily> & \"supercalifragilisticexpialidocious\" rumination on love, loss, "
      "memory and the way a small town remembers -- or refuses to remember -- the people who "
      "left it behind, told in fragments that never quite add up but always feel true";
  r.example.tokens = {"[CLS]"};
  r.example.ids = {101};
  for (int i = 0; i < 70; ++i) {
    r.example.tokens.push_back(i % 9 == 4 ? "##ilisticexpialidocious" : i % 5 == 0 ? "<" : "word");
    r.example.ids.push_back(rng.between(1000, 29999));
  }
  r.example.tokens.push_back("[SEP]");
  r.example.ids.push_back(102);
  r.example.feature.assign(1024, 0.0f);
  r.example.predicted_label = "very positive";
  r.hidden = 1024;
  r.padded.cols = 512;
  r.padded.real_tokens = 61000;
  for (auto& row : r.padded.preview) row.resize(512, 0);
  r.seeds = 0;
  r.references.clear();
  for (Experiment& e : r.experiments) {
    e.labels = r.label_names;
    e.confusion.assign(25, 0);
    e.per_class.clear();
    for (int t = 0; t < 5; ++t) {
      for (int p = 0; p < 5; ++p) e.confusion[t * 5 + p] = t == p ? 60 + 9 * t : rng.between(0, 14);
      e.per_class.push_back({r.label_names[t], 0.5, 0.5, 0.5, 80});
    }
    for (auto& m : e.mistakes) m.truth = "very negative", m.predicted = "very positive";
    e.pca.clear();
  }
  Experiment& first = r.experiments[0];
  first.title = "A five-class run with a title long enough that it has to wrap somewhere sensible";
  for (int i = 0; i < 7000; ++i) {
    const std::int64_t label = i % 5;
    first.pca.push_back({label + 2.0 * rng.normal(), 40.0 * rng.normal(), label});
  }
  first.pca_variance = {0.21, 0.004};
  Experiment& second = r.experiments[1];
  second.cv_curve = {{1.0, 0.93, 0.2}};  // one point, a band past 1
  second.best_C = 1.0;
  second.best_cv = 0.93;
  second.mistakes.clear();        // perfect
  r.experiments[2].best_C = 1e9;  // outside the grid: not drawn, still listed
  // Fine-tuning for many epochs and steps, with a loss spike and a missing figure.
  bertlite::report::Finetuning& f = *r.finetuning;
  f.title = "Fine-tuned on 77,616 phrases of a treebank with a title that goes on, 12 epochs";
  f.step_losses.clear();
  f.epochs.clear();
  for (int i = 0; i < 6000; ++i) f.step_losses.push_back(0.1 + 0.6 * std::exp(-i / 300.0));
  f.step_losses[17] = 25.0;
  f.step_losses[18] = std::nan("");
  for (int e = 1; e <= 12; ++e) f.epochs.push_back({e, 500 * e, 0.3, 0.35, 0.9, 480.0});
  f.best_epoch = 12;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const bool stress = !args.empty() && args[0] == "--stress";
  if (stress) args.erase(args.begin());
  const std::string path = !args.empty() ? args[0] : "report_example.html";
  try {
    bertlite::report::write_guide_report(path, stress ? make_stress_report() : make_report());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "report_example: %s\n", e.what());
    return 1;
  }
  std::printf("%s\n", path.c_str());
  return 0;
}
