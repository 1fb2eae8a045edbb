// The page: header, the walkthrough's figures, one section per experiment, with the CSS inline.
// The figures themselves are drawn in figures.cpp.
#include "report/guide_report.h"

#include <algorithm>
#include <cmath>

#include "bertlite/error.h"
#include "report/figures.h"
#include "report/svg.h"
#include "util/file.h"

#ifndef BERTLITE_VERSION
#define BERTLITE_VERSION "unknown"
#endif

namespace bertlite::report {

namespace {

// Readable at 1200 px and on a phone; colours match svg.h's palette. Fonts are the reader's
// own (no download): system UI first, DejaVu where that is all there is.
constexpr const char* kStyle = R"css(
:root { --ink:#1f2328; --muted:#59636e; --line:#d8dee4; --bg:#f3f5f7; --card:#ffffff;
        --blue:#0072b2; --vermillion:#d55e00; --green:#009e73; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
            "Noto Sans","DejaVu Sans",sans-serif; }
main { max-width:1120px; margin:0 auto; padding:40px 24px 56px; }
code,.mono,svg.figure .mono { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,
                              "DejaVu Sans Mono",monospace; }
.kicker { margin:0; color:var(--blue); font-size:.78rem; font-weight:700; letter-spacing:.09em;
          text-transform:uppercase; }
h1 { margin:.15em 0 .25em; font-size:2.2rem; line-height:1.2; letter-spacing:-.01em; }
h2 { margin:0 0 .35em; font-size:1.5rem; line-height:1.25; }
h2 .number { color:var(--blue); margin-right:.35em; }
h3 { margin:1.8em 0 .5em; font-size:1.1rem; }
p { margin:.5em 0; max-width:54em; }
.lede { color:var(--muted); font-size:1.1rem; }
a { color:var(--blue); }
nav { margin:18px 0 0; font-size:.92rem; }
nav a { display:inline-block; margin:0 14px 6px 0; text-decoration:none; }
nav a:hover { text-decoration:underline; }
.facts { display:grid; grid-template-columns:repeat(auto-fill,minmax(240px,1fr)); gap:14px 28px;
         margin:22px 0 0; padding:18px 24px; background:var(--card); border:1px solid var(--line);
         border-radius:12px; }
.facts div { min-width:0; }
.facts dt { color:var(--muted); font-size:.74rem; font-weight:600; letter-spacing:.06em;
            text-transform:uppercase; }
.facts dd { margin:2px 0 0; font-weight:600; overflow-wrap:anywhere; }
.facts dd .sub { display:block; color:var(--muted); font-weight:400; font-size:.88rem; }
section { margin:28px 0; padding:28px 32px 30px; background:var(--card);
          border:1px solid var(--line); border-radius:12px; }
figure { margin:22px 0 0; min-width:0; }
figcaption { margin-top:10px; color:var(--muted); font-size:.9rem; max-width:60em; }
svg.figure { display:block; max-width:100%; height:auto; }
svg.figure text { font-size:13px; fill:var(--ink); }
svg.figure .axis { font-size:12px; fill:var(--muted); font-variant-numeric:tabular-nums; }
svg.figure .axis-title { font-size:13px; fill:var(--muted); }
svg.figure .note { font-size:12.5px; fill:var(--muted); }
svg.figure .small { font-size:11px; fill:var(--muted); }
svg.figure .strong { font-weight:700; }
svg.figure .big { font-size:15px; }
svg.figure .huge { font-size:22px; }
svg.figure .sentence { font-size:17px; font-style:italic; }
svg.figure .step { font-size:14px; font-weight:700; }
svg.figure .step-sub { font-size:12.5px; fill:var(--muted); }
svg.figure .step-number { font-size:12px; font-weight:700; fill:#ffffff; }
svg.figure .pad { fill:#8c959f; }
svg.figure .chip-text { font-size:15px; font-weight:700; fill:#ffffff; }
.row { display:flex; flex-wrap:wrap; gap:24px 36px; align-items:flex-start; }
.row > figure { flex:1 1 440px; }
.row > .side { flex:1 1 320px; min-width:0; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:12px;
         margin:18px 0 4px; }
.card { padding:12px 16px; background:#f8fafc; border:1px solid var(--line); border-radius:10px; }
.card .value { font-size:1.55rem; font-weight:700; font-variant-numeric:tabular-nums; }
.card .label { color:var(--muted); font-size:.8rem; }
.table-scroll { max-width:100%; overflow-x:auto; }
table { border-collapse:collapse; font-variant-numeric:tabular-nums; }
th, td { padding:7px 12px 7px 0; border-bottom:1px solid #e7ebef; text-align:left;
         vertical-align:top; }
th { color:var(--muted); font-size:.74rem; font-weight:600; letter-spacing:.05em;
     text-transform:uppercase; }
tfoot td { border-bottom:0; color:var(--muted); }
table.metrics { margin-top:18px; }
table.metrics td, table.metrics th { padding-right:20px; }
.timings { margin:16px 0 0; padding:14px 24px 16px; background:var(--card);
           border:1px solid var(--line); border-radius:12px; }
.timings h3 { margin:0 0 6px; font-size:.74rem; font-weight:600; letter-spacing:.06em;
              text-transform:uppercase; color:var(--muted); }
.timings table { width:100%; }
.timings td { padding:3px 16px 3px 0; border:0; font-size:.92rem; }
.timings td.seconds { text-align:right; font-weight:600; white-space:nowrap; }
.timings td.bar-cell { width:28%; }
.timings td:last-child { color:var(--muted); }
.time-bar { display:block; height:10px; min-width:2px; background:var(--blue); border-radius:3px;
            opacity:.75; }
table.mistakes { width:100%; }
table.mistakes td.sentence { width:62%; }
table.mistakes td.rank { color:var(--muted); }
table.mistakes td.probability { white-space:nowrap; }
.chip { display:inline-block; padding:1px 10px; border-radius:999px; color:#fff;
        font-size:.8rem; font-weight:700; white-space:nowrap; }
.bar { display:inline-block; width:72px; height:8px; margin-right:8px; overflow:hidden;
       vertical-align:middle; background:#e7ebef; border-radius:4px; }
.bar > span { display:block; height:100%; background:var(--vermillion); }
footer { margin-top:36px; color:var(--muted); font-size:.85rem; text-align:center; }
@media (max-width:700px) {
  main { padding:24px 12px; } section { padding:20px 16px; }
  /* The full-width figures keep a readable size and scroll sideways instead of shrinking. */
  figure.wide { overflow-x:auto; }
  figure.wide svg.figure { max-width:none; width:760px; }
}
)css";

void check(bool ok, const std::string& message) {
  if (!ok) throw InvalidArgument("guide report: " + message);
}

// The struct is filled by hand in a front end; catch a mismatch there with a message that
// names the field, rather than drawing nonsense.
void validate(const GuideReport& r) {
  check(r.example.ids.size() == r.example.tokens.size(),
        "example has " + std::to_string(r.example.tokens.size()) + " tokens but " +
            std::to_string(r.example.ids.size()) + " ids");
  for (std::size_t i = 0; i < r.padded.preview.size(); ++i) {
    check(static_cast<std::int64_t>(r.padded.preview[i].size()) == r.padded.cols,
          "padded.preview[" + std::to_string(i) + "] has " +
              std::to_string(r.padded.preview[i].size()) +
              " ids, expected padded.cols = " + std::to_string(r.padded.cols));
  }
  check(r.subset_label_counts.empty() || r.subset_label_counts.size() == r.label_names.size(),
        "subset_label_counts has " + std::to_string(r.subset_label_counts.size()) +
            " entries for " + std::to_string(r.label_names.size()) + " label names");
  for (std::size_t k = 0; k < r.experiments.size(); ++k) {
    const Experiment& e = r.experiments[k];
    const std::string where = "experiment " + std::to_string(k + 1) + " ('" + e.title + "')";
    const std::size_t n = e.labels.size();
    check(n > 0, where + " has no labels");
    check(e.confusion.size() == n * n,
          where + ": confusion has " + std::to_string(e.confusion.size()) + " entries, expected " +
              std::to_string(n * n) + " (" + std::to_string(n) + " labels squared)");
    for (std::int64_t c : e.confusion) check(c >= 0, where + ": negative count in confusion");
    for (const PcaPoint& p : e.pca) {
      check(p.label >= 0 && static_cast<std::size_t>(p.label) < n,
            where + ": PCA point with label " + std::to_string(p.label) + ", expected 0.." +
                std::to_string(n - 1));
    }
    check(e.pca_variance.size() <= 2, where + ": pca_variance has " +
                                          std::to_string(e.pca_variance.size()) +
                                          " entries, expected at most 2");
  }
  if (r.finetuning) {
    const Finetuning& f = *r.finetuning;
    check(f.epochs.empty() || (f.best_epoch >= 1 && f.best_epoch <= std::ssize(f.epochs)),
          "finetuning.best_epoch is " + std::to_string(f.best_epoch) + ", expected 1.." +
              std::to_string(f.epochs.size()));
    for (const FinetuneEpoch& e : f.epochs) {
      check(e.end_step >= 0 && e.end_step <= std::ssize(f.step_losses),
            "finetuning epoch " + std::to_string(e.epoch) + " ends at step " +
                std::to_string(e.end_step) + " of " + std::to_string(f.step_losses.size()));
    }
  }
}

std::string fact(std::string_view term, std::string_view value, std::string_view sub = {}) {
  std::string html = "<div><dt>" + escape_html(term) + "</dt><dd>" + escape_html(value);
  if (!sub.empty()) html += "<span class=\"sub\">" + escape_html(sub) + "</span>";
  return html + "</dd></div>";
}

std::string card(std::string_view value, std::string_view label) {
  return "<div class=\"card\"><div class=\"value\">" + escape_html(value) +
         "</div><div class=\"label\">" + escape_html(label) + "</div></div>";
}

std::string header(const GuideReport& r) {
  std::string html = "<header><p class=\"kicker\">bertlite guide &middot; illustrated report</p>";
  html += "<h1>" + escape_html(r.title) + "</h1>";
  html +=
      "<p class=\"lede\">What happens to a sentence on its way through a BERT-family encoder and "
      "a logistic regression, drawn from a real run: the walkthrough of <em>A Visual Guide to "
      "Using BERT for the First Time</em> (Jay Alammar, 2019), redone by bertlite, and then "
      "taken further.</p>";
  html += "<dl class=\"facts\">";
  html += fact("model", r.model, r.model_summary);
  std::string features = r.pooling + (r.normalized ? ", L2-normalized" : "") + " pooling";
  if (!r.precision.empty()) features += ", " + r.precision + " GEMMs";
  html += fact("features", features,
               r.threads > 0 ? std::to_string(r.threads) + " threads" : std::string());
  html += fact("data", r.data_source, format_int(r.total_rows) + " labelled sentences");
  std::string counts;
  for (std::size_t i = 0; i < r.subset_label_counts.size(); ++i) {
    counts += (i ? ", " : "") + format_int(r.subset_label_counts[i]) + " " + r.label_names[i];
  }
  html += fact("the walkthrough's subset", "first " + format_int(r.subset_rows) + " rows", counts);
  html += fact(
      "the walkthrough's split",
      format_int(r.split_train) + " train / " + format_int(r.split_test) + " test",
      "features (" + format_int(r.split_train + r.split_test) + ", " + format_int(r.hidden) + ")");
  html += fact("run time", format_fixed(r.total_seconds, 1) + " s", "bertlite " BERTLITE_VERSION);
  html += "</dl>";
  if (!r.timings.empty()) {
    // Each step's time as a bar against the longest: where the time goes is part of the story.
    double longest = 0;
    for (const Timing& t : r.timings) {
      if (std::isfinite(t.seconds)) longest = std::max(longest, t.seconds);
    }
    html +=
        "<div class=\"timings\"><h3>Where the time went</h3><div "
        "class=\"table-scroll\"><table><tbody>";
    for (const Timing& t : r.timings) {
      const double share = longest > 0 && std::isfinite(t.seconds) ? t.seconds / longest : 0;
      html += "<tr><td>" + escape_html(t.step) + "</td><td class=\"seconds\">" +
              format_fixed(t.seconds, t.seconds < 10 ? 2 : 1) +
              " s</td><td class=\"bar-cell\"><span class=\"time-bar\" style=\"width:" +
              format_fixed(100 * std::clamp(share, 0.0, 1.0), 1) + "%\"></span></td><td>" +
              escape_html(t.note) + "</td></tr>";
    }
    html += "</tbody></table></div></div>";
  }
  html +=
      "<nav><a href=\"#flow\">1. A sentence&rsquo;s journey</a><a href=\"#shapes\">2. Tensor "
      "shapes</a><a href=\"#summary\">3. How well it works</a>";
  for (std::size_t k = 0; k < r.experiments.size(); ++k) {
    html += "<a href=\"#experiment-" + std::to_string(k + 1) + "\">" + std::to_string(k + 4) +
            ". " + escape_html(r.experiments[k].title) + "</a>";
  }
  if (r.finetuning) {
    html += "<a href=\"#finetune\">" + std::to_string(r.experiments.size() + 4) +
            ". The next step: fine-tuning</a>";
  }
  return html + "</nav></header>";
}

// How this run turned token vectors into one vector per sentence, as the walkthrough would say it.
std::string features_sentence(const std::string& pooling) {
  if (pooling == "mean") {
    return "the run averages each sentence&rsquo;s real token vectors (mean pooling, the "
           "model&rsquo;s own) into one vector per sentence, its features. (The walkthrough "
           "keeps the <code>[CLS]</code> token&rsquo;s vector instead: "
           "<code>--pooling cls</code>.)";
  }
  if (pooling == "pooler") {
    return "the run passes each sentence&rsquo;s first vector, the <code>[CLS]</code> "
           "token&rsquo;s, through BERT&rsquo;s pooler (a dense layer and tanh), and that is "
           "its features.";
  }
  return "as in the walkthrough, each sentence&rsquo;s first vector, the <code>[CLS]</code> "
         "token&rsquo;s, is kept as its features.";
}

std::string flow_section(const GuideReport& r) {
  std::string html =
      "<section id=\"flow\"><h2><span class=\"number\">1</span>A sentence&rsquo;s "
      "journey through the model</h2>";
  html +=
      "<p>The tokenizer lowercases the sentence and cuts it into pieces from the model&rsquo;s "
      "vocabulary; a word it does not know whole is split, and <code>##</code> marks a piece "
      "that continues a word. Every sentence gets <code>[CLS]</code> in front and "
      "<code>[SEP]</code> at the end. The notebook pads all " +
      format_int(r.padded.rows) +
      " sentences to the same length so they stack into one matrix, and a mask says which "
      "cells are real. The encoder turns every token into a vector of " +
      format_int(r.hidden) + " numbers; " + features_sentence(r.pooling) + "</p>";
  html += "<figure class=\"wide\">" + flow_figure(r) +
          "<figcaption>The example sentence at each step. In the padded matrix (its first rows "
          "shown) grey cells are padding; in the feature strip purple is negative and orange "
          "positive. Hover over a cell for its value.</figcaption></figure></section>";
  return html;
}

std::string shapes_section(const GuideReport& r) {
  return "<section id=\"shapes\"><h2><span class=\"number\">2</span>Tensor shapes at each "
         "step</h2><p>The same pipeline as arrays, with the shapes the notebook prints. Only the "
         "last step learns anything: the encoder is used as it was downloaded.</p><figure "
         "class=\"wide\">" +
         shapes_figure(r) + "</figure></section>";
}

std::string summary_section(const GuideReport& r) {
  std::string html =
      "<section id=\"summary\"><h2><span class=\"number\">3</span>How well it "
      "works</h2>";
  html += "<p>On the walkthrough&rsquo;s split, logistic regression on the features scores <b>" +
          format_fixed(r.walkthrough_accuracy, 3) +
          "</b>; always answering the most frequent "
          "class scores " +
          format_fixed(r.baseline, 3) + ".";
  if (r.seeds > 1) {
    html += " One split is one draw: over " + std::to_string(r.seeds) +
            " random splits the accuracy is " + format_fixed(r.seed_mean, 3) + " &plusmn; " +
            format_fixed(r.seed_std, 3) + ".";
  }
  html += "</p><figure class=\"wide\">" + summary_figure(r) +
          "<figcaption>Each dot is an accuracy on rows the classifier never saw; bars are "
          "&plusmn; one standard deviation. Blue: the walkthrough&rsquo;s classifier as the "
          "notebook makes it (C = 1); green: each experiment below, C chosen by grid search; "
          "grey: the majority-class baseline; hollow: published figures for "
          "comparison.</figcaption></figure></section>";
  return html;
}

std::string experiment_section(const Experiment& e, int number) {
  const std::string n = std::to_string(number);
  std::string html = "<section class=\"experiment\" id=\"experiment-" + n +
                     "\"><h2><span "
                     "class=\"number\">" +
                     std::to_string(number + 3) + "</span>" + escape_html(e.title) + "</h2>";
  if (!e.description.empty()) html += "<p>" + escape_html(e.description) + "</p>";
  html += "<div class=\"cards\">";
  html += card(format_fixed(e.accuracy, 3), "test accuracy");
  html += card(format_fixed(e.macro_f1, 3), "macro F1");
  if (e.roc_auc) html += card(format_fixed(*e.roc_auc, 3), "ROC AUC");
  html += card(format_short(e.best_C), "chosen C (CV accuracy " + format_fixed(e.best_cv, 3) + ")");
  html += card(format_int(e.train_rows) + " / " + format_int(e.test_rows), "train / test rows");
  html += "</div>";

  html += "<div class=\"row\"><figure>" + cv_figure(e, number) +
          "<figcaption>Grid search: for each C of the &lsquo;" + escape_html(e.grid_name) +
          "&rsquo; grid (" + std::to_string(e.cv_curve.size()) +
          " values), the mean accuracy over " + std::to_string(e.cv_folds) + " folds of the " +
          format_int(e.train_rows) +
          " training rows; the band is &plusmn; one standard deviation across folds. Small C "
          "means strong regularization. The classifier is refit on all training rows at the "
          "chosen C, marked.</figcaption></figure>";
  html += "<div class=\"side\"><figure>" + confusion_figure(e, number) + "<figcaption>On the " +
          format_int(e.test_rows) +
          " test rows. Rows: the true label; columns: the prediction; shade: the share of the "
          "row.</figcaption></figure>" +
          class_table(e) + "</div></div>";

  if (!e.pca.empty()) {
    html += "<div class=\"row\"><figure>" + pca_figure(e, number) +
            "</figure><div class=\"side\"><h3>The features, flattened to two dimensions</h3><p>"
            "Each dot is one training sentence&rsquo;s feature vector, projected on the two "
            "directions along which the " +
            format_int(static_cast<std::int64_t>(e.pca.size())) +
            " vectors vary most (principal component analysis).</p><p>Where the colours "
            "separate here, a linear classifier can separate them in the full space too; where "
            "they overlap here, they may still come apart in the dimensions this picture "
            "drops.</p></div></div>";
  }

  html +=
      "<h3>The test sentences it got most wrong</h3><p>The highest probability the "
      "classifier gave a wrong label. Some are its errors; some are debatable labels.</p>" +
      mistakes_table(e, number) + "</section>";
  return html;
}

std::string finetune_section(const GuideReport& r, int number) {
  const Finetuning& f = *r.finetuning;
  std::string html = "<section id=\"finetune\"><h2><span class=\"number\">" +
                     std::to_string(number) + "</span>The next step: fine-tuning</h2>";
  html +=
      "<p>The walkthrough stops at frozen features and notes that training the whole model "
      "does better. Here every weight of the encoder is trained, with a small classification "
      "head (" +
      escape_html(f.head) + ") on top, on the " + format_int(f.train_rows) + " rows of " +
      escape_html(f.train_source) + " (AdamW, peak learning rate " + format_short(f.lr) +
      ", warmup then linear decay, batches of up to " + format_int(f.batch_tokens) +
      " tokens), and scored after each epoch on the " + format_int(f.eval_rows) +
      " held-out rows; the best epoch is kept.</p>";
  if (f.epochs.empty()) return html + "</section>";
  const FinetuneEpoch& best = f.epochs[static_cast<std::size_t>(f.best_epoch - 1)];
  double frozen = -1;
  for (std::size_t k = 1; k < r.experiments.size(); ++k) {
    frozen = std::max(frozen, r.experiments[k].accuracy);
  }
  html += "<div class=\"cards\">";
  html += card(format_fixed(best.eval_accuracy, 3),
               "held-out accuracy, epoch " + std::to_string(best.epoch));
  if (frozen >= 0) {
    const double gain = best.eval_accuracy - frozen;
    html += card((gain >= 0 ? "+" : "") + format_fixed(gain, 3),
                 "over frozen features (" + format_fixed(frozen, 3) + ")");
  }
  html += card(format_int(std::ssize(f.epochs)) + " / " + format_int(std::ssize(f.step_losses)),
               "epochs / optimizer steps");
  html +=
      card(format_fixed(f.seconds, 0) + " s",
           format_int(static_cast<std::int64_t>(std::llround(f.tokens_per_second))) + " tokens/s");
  if (f.peak_rss_mib > 0)
    html += card(format_int(std::llround(f.peak_rss_mib)) + " MiB", "peak memory");
  html += "</div>";
  html += "<figure class=\"wide\">" + loss_figure(f) +
          "<figcaption>Blue: the cross-entropy of each optimizer step&rsquo;s batch, while "
          "training (dropout on). Orange: the loss on the held-out rows after each epoch, with "
          "its accuracy above. A held-out loss that rises while the training loss keeps "
          "falling is the model learning its training rows by heart.</figcaption></figure>";
  html +=
      "<div class=\"table-scroll\"><table class=\"metrics\"><thead><tr><th>epoch</th><th>"
      "training loss</th><th>held-out loss</th><th>held-out accuracy</th><th>time</th></tr>"
      "</thead><tbody>";
  for (const FinetuneEpoch& e : f.epochs) {
    html += std::string("<tr") + (e.epoch == f.best_epoch ? " class=\"best\"" : "") + "><td>" +
            std::to_string(e.epoch) + (e.epoch == f.best_epoch ? " (kept)" : "") + "</td><td>" +
            format_fixed(e.train_loss, 4) + "</td><td>" + format_fixed(e.eval_loss, 4) +
            "</td><td>" + format_fixed(e.eval_accuracy, 4) + "</td><td>" +
            format_fixed(e.seconds, 1) + " s</td></tr>";
  }
  return html + "</tbody></table></div></section>";
}

}  // namespace

std::string render_guide_report(const GuideReport& r) {
  validate(r);
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      // No script, no font, no request of any kind: the file stands alone, and a sentence that
      // somehow slipped through escaping still could not run or fetch anything.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; img-src data:\">"
      "<link rel=\"icon\" href=\"data:,\">"
      "<meta name=\"generator\" content=\"bertlite " BERTLITE_VERSION
      "\">"
      "<title>" +
      escape_html(r.title) + " &middot; " + escape_html(r.model) + "</title><style>" + kStyle +
      "</style></head><body><main>";
  html += header(r);
  html += flow_section(r);
  html += shapes_section(r);
  html += summary_section(r);
  for (std::size_t k = 0; k < r.experiments.size(); ++k) {
    html += experiment_section(r.experiments[k], static_cast<int>(k + 1));
  }
  if (r.finetuning) html += finetune_section(r, static_cast<int>(r.experiments.size()) + 4);
  html += "<footer>Written by bertlite " BERTLITE_VERSION
          ". One self-contained file: no scripts, fonts or network requests.</footer>"
          "</main></body></html>\n";
  return html;
}

void write_guide_report(const std::filesystem::path& path, const GuideReport& report) {
  // Render first, so an invalid report throws before anything is written.
  const std::string html = render_guide_report(report);
  util::write_file_atomic(path, html);
}

}  // namespace bertlite::report
