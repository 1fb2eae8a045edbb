// report/svg.h - the small pieces the report's figures are built from: HTML escaping, number
// formatting, "nice" axis ticks, linear and log scales, colour scales, and an SVG string
// builder. Each is a plain function, tested on its own (tests/report/report_test.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bertlite::report {

// Text made safe for HTML and SVG, in element content and in quoted attributes: & < > " ' are
// replaced by entities, and bytes that are not valid UTF-8 by U+FFFD, so no input can open a tag
// or end an attribute, and the document stays valid UTF-8.
std::string escape_html(std::string_view text);

// `value` with `decimals` digits after the point, "-0" printed as "0".
std::string format_fixed(double value, int decimals);
// A short, exact-enough label for a parameter such as C: 0.0001, 5.263, 100, 1e+06.
std::string format_short(double value);
// "6,920": thousands separated by commas.
std::string format_int(std::int64_t value);
// "82.4%" from 0.824.
std::string format_percent(double fraction, int decimals = 1);
// "10⁻⁴", "10³": a power of ten with a superscript exponent, for log axes.
std::string format_power_of_ten(int exponent);
// A coordinate in SVG user units: one decimal, no trailing ".0".
std::string coord(double value);

// Ticks for a linear axis: round numbers (1, 2 or 5 times a power of ten apart) whose range
// [lo, hi] covers [min, max], about `target` of them.
struct Ticks {
  double lo = 0;
  double hi = 1;
  double step = 1;
  int decimals = 0;  // enough to tell neighbouring ticks apart
  std::vector<double> values;
};
Ticks nice_ticks(double min, double max, int target = 5);

// Ticks for a log10 axis over [min, max] (both > 0): the powers of ten from floor(log10 min)
// to ceil(log10 max); every other one when there are more than `max_ticks`.
std::vector<double> log_ticks(double min, double max, int max_ticks = 10);

// True when a grid of positive values is better drawn on a log axis: it spans at least two
// decades and at least a quarter of its points lie below the geometric middle of its range
// (logspace(-4, 4, 9) does; linspace(0.0001, 100, 20) spans six decades but all but one point
// lie in the top one, so it is drawn linear).
bool prefers_log_axis(const std::vector<double>& values);

// Maps a data interval onto a pixel interval, linearly or in log10.
struct Scale {
  double d0 = 0, d1 = 1;  // domain
  double r0 = 0, r1 = 1;  // range (pixels; r1 < r0 for a y axis)
  bool log = false;
  double operator()(double value) const;
};

// Colours, as "#rrggbb".
struct Rgb {
  int r = 0, g = 0, b = 0;
};
std::string hex(Rgb colour);
Rgb mix(Rgb a, Rgb b, double t);  // a at t = 0, b at t = 1
// Class colours from Okabe and Ito's colour-blind-safe palette (negative-ish vermillion first,
// then blue, green, ...), cycling.
Rgb category_colour(std::int64_t index);
// White to dark blue, t in [0, 1] (clamped): counts, rates.
Rgb sequential_colour(double t);
// Purple - light grey - orange (ColorBrewer PuOr, colour-blind safe), t in [-1, 1] (clamped):
// signed values such as a feature vector.
Rgb diverging_colour(double t);
// Black or white, whichever reads better on `background`.
std::string text_colour_on(Rgb background);

// An SVG fragment, appended to piece by piece. Attribute values and text are escaped.
class Svg {
 public:
  // <svg id=... data-figure=... viewBox="0 0 width height" width=... role="img">
  //   <title>title</title>
  Svg(std::string_view id, std::string_view figure, double width, double height,
      std::string_view title);

  void rect(double x, double y, double w, double h, std::string_view fill,
            std::string_view extra = {});
  void line(double x1, double y1, double x2, double y2, std::string_view stroke,
            std::string_view extra = {});
  void circle(double cx, double cy, double r, std::string_view fill, std::string_view extra = {});
  void path(std::string_view d, std::string_view extra);
  // `anchor` is start, middle or end; `cls` a CSS class ("" for none); text is escaped.
  void text(double x, double y, std::string_view text, std::string_view anchor = "start",
            std::string_view cls = {}, std::string_view extra = {});
  // A <title> tooltip on the next shape: call between open_group and close_group.
  void open_group(std::string_view extra = {});
  void close_group();
  void tooltip(std::string_view text);
  // Sets the size written into the <svg> element, for figures laid out top to bottom.
  void resize(double width, double height);
  // Raw, already safe markup (built by this class or by the caller from constants).
  void raw(std::string_view markup);

  // The closed <svg> element.
  std::string finish();

 private:
  std::string id_, figure_, title_;
  double width_, height_;
  std::string out_;  // the content; finish() puts the <svg> element around it
};

}  // namespace bertlite::report
