// report/figures.h - the report's figures, each drawn from the GuideReport alone as one SVG
// (or, for tables, one HTML fragment) with a stable id. guide_report.cpp arranges them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "report/guide_report.h"

namespace bertlite::report {

// Width of a line of text in pixels, estimated (no font metrics in a file without script):
// code points times an average advance that errs wide for the system fonts, so labels fit.
double text_width(std::string_view text, double font_px, bool monospace = false);
// `text`, cut at a code point and ended with an ellipsis when wider than `max_px`.
std::string fit_text(std::string_view text, double max_px, double font_px, bool monospace = false);

// `text` broken at spaces into lines of at most `max_px`; the last of `max_lines` lines takes the
// rest of the text and is cut with an ellipsis, as is any single word too long for a line.
std::vector<std::string> wrap_text(std::string_view text, double max_px, double font_px,
                                   std::size_t max_lines);

// fig-flow: the example sentence -> tokens -> ids -> the padded id matrix and its mask -> the
// encoder -> the pooled vector as a heat strip -> the classifier's answer.
std::string flow_figure(const GuideReport& report);
// fig-shapes: the tensors at each step, drawn to suggest their shapes, with their sizes.
std::string shapes_figure(const GuideReport& report);
// fig-summary: every accuracy in the report on one axis (baseline, the walkthrough, over
// seeds, each experiment, published references).
std::string summary_figure(const GuideReport& report);
// fig-cv-N: cross-validated accuracy against C, +/- one std band, the chosen C marked.
std::string cv_figure(const Experiment& experiment, int number);
// fig-confusion-N: counts, shaded by their share of the true label's row.
std::string confusion_figure(const Experiment& experiment, int number);
// fig-pca-N: the training rows on their first two principal components, coloured by label.
std::string pca_figure(const Experiment& experiment, int number);
// fig-loss: the training loss of every optimizer step (and its moving average), the epochs'
// ends marked with the held-out loss and accuracy.
std::string loss_figure(const Finetuning& finetuning);
// The per-class precision / recall / F1 table (HTML).
std::string class_table(const Experiment& experiment);
// table-mistakes-N: the test sentences the classifier was most confidently wrong about (HTML).
std::string mistakes_table(const Experiment& experiment, int number);

}  // namespace bertlite::report
