// The report's building blocks (escaping, number formats, ticks, scales, colours, the SVG
// builder) and the page they make: figure ids, escaping of hostile sentences, validation of the
// struct, atomic writing. The page in a real browser is check_report.py's job.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "bertlite/error.h"
#include "report/figures.h"
#include "report/guide_report.h"
#include "report/svg.h"
#include "util/file.h"
#include "util/utf8.h"

namespace bertlite::report {
namespace {

namespace fs = std::filesystem;

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// The quoted values that follow each `prefix` (such as ` id="`) in `html`.
std::vector<std::string> attribute_values(const std::string& html, const std::string& prefix) {
  std::vector<std::string> values;
  for (std::size_t at = html.find(prefix); at != std::string::npos; at = html.find(prefix, at)) {
    at += prefix.size();
    const std::size_t end = html.find('"', at);
    values.push_back(html.substr(at, end - at));
    at = end;
  }
  return values;
}

// ---- escaping and formats -------------------------------------------------------------------

TEST(Escape, ReplacesEveryCharacterThatCanOpenATagOrEndAnAttribute) {
  EXPECT_EQ(escape_html("a < b & c > d \"e\" 'f'"),
            "a &lt; b &amp; c &gt; d &quot;e&quot; &#39;f&#39;");
  EXPECT_EQ(escape_html("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(escape_html("&amp;"), "&amp;amp;");  // already-escaped text is shown as typed
  EXPECT_EQ(escape_html(""), "");
}

TEST(Escape, KeepsUtf8AndReplacesWhatIsNot) {
  EXPECT_EQ(escape_html("na\xC3\xAFve \xE2\x86\x92 \xF0\x9F\x8E\xAC"),
            "na\xC3\xAFve \xE2\x86\x92 \xF0\x9F\x8E\xAC");
  // A lone continuation byte, a truncated sequence, an overlong '<': one U+FFFD per bad byte,
  // never a raw '<' and always valid UTF-8 out.
  const std::string out = escape_html("a\x80z \xE2\x86 \xC0\xBC");
  EXPECT_EQ(util::find_invalid_utf8(out), std::string_view::npos);
  EXPECT_EQ(out.find('<'), std::string::npos);
  EXPECT_EQ(out.substr(0, 5), "a\xEF\xBF\xBDz");
  // C0 controls are HTML parse errors; tab and newline are fine.
  EXPECT_EQ(escape_html("a\x01"
                        "b\tc\n"),
            "a\xEF\xBF\xBD"
            "b\tc\n");
}

TEST(Format, Numbers) {
  EXPECT_EQ(format_fixed(0.82399, 3), "0.824");
  EXPECT_EQ(format_fixed(-0.0001, 2), "0.00");  // no "-0.00"
  EXPECT_EQ(format_fixed(std::nan(""), 3), "n/a");
  EXPECT_EQ(format_short(0.0001), "0.0001");
  EXPECT_EQ(format_short(5.2631578), "5.263");
  EXPECT_EQ(format_short(100), "100");
  EXPECT_EQ(format_short(1e6), "1e6");
  EXPECT_EQ(format_short(2.5e-7), "2.5e-7");
  EXPECT_EQ(format_int(0), "0");
  EXPECT_EQ(format_int(6920), "6,920");
  EXPECT_EQ(format_int(-1234567), "-1,234,567");
  EXPECT_EQ(format_int(std::numeric_limits<std::int64_t>::min()), "-9,223,372,036,854,775,808");
  EXPECT_EQ(format_percent(0.824), "82.4%");
  EXPECT_EQ(format_percent(0.3913, 0), "39%");
  EXPECT_EQ(coord(12.0), "12");
  EXPECT_EQ(coord(12.349), "12.3");
  EXPECT_EQ(coord(-0.04), "0");
  EXPECT_EQ(coord(std::nan("")), "0");  // never "nan" in an attribute
  EXPECT_EQ(format_power_of_ten(-4), "10\u207B\u2074");
  EXPECT_EQ(format_power_of_ten(0), "10\u2070");
  EXPECT_EQ(format_power_of_ten(12), "10\u00B9\u00B2");
}

// ---- ticks and scales -----------------------------------------------------------------------

void expect_ticks(const Ticks& t, double lo, double hi, double step, int decimals) {
  EXPECT_NEAR(t.lo, lo, 1e-12);
  EXPECT_NEAR(t.hi, hi, 1e-12);
  EXPECT_NEAR(t.step, step, 1e-12);
  EXPECT_EQ(t.decimals, decimals);
  ASSERT_EQ(t.values.size(), static_cast<std::size_t>(std::lround((hi - lo) / step)) + 1);
  for (std::size_t i = 0; i < t.values.size(); ++i) EXPECT_NEAR(t.values[i], lo + i * step, 1e-9);
}

TEST(Ticks, NiceSteps) {
  expect_ticks(nice_ticks(0, 1, 5), 0, 1, 0.2, 1);
  expect_ticks(nice_ticks(0.523, 0.861, 5), 0.5, 0.9, 0.05, 2);
  expect_ticks(nice_ticks(-3.2, 4.7, 5), -4, 6, 2, 0);
  expect_ticks(nice_ticks(0.0001, 100, 6), 0, 100, 20, 0);
  expect_ticks(nice_ticks(4.7, -3.2, 5), -4, 6, 2, 0);  // reversed arguments
  // Bounds that are ticks already stay: 0.8 with step 0.1 is not pushed to 0.9 by rounding.
  expect_ticks(nice_ticks(0.3, 0.8, 5), 0.3, 0.8, 0.1, 1);
}

TEST(Ticks, CoverTheRangeWithAFewRoundSteps) {
  // Many ranges of many scales: the ticks cover [min, max], are 1, 2 or 5 times a power of
  // ten apart, and number about `target`.
  for (int e = -6; e <= 6; ++e) {
    for (double a : {0.0, 0.13, -7.7, 3.3}) {
      for (double span : {0.011, 0.7, 1.0, 4.9, 33.0}) {
        const double min = a * std::pow(10.0, e), max = min + span * std::pow(10.0, e);
        const Ticks t = nice_ticks(min, max, 5);
        EXPECT_LE(t.lo, min + 1e-12 * std::abs(min));
        EXPECT_GE(t.hi, max - 1e-12 * std::abs(max));
        const double mantissa = t.step / std::pow(10.0, std::floor(std::log10(t.step) + 1e-9));
        EXPECT_TRUE(std::abs(mantissa - 1) < 1e-6 || std::abs(mantissa - 2) < 1e-6 ||
                    std::abs(mantissa - 5) < 1e-6)
            << t.step;
        EXPECT_GE(t.values.size(), 3u) << min << " " << max;
        EXPECT_LE(t.values.size(), 12u) << min << " " << max;
        // Enough decimals to tell neighbours apart.
        EXPECT_NE(format_fixed(t.values[0], t.decimals), format_fixed(t.values[1], t.decimals));
      }
    }
  }
}

TEST(Ticks, DegenerateAndInvalidRanges) {
  const Ticks one = nice_ticks(0.8, 0.8, 5);
  EXPECT_LT(one.lo, 0.8);
  EXPECT_GT(one.hi, 0.8);
  const Ticks zero = nice_ticks(0, 0, 5);
  EXPECT_LT(zero.lo, 0);
  EXPECT_GT(zero.hi, 0);
  EXPECT_THROW(nice_ticks(0, std::nan(""), 5), InvalidArgument);
  EXPECT_THROW(nice_ticks(-INFINITY, 1, 5), InvalidArgument);
}

TEST(Ticks, LogTicksArePowersOfTen) {
  const std::vector<double> nine = log_ticks(1e-4, 1e4, 10);
  ASSERT_EQ(nine.size(), 9u);
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(std::log10(nine[i]), i - 4, 1e-12);
  const std::vector<double> every_other = log_ticks(1e-4, 1e4, 5);
  ASSERT_EQ(every_other.size(), 5u);
  EXPECT_NEAR(every_other.front(), 1e-4, 1e-16);
  EXPECT_NEAR(every_other.back(), 1e4, 1e-8);
  const std::vector<double> some = log_ticks(0.5, 30);
  ASSERT_EQ(some.size(), 4u);  // 0.1 1 10 100
  EXPECT_NEAR(some.front(), 0.1, 1e-15);
  EXPECT_NEAR(some.back(), 100, 1e-12);
  EXPECT_EQ(log_ticks(1, 1).size(), 2u);
  EXPECT_THROW(log_ticks(0, 10), InvalidArgument);
  EXPECT_THROW(log_ticks(-1, 10), InvalidArgument);
}

TEST(Ticks, LogAxisOnlyForGridsSpreadOverDecades) {
  std::vector<double> logspace, linspace;
  for (int k = -4; k <= 4; ++k) logspace.push_back(std::pow(10.0, k));
  for (int i = 0; i < 20; ++i) linspace.push_back(0.0001 + (100 - 0.0001) * i / 19);
  EXPECT_TRUE(prefers_log_axis(logspace));
  EXPECT_FALSE(prefers_log_axis(linspace));  // the walkthrough's grid: six decades, but linear
  EXPECT_TRUE(prefers_log_axis({0.01, 100}));
  EXPECT_FALSE(prefers_log_axis({1, 2, 3, 50}));  // under two decades
  EXPECT_FALSE(prefers_log_axis({0, 1, 1000}));   // zero has no logarithm
  EXPECT_FALSE(prefers_log_axis({1}));
}

TEST(Scale, LinearAndLog) {
  const Scale y{0.5, 1.0, 300, 20};  // a y axis: up is smaller
  EXPECT_DOUBLE_EQ(y(0.5), 300);
  EXPECT_DOUBLE_EQ(y(1.0), 20);
  EXPECT_DOUBLE_EQ(y(0.75), 160);
  const Scale x{1e-4, 1e4, 0, 800, true};
  EXPECT_NEAR(x(1), 400, 1e-9);
  EXPECT_NEAR(x(100), 600, 1e-9);
  const Scale flat{2, 2, 0, 100};
  EXPECT_DOUBLE_EQ(flat(2), 50);  // an empty domain maps to the middle, not NaN
}

// ---- colours --------------------------------------------------------------------------------

TEST(Colour, ScalesAndPalette) {
  EXPECT_EQ(hex({0, 114, 178}), "#0072b2");
  EXPECT_EQ(hex({-5, 300, 16}), "#00ff10");
  EXPECT_EQ(hex(mix({0, 0, 0}, {255, 255, 255}, 0.5)), "#808080");
  EXPECT_EQ(hex(sequential_colour(0)), "#f7fbff");
  EXPECT_EQ(hex(sequential_colour(1)), "#08306b");
  EXPECT_EQ(hex(sequential_colour(7)), "#08306b");  // clamped
  EXPECT_EQ(hex(diverging_colour(-1)), "#542788");
  EXPECT_EQ(hex(diverging_colour(0)), "#f7f7f7");
  EXPECT_EQ(hex(diverging_colour(1)), "#b35806");
  EXPECT_EQ(hex(diverging_colour(std::nan(""))), "#542788");  // no garbage from NaN
  EXPECT_EQ(hex(category_colour(0)), "#d55e00");
  EXPECT_EQ(hex(category_colour(1)), "#0072b2");
  EXPECT_EQ(hex(category_colour(7)), hex(category_colour(0)));  // cycles
  EXPECT_EQ(hex(category_colour(-1)), hex(category_colour(6)));
  EXPECT_EQ(text_colour_on(sequential_colour(1)), "#ffffff");
  EXPECT_EQ(text_colour_on(sequential_colour(0)), "#1b1f24");
}

// ---- SVG builder and text fitting -----------------------------------------------------------

TEST(Svg, BuildsAnEscapedElement) {
  Svg svg("fig-x", "fig-kind", 100, 50.5, "a <title>");
  svg.rect(1, 2, 3, -4, "#fff");
  svg.text(5, 6, "x < y & \"z\"", "middle", "axis");
  svg.line(0, 0, 10, 10, "#000", "stroke-width=\"2\"");
  const std::string out = svg.finish();
  EXPECT_EQ(out.find("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"figure\" id=\"fig-x\" "
                     "data-figure=\"fig-kind\" viewBox=\"0 0 100 50.5\""),
            0u);
  EXPECT_NE(out.find("<title>a &lt;title&gt;</title>"), std::string::npos);
  EXPECT_NE(out.find("height=\"0\""), std::string::npos);  // negative sizes clamp to zero
  EXPECT_NE(out.find("text-anchor=\"middle\" class=\"axis\">x &lt; y &amp; &quot;z&quot;</text>"),
            std::string::npos);
  EXPECT_NE(out.find("stroke-width=\"2\"/>"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 6), "</svg>");
}

TEST(Text, FitCutsAtACodePointAndMarksTheCut) {
  EXPECT_EQ(fit_text("short", 200, 13), "short");
  const std::string long_text(200, 'x');
  const std::string cut = fit_text(long_text, 100, 13);
  EXPECT_LE(text_width(cut, 13), 100);
  EXPECT_EQ(cut.substr(cut.size() - 3), "\xE2\x80\xA6");
  std::string accents;
  for (int i = 0; i < 60; ++i) accents += "\xC3\xA9";  // é
  const std::string cut_accents = fit_text(accents, 90, 13);
  EXPECT_EQ(util::find_invalid_utf8(cut_accents), std::string_view::npos);
  EXPECT_LT(cut_accents.size(), accents.size());
  EXPECT_GT(text_width("mmm", 13, true), 0);
}

TEST(Text, WrapBreaksAtSpacesAndCutsTheLastLine) {
  EXPECT_EQ(wrap_text("a visually stunning rumination", 1000, 13, 3),
            std::vector<std::string>{"a visually stunning rumination"});
  const double ten_chars = text_width("0123456789", 13);
  EXPECT_EQ(wrap_text("aaaa bbbb cccc dddd", ten_chars, 13, 3),
            (std::vector<std::string>{"aaaa bbbb", "cccc dddd"}));
  const std::vector<std::string> cut = wrap_text("aaaa bbbb cccc dddd eeee ffff", ten_chars, 13, 2);
  ASSERT_EQ(cut.size(), 2u);
  EXPECT_EQ(cut[0], "aaaa bbbb");
  EXPECT_EQ(cut[1].substr(cut[1].size() - 3), "\xE2\x80\xA6");  // the rest did not fit
  for (const std::string& line : wrap_text(std::string(100, 'x') + " y", ten_chars, 13, 3)) {
    EXPECT_LE(text_width(line, 13), ten_chars);  // one overlong word is cut, not overflowing
  }
  EXPECT_EQ(wrap_text("", 100, 13, 3), std::vector<std::string>{""});
  EXPECT_EQ(wrap_text("aaaa bbbb cccc dddd", ten_chars, 13, 1).size(), 1u);
}

// ---- the page -------------------------------------------------------------------------------

Experiment sample_experiment(const std::string& title, bool with_pca, bool log_grid) {
  Experiment e;
  e.title = title;
  e.train_rows = 1500;
  e.test_rows = 500;
  e.grid_name = log_grid ? "log" : "walkthrough";
  for (int i = 0; i < 9; ++i) {
    const double C = log_grid ? std::pow(10.0, i - 4) : 0.0001 + i * 12.5;
    e.cv_curve.push_back({C, 0.80 + 0.005 * i, 0.01});
  }
  e.best_C = e.cv_curve.back().C;
  e.best_cv = e.cv_curve.back().mean;
  e.accuracy = 0.83;
  e.macro_f1 = 0.829;
  e.roc_auc = 0.9;
  e.labels = {"negative", "positive"};
  e.confusion = {200, 41, 44, 215};
  e.per_class = {{"negative", 0.82, 0.83, 0.825, 241}, {"positive", 0.84, 0.83, 0.835, 259}};
  e.mistakes = {{"a <b>bold</b> & \"quoted\" sentence", "positive", "negative", 0.97},
                {"plain", "negative", "positive", 0.91}};
  if (with_pca) {
    for (int i = 0; i < 50; ++i) e.pca.push_back({std::sin(i) * 3, std::cos(i * 0.7), i % 2});
    e.pca_variance = {0.11, 0.06};
  }
  return e;
}

GuideReport sample_report() {
  GuideReport r;
  r.model = "all-MiniLM-L6-v2";
  r.model_summary = "BERT, 6 layers, hidden 384";
  r.pooling = "cls";
  r.precision = "fp32";
  r.threads = 2;
  r.data_source = "data/sst2/train.tsv";
  r.total_rows = 6920;
  r.subset_rows = 2000;
  r.label_names = {"negative", "positive"};
  r.subset_label_counts = {959, 1041};
  r.timings = {{"encode", 3.9, "11,800 tokens/s"}};
  r.example.sentence = "a visually stunning rumination on love";
  r.example.tokens = {"[CLS]",     "a",  "visually", "stunning", "rum",
                      "##ination", "on", "love",     "[SEP]"};
  r.example.ids = {101, 1037, 17453, 14726, 19379, 12758, 2006, 2293, 102};
  r.example.feature.assign(384, 0.25f);
  r.example.feature[1] = -0.5f;
  r.padded.rows = 2000;
  r.padded.cols = 20;
  r.padded.real_tokens = 15000;
  r.padded.preview = {std::vector<std::int32_t>(20, 0), std::vector<std::int32_t>(20, 7)};
  r.padded.preview[0][0] = 101;
  r.hidden = 384;
  r.split_train = 1500;
  r.split_test = 500;
  r.walkthrough_accuracy = 0.824;
  r.baseline = 0.52;
  r.seeds = 5;
  r.seed_mean = 0.83;
  r.seed_std = 0.01;
  r.references = {{"published", 0.84}};
  r.experiments = {sample_experiment("walkthrough", true, false),
                   sample_experiment("train -> dev", false, true)};
  return r;
}

TEST(Page, EveryFigureOnceWithItsStableId) {
  const std::string html = render_guide_report(sample_report());
  for (const char* id :
       {"fig-flow", "fig-shapes", "fig-summary", "fig-cv-1", "fig-cv-2", "fig-confusion-1",
        "fig-confusion-2", "table-mistakes-1", "table-mistakes-2", "fig-pca-1"}) {
    EXPECT_EQ(count(html, std::string("id=\"") + id + "\""), 1u) << id;
  }
  EXPECT_EQ(count(html, "id=\"fig-pca-2\""), 0u);  // experiment 2 has no PCA points
  EXPECT_EQ(count(html, "data-figure=\"fig-cv\""), 2u);
  EXPECT_EQ(count(html, "data-figure=\"fig-confusion\""), 2u);
  EXPECT_EQ(count(html, "data-figure=\"table-mistakes\""), 2u);
  EXPECT_EQ(count(html, "data-figure=\"fig-pca\""), 1u);
  // Every id in the page is unique.
  std::map<std::string, int> ids;
  for (const std::string& id : attribute_values(html, " id=\"")) ++ids[id];
  EXPECT_GT(ids.size(), 10u);
  for (const auto& [id, n] : ids) EXPECT_EQ(n, 1) << id;
}

// Every caption that names how features were made follows the run's --pooling.
TEST(Page, CaptionsFollowThePoolingOfTheRun) {
  struct Case {
    const char* pooling;
    std::vector<std::string> present, absent;
  };
  const std::vector<Case> cases = {
      {"cls",
       {"is kept as its features", "orange: position 0, the [CLS] token, kept as the features"},
       {"mean pooling, the model", "through the pooler", ">mean</text>", ">pooler</text>"}},
      {"mean",
       {"real token vectors (mean pooling", "features: the mean over each sentence",
        ">mean</text>"},
       {"is kept as its features", "kept as the features", "through the pooler"}},
      {"pooler",
       {"through BERT&rsquo;s pooler", "through the pooler (tanh of a dense layer)",
        ">pooler</text>"},
       {"is kept as its features", "kept as the features", "mean pooling, the model",
        ">mean</text>"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pooling);
    GuideReport r = sample_report();
    r.pooling = c.pooling;
    const std::string html = render_guide_report(r);
    for (const std::string& text : c.present) EXPECT_NE(html.find(text), std::string::npos) << text;
    for (const std::string& text : c.absent) EXPECT_EQ(html.find(text), std::string::npos) << text;
  }
}

TEST(Page, SelfContained) {
  const std::string html = render_guide_report(sample_report());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  // The only URL is the SVG namespace, which names and never fetches.
  EXPECT_EQ(count(html, "://"), count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_EQ(util::find_invalid_utf8(html), std::string_view::npos);
}

TEST(Page, HostileTextIsEscapedEverywhere) {
  GuideReport r = sample_report();
  const std::string attack = "<script>alert('x')</script>";
  r.title = attack;
  r.model = attack;
  r.example.sentence = attack;
  r.example.tokens[1] = attack;
  r.example.predicted_label = attack;
  r.timings[0].step = attack;
  r.experiments[0].title = attack;
  r.experiments[0].mistakes[0].sentence = attack;
  // A label that would end an attribute and add an event handler if left unescaped.
  r.experiments[1].labels[0] = "neg\" onmouseover=\"alert(1)";
  r.experiments[1].mistakes[0].truth = r.experiments[1].labels[0];
  const std::string html = render_guide_report(r);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("\" onmouseover=\""), std::string::npos);
  EXPECT_GE(count(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), 7u);
  EXPECT_NE(html.find("neg&quot; onmouseover=&quot;alert(1)"), std::string::npos);
}

TEST(Page, NonFiniteNumbersNeverReachAnAttribute) {
  GuideReport r = sample_report();
  const double nan = std::nan("");
  r.walkthrough_accuracy = nan;
  r.example.feature[3] = static_cast<float>(INFINITY);
  r.experiments[0].cv_curve[2].mean = nan;
  r.experiments[0].best_C = nan;
  r.experiments[0].pca[4].x = INFINITY;
  r.experiments[0].mistakes[1].probability = nan;
  r.experiments[1].roc_auc = nan;
  const std::string html = render_guide_report(r);
  for (std::string value : attribute_values(html, "=\"")) {
    for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(value.find("nan"), std::string::npos) << value;
    EXPECT_EQ(value.find("inf"), std::string::npos) << value;
  }
  EXPECT_NE(html.find("n/a"), std::string::npos);  // shown as missing instead
}

TEST(Page, AnEmptyReportStillRenders) {
  const std::string html = render_guide_report(GuideReport{});
  for (const char* id : {"fig-flow", "fig-shapes", "fig-summary"}) {
    EXPECT_EQ(count(html, std::string("id=\"") + id + "\""), 1u) << id;
  }
  EXPECT_EQ(count(html, "data-figure=\"fig-cv\""), 0u);
}

TEST(Page, Deterministic) {
  EXPECT_EQ(render_guide_report(sample_report()), render_guide_report(sample_report()));
}

TEST(Figures, DrawTheirData) {
  const Experiment linear = sample_experiment("a", true, false);
  const Experiment log = sample_experiment("b", false, true);
  EXPECT_EQ(cv_figure(linear, 1).find("log scale"), std::string::npos);
  EXPECT_NE(cv_figure(log, 2).find("log scale"), std::string::npos);
  EXPECT_NE(cv_figure(log, 2).find(format_power_of_ten(-4)), std::string::npos);
  const std::string confusion = confusion_figure(linear, 1);
  for (const char* n : {">200<", ">41<", ">44<", ">215<", ">83.0%<"}) {
    EXPECT_NE(confusion.find(n), std::string::npos) << n;
  }
  // One dot (a zero-length segment) per PCA point, one path per class.
  const std::string pca = pca_figure(linear, 1);
  EXPECT_EQ(count(pca, "h0"), linear.pca.size());
  EXPECT_NE(pca.find("11.0% of variance"), std::string::npos);
  const std::string mistakes = mistakes_table(linear, 1);
  EXPECT_NE(mistakes.find("a &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; sentence"),
            std::string::npos);
  EXPECT_NE(mistakes.find("width:97.0%"), std::string::npos);
  Experiment perfect = linear;
  perfect.mistakes.clear();
  EXPECT_NE(mistakes_table(perfect, 3).find("id=\"table-mistakes-3\""), std::string::npos);
  // The flow figure shows the example's ids and the padded matrix's shape.
  const std::string flow = flow_figure(sample_report());
  for (const char* s : {">17453<", ">##ination<", "input_ids  (2,000, 20)", "(2,000, 20, 384)"}) {
    EXPECT_NE(flow.find(s), std::string::npos) << s;
  }
}

TEST(Page, InvalidReportsNameTheField) {
  auto expect_message = [](const GuideReport& r, const std::string& part) {
    try {
      render_guide_report(r);
      FAIL() << "no error for " << part;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  GuideReport r = sample_report();
  r.experiments[1].confusion.pop_back();
  expect_message(r, "experiment 2 ('train -> dev'): confusion has 3 entries, expected 4");
  r = sample_report();
  r.example.ids.pop_back();
  expect_message(r, "example has 9 tokens but 8 ids");
  r = sample_report();
  r.experiments[0].pca[7].label = 2;
  expect_message(r, "PCA point with label 2");
  r = sample_report();
  r.padded.preview[1].resize(5);
  expect_message(r, "padded.preview[1] has 5 ids, expected padded.cols = 20");
  r = sample_report();
  r.subset_label_counts.push_back(3);
  expect_message(r, "subset_label_counts has 3 entries for 2 label names");
}

// A fine-tuning run: 2 epochs of 40 steps, the loss falling from ln 2.
Finetuning sample_finetuning() {
  Finetuning f;
  f.title = "Fine-tuned on 6,920 sentences, 2 epochs";
  f.train_source = "data/sst2/train.tsv";
  f.train_rows = 6920;
  f.eval_rows = 872;
  f.head = "pooler";
  f.lr = 1e-4;
  f.batch_tokens = 2048;
  for (int i = 0; i < 80; ++i) f.step_losses.push_back(0.2 + 0.49 * std::exp(-i / 10.0));
  f.epochs = {{1, 40, 0.41, 0.34, 0.861, 83}, {2, 80, 0.28, 0.33, 0.8704, 80}};
  f.best_epoch = 2;
  f.seconds = 163;
  f.tokens_per_second = 1976;
  f.peak_rss_mib = 1104;
  return f;
}

TEST(Page, FinetuningAddsItsSectionLossFigureAndSummaryRow) {
  GuideReport r = sample_report();
  EXPECT_EQ(count(render_guide_report(r), "id=\"fig-loss\""), 0u);
  r.finetuning = sample_finetuning();
  const std::string html = render_guide_report(r);
  EXPECT_EQ(count(html, "id=\"fig-loss\""), 1u);
  EXPECT_EQ(count(html, "id=\"finetune\""), 1u);
  EXPECT_EQ(count(html, "href=\"#finetune\""), 1u);
  // The kept epoch's accuracy, its gain over the best frozen-feature experiment (0.83), and the
  // row in the summary figure.
  EXPECT_NE(html.find(">0.870<"), std::string::npos);
  EXPECT_NE(html.find(">+0.040<"), std::string::npos);
  EXPECT_NE(summary_figure(r).find("Fine-tuned on 6,920 sentences, 2 epochs"), std::string::npos);
  const std::string loss = loss_figure(*r.finetuning);
  EXPECT_NE(loss.find("epoch 2: 0.870 (kept)"), std::string::npos);
  EXPECT_NE(loss.find("epoch 1: 0.861<"), std::string::npos);
  // A short run (window 1): one line, a point per step; a long one adds the moving average.
  EXPECT_EQ(count(loss, "<path"), 1u);
  EXPECT_GE(count(loss, "L"), 79u);
  Finetuning longer = *r.finetuning;
  longer.step_losses.resize(400, 0.3);
  EXPECT_EQ(count(loss_figure(longer), "<path"), 2u);
}

TEST(Page, FinetuningWithBadNumbersStillRendersOrNamesTheField) {
  GuideReport r = sample_report();
  r.finetuning = sample_finetuning();
  r.finetuning->step_losses[3] = std::nan("");
  r.finetuning->epochs[0].eval_loss = INFINITY;
  for (std::string value : attribute_values(render_guide_report(r), "=\"")) {
    for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(value.find("nan"), std::string::npos) << value;
    EXPECT_EQ(value.find("inf"), std::string::npos) << value;
  }
  r.finetuning = sample_finetuning();
  r.finetuning->step_losses.clear();
  EXPECT_NE(loss_figure(*r.finetuning).find("no training steps"), std::string::npos);
  r.finetuning = sample_finetuning();
  r.finetuning->best_epoch = 3;
  EXPECT_THROW(render_guide_report(r), InvalidArgument);
  r.finetuning = sample_finetuning();
  r.finetuning->epochs[1].end_step = 81;
  try {
    render_guide_report(r);
    FAIL() << "no error for an epoch past the last step";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("finetuning epoch 2 ends at step 81 of 80"),
              std::string::npos)
        << e.what();
  }
}

TEST(Write, AtomicallyOrNotAtAll) {
  const fs::path dir = fs::temp_directory_path() / "bertlite_report_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path path = dir / "report.html";
  const GuideReport good = sample_report();
  write_guide_report(path, good);
  EXPECT_EQ(util::read_file(path), render_guide_report(good));
  // An invalid report throws before writing: the old file stays, and nothing else appears.
  GuideReport bad = good;
  bad.experiments[0].confusion.clear();
  EXPECT_THROW(write_guide_report(path, bad), InvalidArgument);
  EXPECT_EQ(util::read_file(path), render_guide_report(good));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  EXPECT_THROW(write_guide_report(dir / "no" / "such" / "dir.html", good), IoError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace bertlite::report
