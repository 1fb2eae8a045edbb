#include "report/svg.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "bertlite/error.h"
#include "util/utf8.h"

namespace bertlite::report {

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  while (!text.empty()) {
    const std::size_t bad = util::find_invalid_utf8(text);
    const std::string_view valid = text.substr(0, bad);
    for (char c : valid) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&#39;";
          break;
        default:
          // C0 controls other than tab, newline and carriage return are parse errors in HTML.
          if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            out += kReplacement;
          } else {
            out += c;
          }
      }
    }
    if (bad == std::string_view::npos) break;
    // One replacement character per offending byte, then carry on after it.
    out += kReplacement;
    text.remove_prefix(bad + 1);
  }
  return out;
}

namespace {

// printf into a std::string (numbers only, so 64 bytes is plenty).
template <typename... Args>
std::string print(const char* format, Args... args) {
  char buffer[64];
  const int n = std::snprintf(buffer, sizeof buffer, format, args...);
  return std::string(buffer, static_cast<std::size_t>(std::clamp(n, 0, 63)));
}

// "-0", "-0.00" -> "0", "0.00": a rounded-away sign means nothing to a reader.
std::string drop_negative_zero(std::string s) {
  if (!s.empty() && s[0] == '-' && s.find_first_not_of("0.", 1) == std::string::npos) {
    s.erase(0, 1);
  }
  return s;
}

}  // namespace

std::string format_fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "n/a";
  return drop_negative_zero(print("%.*f", std::clamp(decimals, 0, 12), value));
}

std::string format_short(double value) {
  if (!std::isfinite(value)) return "n/a";
  std::string s = print("%.4g", value);
  // 1e+06 -> 1e6, 1e-05 -> 1e-5.
  const std::size_t e = s.find('e');
  if (e != std::string::npos) {
    std::string mantissa = s.substr(0, e);
    std::string exponent = s.substr(e + 1);
    const bool negative = exponent[0] == '-';
    exponent.erase(0, 1);
    exponent.erase(0, std::min(exponent.find_first_not_of('0'), exponent.size() - 1));
    s = mantissa + "e" + (negative ? "-" : "") + exponent;
  }
  return drop_negative_zero(s);
}

std::string format_int(std::int64_t value) {
  const bool negative = value < 0;
  // Through unsigned, so INT64_MIN negates without overflow.
  std::uint64_t magnitude =
      negative ? ~static_cast<std::uint64_t>(value) + 1 : static_cast<std::uint64_t>(value);
  std::string digits = std::to_string(magnitude);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return negative ? "-" + out : out;
}

std::string format_percent(double fraction, int decimals) {
  if (!std::isfinite(fraction)) return "n/a";
  return format_fixed(100.0 * fraction, decimals) + "%";
}

std::string format_power_of_ten(int exponent) {
  static constexpr const char* kSuperscripts[] = {"\u2070", "\u00B9", "\u00B2", "\u00B3", "\u2074",
                                                  "\u2075", "\u2076", "\u2077", "\u2078", "\u2079"};
  std::string out = "10";
  if (exponent < 0) out += "\u207B";  // superscript minus
  for (char digit : std::to_string(std::abs(static_cast<long long>(exponent)))) {
    out += kSuperscripts[digit - '0'];
  }
  return out;
}

std::string coord(double value) {
  if (!std::isfinite(value)) value = 0;  // never write "nan" into an attribute
  std::string s = drop_negative_zero(print("%.1f", value));
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s;
}

Ticks nice_ticks(double min, double max, int target) {
  if (!std::isfinite(min) || !std::isfinite(max)) {
    throw InvalidArgument("nice_ticks: axis range must be finite, got [" + format_short(min) +
                          ", " + format_short(max) + "]");
  }
  if (min > max) std::swap(min, max);
  if (min == max) {
    // One value: a small range around it.
    const double pad = min == 0 ? 1 : std::abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  target = std::max(target, 2);
  const double rough = (max - min) / target;
  const double power = std::pow(10.0, std::floor(std::log10(rough)));
  const double fraction = rough / power;
  // The thresholds are the geometric midpoints between 1, 2, 5 and 10.
  const double factor = fraction >= 7.07 ? 10 : fraction >= 3.16 ? 5 : fraction >= 1.41 ? 2 : 1;
  Ticks ticks;
  ticks.step = factor * power;
  // A small tolerance so a bound that is already a tick (0.8 for step 0.1) is not pushed out
  // by rounding error.
  const double epsilon = 1e-9;
  const double first = std::floor(min / ticks.step + epsilon);
  const double last = std::ceil(max / ticks.step - epsilon);
  ticks.lo = first * ticks.step;
  ticks.hi = last * ticks.step;
  ticks.decimals = std::max(0, -static_cast<int>(std::floor(std::log10(ticks.step) + epsilon)));
  for (double k = first; k <= last + 0.5; k += 1) ticks.values.push_back(k * ticks.step);
  return ticks;
}

std::vector<double> log_ticks(double min, double max, int max_ticks) {
  if (!(min > 0) || !(max > 0) || !std::isfinite(min) || !std::isfinite(max)) {
    throw InvalidArgument("log_ticks: axis range must be positive and finite, got [" +
                          format_short(min) + ", " + format_short(max) + "]");
  }
  if (min > max) std::swap(min, max);
  const double epsilon = 1e-9;
  int e0 = static_cast<int>(std::floor(std::log10(min) + epsilon));
  int e1 = static_cast<int>(std::ceil(std::log10(max) - epsilon));
  if (e1 == e0) ++e1;
  const int stride = std::max(1, (e1 - e0 + max_ticks) / std::max(max_ticks, 1));
  // The last tick must reach max: extend the range to a whole number of strides.
  e1 = e0 + (e1 - e0 + stride - 1) / stride * stride;
  std::vector<double> values;
  for (int e = e0; e <= e1; e += stride) values.push_back(std::pow(10.0, e));
  return values;
}

bool prefers_log_axis(const std::vector<double>& values) {
  if (values.size() < 2) return false;
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  if (!(*lo > 0) || !std::isfinite(*hi) || *hi / *lo < 100) return false;
  const double middle = std::sqrt(*lo * *hi);
  const auto below =
      std::count_if(values.begin(), values.end(), [&](double v) { return v < middle; });
  return 4 * below >= static_cast<std::ptrdiff_t>(values.size());
}

double Scale::operator()(double value) const {
  double t;
  if (log) {
    const double a = std::log10(d0), b = std::log10(d1);
    t = b == a ? 0.5 : (std::log10(value) - a) / (b - a);
  } else {
    t = d1 == d0 ? 0.5 : (value - d0) / (d1 - d0);
  }
  return r0 + t * (r1 - r0);
}

std::string hex(Rgb c) {
  auto clamp = [](int v) { return std::clamp(v, 0, 255); };
  return print("#%02x%02x%02x", clamp(c.r), clamp(c.g), clamp(c.b));
}

Rgb mix(Rgb a, Rgb b, double t) {
  t = std::clamp(t, 0.0, 1.0);
  auto lerp = [t](int x, int y) { return static_cast<int>(std::lround(x + (y - x) * t)); };
  return {lerp(a.r, b.r), lerp(a.g, b.g), lerp(a.b, b.b)};
}

namespace {

// Piecewise-linear interpolation through evenly spaced colour stops, t in [0, 1].
template <std::size_t N>
Rgb through_stops(const std::array<Rgb, N>& stops, double t) {
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * (N - 1);
  const std::size_t i = std::min(static_cast<std::size_t>(t), N - 2);
  return mix(stops[i], stops[i + 1], t - static_cast<double>(i));
}

}  // namespace

Rgb category_colour(std::int64_t index) {
  // Okabe & Ito (2008), "Color Universal Design": distinguishable with any common colour
  // vision deficiency. Yellow is left out: it vanishes on white.
  static constexpr std::array<Rgb, 7> kPalette = {{{213, 94, 0},
                                                   {0, 114, 178},
                                                   {0, 158, 115},
                                                   {204, 121, 167},
                                                   {230, 159, 0},
                                                   {86, 180, 233},
                                                   {0, 0, 0}}};
  const auto n = static_cast<std::int64_t>(kPalette.size());
  return kPalette[static_cast<std::size_t>(((index % n) + n) % n)];
}

Rgb sequential_colour(double t) {
  // ColorBrewer "Blues", 9 classes.
  static constexpr std::array<Rgb, 9> kBlues = {{{247, 251, 255},
                                                 {222, 235, 247},
                                                 {198, 219, 239},
                                                 {158, 202, 225},
                                                 {107, 174, 214},
                                                 {66, 146, 198},
                                                 {33, 113, 181},
                                                 {8, 81, 156},
                                                 {8, 48, 107}}};
  return through_stops(kBlues, t);
}

Rgb diverging_colour(double t) {
  // ColorBrewer "PuOr", 9 classes, purple for negative values.
  static constexpr std::array<Rgb, 9> kPuOr = {{{84, 39, 136},
                                                {128, 115, 172},
                                                {178, 171, 210},
                                                {216, 218, 235},
                                                {247, 247, 247},
                                                {254, 224, 182},
                                                {253, 184, 99},
                                                {224, 130, 20},
                                                {179, 88, 6}}};
  return through_stops(kPuOr, (t + 1) / 2);
}

std::string text_colour_on(Rgb c) {
  // Relative luminance (sRGB, WCAG 2) against the midpoint between black and white text.
  auto linear = [](int v) {
    const double s = v / 255.0;
    return s <= 0.04045 ? s / 12.92 : std::pow((s + 0.055) / 1.055, 2.4);
  };
  const double luminance = 0.2126 * linear(c.r) + 0.7152 * linear(c.g) + 0.0722 * linear(c.b);
  return luminance > 0.18 ? "#1b1f24" : "#ffffff";
}

Svg::Svg(std::string_view id, std::string_view figure, double width, double height,
         std::string_view title)
    : id_(id), figure_(figure), title_(title), width_(width), height_(height) {}

void Svg::resize(double width, double height) {
  width_ = width;
  height_ = height;
}

namespace {

std::string with_extra(std::string_view extra) {
  std::string out;
  if (!extra.empty()) {
    // Appended rather than " " + std::string(extra): GCC 12 warns falsely (-Wrestrict) on that.
    out += ' ';
    out += extra;
  }
  return out;
}

}  // namespace

void Svg::rect(double x, double y, double w, double h, std::string_view fill,
               std::string_view extra) {
  out_ += "<rect x=\"" + coord(x) + "\" y=\"" + coord(y) + "\" width=\"" + coord(std::max(w, 0.0)) +
          "\" height=\"" + coord(std::max(h, 0.0)) + "\" fill=\"" + escape_html(fill) + "\"" +
          with_extra(extra) + "/>";
}

void Svg::line(double x1, double y1, double x2, double y2, std::string_view stroke,
               std::string_view extra) {
  out_ += "<line x1=\"" + coord(x1) + "\" y1=\"" + coord(y1) + "\" x2=\"" + coord(x2) + "\" y2=\"" +
          coord(y2) + "\" stroke=\"" + escape_html(stroke) + "\"" + with_extra(extra) + "/>";
}

void Svg::circle(double cx, double cy, double r, std::string_view fill, std::string_view extra) {
  out_ += "<circle cx=\"" + coord(cx) + "\" cy=\"" + coord(cy) + "\" r=\"" + coord(r) +
          "\" fill=\"" + escape_html(fill) + "\"" + with_extra(extra) + "/>";
}

void Svg::path(std::string_view d, std::string_view extra) {
  out_ += "<path d=\"" + escape_html(d) + "\"" + with_extra(extra) + "/>";
}

void Svg::text(double x, double y, std::string_view text, std::string_view anchor,
               std::string_view cls, std::string_view extra) {
  out_ += "<text x=\"" + coord(x) + "\" y=\"" + coord(y) + "\"";
  if (anchor != "start") out_ += " text-anchor=\"" + escape_html(anchor) + "\"";
  if (!cls.empty()) out_ += " class=\"" + escape_html(cls) + "\"";
  out_ += with_extra(extra) + ">" + escape_html(text) + "</text>";
}

void Svg::open_group(std::string_view extra) {
  out_ += "<g" + with_extra(extra) + ">";
}

void Svg::close_group() {
  out_ += "</g>";
}

void Svg::tooltip(std::string_view text) {
  out_ += "<title>" + escape_html(text) + "</title>";
}

void Svg::raw(std::string_view markup) {
  out_ += markup;
}

std::string Svg::finish() {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"figure\" id=\"" + escape_html(id_) +
         "\" data-figure=\"" + escape_html(figure_) + "\" viewBox=\"0 0 " + coord(width_) + " " +
         coord(height_) + "\" width=\"" + coord(width_) + "\" height=\"" + coord(height_) +
         "\" role=\"img\"><title>" + escape_html(title_) + "</title>" + out_ + "</svg>";
}

}  // namespace bertlite::report
