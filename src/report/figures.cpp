// Coordinates are SVG user units, which are CSS pixels at the figure's natural width; a figure
// shrinks with the page below that width (guide_report.cpp's CSS) and keeps its proportions.
#include "report/figures.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <vector>

#include "report/svg.h"

namespace bertlite::report {

namespace {

// The page's colours, beside the scales in svg.h.
constexpr const char* kInk = "#1f2328";
constexpr const char* kMuted = "#59636e";
constexpr const char* kGrid = "#e6e8eb";
constexpr const char* kAxis = "#8c959f";
constexpr const char* kBox = "#f6f8fa";
constexpr const char* kBorder = "#d0d7de";
constexpr const char* kPadFill = "#eceef1";
constexpr const char* kSpecialFill = "#fff1d6";  // [CLS], [SEP]: the walkthrough's yellow
const Rgb kBlue = category_colour(1);
const Rgb kVermillion = category_colour(0);
const Rgb kGreen = category_colour(2);
constexpr double kFullWidth = 1040;

std::size_t code_points(std::string_view text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// A downward arrow from (x, y0) to (x, y1), with a label to its right.
void down_arrow(Svg& svg, double x, double y0, double y1, std::string_view label) {
  svg.line(x, y0, x, y1 - 6, kAxis, "stroke-width=\"1.5\"");
  svg.path("M" + coord(x - 5) + " " + coord(y1 - 7) + "L" + coord(x) + " " + coord(y1) + "L" +
               coord(x + 5) + " " + coord(y1 - 7) + "Z",
           std::string("fill=\"") + kAxis + "\"");
  if (!label.empty()) svg.text(x + 12, (y0 + y1) / 2 + 4, label, "start", "note");
}

// A rightward arrow from (x0, y) to (x1, y).
void right_arrow(Svg& svg, double x0, double x1, double y) {
  svg.line(x0, y, x1 - 6, y, kAxis, "stroke-width=\"1.5\"");
  svg.path("M" + coord(x1 - 7) + " " + coord(y - 5) + "L" + coord(x1) + " " + coord(y) + "L" +
               coord(x1 - 7) + " " + coord(y + 5) + "Z",
           std::string("fill=\"") + kAxis + "\"");
}

std::string fill_attr(std::string_view name, std::string_view colour) {
  return std::string(name) + "=\"" + std::string(colour) + "\"";
}

// Text colour (and size) as a style attribute: the page's CSS sets both for all figure text,
// and CSS outranks SVG presentation attributes such as fill="...", but not inline style.
std::string text_style(std::string_view colour, double font_px = 0) {
  std::string style = "style=\"fill:" + std::string(colour);
  if (font_px > 0) style += ";font-size:" + coord(font_px) + "px";
  return style + "\"";
}

// Step label in the flow figure's left column: a numbered circle and a name.
void step_label(Svg& svg, double y, int number, std::string_view name) {
  svg.circle(14, y, 11, hex(kBlue));
  svg.text(14, y + 4.5, std::to_string(number), "middle", "step-number");
  svg.text(34, y + 5, name, "start", "step");
}

bool is_special_token(std::string_view token) {
  return token.size() >= 3 && token.front() == '[' && token.back() == ']';
}

std::string pooling_phrase(std::string_view pooling) {
  if (pooling == "mean") return "average the real tokens' vectors (mean pooling)";
  if (pooling == "pooler") return "the pooler: tanh(dense) of the [CLS] vector";
  return "keep each sentence's first vector, the [CLS] token's";
}

// ---- axes -----------------------------------------------------------------------------------

struct Plot {
  double left, top, right, bottom;  // the data area, in pixels
};

// Tick labels: fixed decimals on a linear axis; on a log axis plain numbers while they are
// short (0.001 ... 1000), else all as powers of ten.
std::vector<std::string> tick_labels(const std::vector<double>& ticks, int decimals, bool log) {
  std::vector<std::string> labels;
  bool powers = false;
  for (double t : ticks) powers = powers || (log && std::abs(std::log10(t)) > 3.5);
  for (double t : ticks) {
    labels.push_back(powers ? format_power_of_ten(static_cast<int>(std::lround(std::log10(t))))
                     : log  ? format_short(t)
                            : format_fixed(t, decimals));
  }
  return labels;
}

void x_axis(Svg& svg, const Plot& plot, const Scale& x, const std::vector<double>& ticks,
            const std::vector<std::string>& labels) {
  for (std::size_t i = 0; i < ticks.size(); ++i) {
    const double px = x(ticks[i]);
    svg.line(px, plot.top, px, plot.bottom, kGrid);
    svg.line(px, plot.bottom, px, plot.bottom + 5, kAxis);
    svg.text(px, plot.bottom + 19, labels[i], "middle", "axis");
  }
  svg.line(plot.left, plot.bottom, plot.right, plot.bottom, kAxis);
}

void y_axis(Svg& svg, const Plot& plot, const Scale& y, const std::vector<double>& ticks,
            int decimals) {
  for (double t : ticks) {
    const double py = y(t);
    svg.line(plot.left, py, plot.right, py, kGrid);
    svg.line(plot.left - 5, py, plot.left, py, kAxis);
    svg.text(plot.left - 8, py + 4, format_fixed(t, decimals), "end", "axis");
  }
  svg.line(plot.left, plot.top, plot.left, plot.bottom, kAxis);
}

void x_title(Svg& svg, const Plot& plot, std::string_view title) {
  svg.text((plot.left + plot.right) / 2, plot.bottom + 42, title, "middle", "axis-title");
}

void y_title(Svg& svg, const Plot& plot, std::string_view title) {
  const double x = 16, y = (plot.top + plot.bottom) / 2;
  svg.text(x, y, title, "middle", "axis-title",
           "transform=\"rotate(-90 " + coord(x) + " " + coord(y) + ")\"");
}

// Ticks within [lo, hi], for when a nice range overshoots a hard bound such as accuracy 1.
Ticks clamp_ticks(Ticks ticks, double lo, double hi) {
  std::erase_if(ticks.values, [&](double v) { return v < lo - 1e-9 || v > hi + 1e-9; });
  ticks.lo = std::max(ticks.lo, lo);
  ticks.hi = std::min(ticks.hi, hi);
  return ticks;
}

}  // namespace

double text_width(std::string_view text, double font_px, bool monospace) {
  // DejaVu Sans, the widest common fallback, averages about 0.58 em over English text; DejaVu
  // Sans Mono advances 0.602 em.
  return static_cast<double>(code_points(text)) * font_px * (monospace ? 0.61 : 0.58);
}

std::string fit_text(std::string_view text, double max_px, double font_px, bool monospace) {
  if (text_width(text, font_px, monospace) <= max_px) return std::string(text);
  const double per_char = font_px * (monospace ? 0.61 : 0.58);
  const auto keep = static_cast<std::size_t>(std::max(0.0, std::floor(max_px / per_char) - 1));
  std::size_t bytes = 0, kept = 0;
  while (bytes < text.size() && kept < keep) {
    ++bytes;
    while (bytes < text.size() && (text[bytes] & 0xC0) == 0x80) ++bytes;
    ++kept;
  }
  return std::string(text.substr(0, bytes)) + "\xE2\x80\xA6";  // U+2026
}

std::vector<std::string> wrap_text(std::string_view text, double max_px, double font_px,
                                   std::size_t max_lines) {
  if (max_lines <= 1) return {fit_text(text, max_px, font_px)};
  std::vector<std::string> lines;
  std::string line;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t space = text.find(' ', at);
    const std::string_view word =
        text.substr(at, space == std::string_view::npos ? std::string_view::npos : space - at);
    at = space == std::string_view::npos ? text.size() : space + 1;
    if (word.empty()) continue;
    const std::string candidate = line.empty() ? std::string(word) : line + " " + std::string(word);
    if (text_width(candidate, font_px) <= max_px || line.empty()) {
      line = candidate;
      continue;
    }
    lines.push_back(fit_text(line, max_px, font_px));
    line = std::string(word);
    if (lines.size() + 1 == max_lines) {
      // The last line takes the rest, cut to fit.
      line += at < text.size() ? " " + std::string(text.substr(at)) : "";
      at = text.size();
    }
  }
  if (!line.empty() || lines.empty()) lines.push_back(fit_text(line, max_px, font_px));
  return lines;
}

// ---- fig-flow -------------------------------------------------------------------------------

std::string flow_figure(const GuideReport& r) {
  const ExampleFlow& ex = r.example;
  const double left = 170;  // content starts here; step labels sit to its left
  const double content = kFullWidth - left;
  // The height is known only once everything is laid out: resized at the end.
  Svg svg("fig-flow", "fig-flow", kFullWidth, 0,
          "The example sentence flowing through tokenizer, padding, encoder and classifier");
  double y = 4;

  // 1. The sentence.
  {
    const double font = 17, line_h = 24;
    const std::string quoted = "\xE2\x80\x9C" + ex.sentence + "\xE2\x80\x9D";
    const std::vector<std::string> lines = wrap_text(quoted, content - 36, font, 3);
    double w = 0;
    for (const std::string& line : lines) w = std::max(w, text_width(line, font) + 36);
    const double h = 20 + line_h * static_cast<double>(lines.size());
    step_label(svg, y + 22, 1, "sentence");
    svg.rect(left, y, std::min(content, w), h, kBox, fill_attr("stroke", kBorder) + " rx=\"8\"");
    for (std::size_t i = 0; i < lines.size(); ++i) {
      svg.text(left + 18, y + 28 + line_h * static_cast<double>(i), lines[i], "start", "sentence");
    }
    y += h;
  }

  // 2. Tokens and their ids, in cells that wrap onto more lines when the sentence is long.
  {
    std::string tokenizer = "tokenize: lowercase, split into WordPiece tokens, add [CLS] and [SEP]";
    down_arrow(svg, left + 24, y + 6, y + 46, tokenizer);
    y += 54;
    const double font = 14, cell_h = 30, gap = 6, line_h = 2 * cell_h + 30;
    const std::size_t max_tokens = 48;
    const std::size_t shown = std::min(ex.tokens.size(), max_tokens);
    double x = left, line_y = y;
    step_label(svg, y + cell_h / 2, 2, "tokens");
    svg.text(34, y + cell_h + 22, "input ids", "start", "step-sub");
    auto next_cell = [&](double w) {
      if (x + w > kFullWidth && x > left) {
        x = left;
        line_y += line_h;
      }
      const double cx = x;
      x += w + gap;
      return cx;
    };
    for (std::size_t i = 0; i < shown; ++i) {
      const std::string& token = ex.tokens[i];
      const std::string id = i < ex.ids.size() ? std::to_string(ex.ids[i]) : "?";
      const std::string token_text = fit_text(token, 150, font, true);
      const double w =
          std::max(text_width(token_text, font, true), text_width(id, font, true)) + 18;
      const double cx = next_cell(w);
      const bool special = is_special_token(token);
      svg.rect(cx, line_y, w, cell_h, special ? kSpecialFill : "#ffffff",
               fill_attr("stroke", kBorder) + " rx=\"4\"");
      svg.text(cx + w / 2, line_y + 20, token_text, "middle", "mono");
      svg.line(cx + w / 2, line_y + cell_h + 2, cx + w / 2, line_y + cell_h + 16, kAxis);
      svg.rect(cx, line_y + cell_h + 18, w, cell_h, hex(mix({255, 255, 255}, kBlue, 0.12)),
               fill_attr("stroke", hex(mix({255, 255, 255}, kBlue, 0.35))) + " rx=\"4\"");
      svg.text(cx + w / 2, line_y + cell_h + 38, id, "middle", "mono");
    }
    if (ex.tokens.size() > shown) {
      const std::string more = "\xE2\x80\xA6 " +
                               format_int(static_cast<std::int64_t>(ex.tokens.size() - shown)) +
                               " more";
      const double cx = next_cell(text_width(more, 13) + 10);
      svg.text(cx, line_y + 20, more, "start", "note");
    }
    y = line_y + 2 * cell_h + 18;
  }

  // 3. The padded id matrix: the first rows, first and last columns; beside it the mask.
  {
    const PaddedMatrix& m = r.padded;
    down_arrow(svg, left + 24, y + 6, y + 46,
               "pad every sentence with [PAD] = " + std::to_string(m.pad_id) +
                   " to the longest, T = " + format_int(m.cols) + ", and stack all " +
                   format_int(m.rows) + " rows");
    y += 54;
    step_label(svg, y + 12, 3, "padded ids");
    svg.text(34, y + 32, "and the mask", "start", "step-sub");
    // Columns drawn: all when few, else the first eight, an ellipsis (-1) and the last three.
    std::vector<std::int64_t> columns;
    const std::int64_t ncols =
        m.preview.empty() ? 0 : static_cast<std::int64_t>(m.preview[0].size());
    if (ncols <= 12) {
      for (std::int64_t c = 0; c < ncols; ++c) columns.push_back(c);
    } else {
      for (std::int64_t c = 0; c < 8; ++c) columns.push_back(c);
      columns.push_back(-1);
      for (std::int64_t c = ncols - 3; c < ncols; ++c) columns.push_back(c);
    }
    const std::size_t rows_shown = std::min<std::size_t>(m.preview.size(), 6);
    const double cell_w = 46, cell_h = 24, index_w = 34;
    const double top = y + 28;  // below the titles and column numbers
    svg.text(left, y + 4, "input_ids  (" + format_int(m.rows) + ", " + format_int(m.cols) + ")",
             "start", "mono strong");
    for (std::size_t k = 0; k < columns.size(); ++k) {
      const double cx = left + index_w + static_cast<double>(k) * cell_w + cell_w / 2;
      svg.text(cx, top - 6, columns[k] < 0 ? "\xE2\x80\xA6" : std::to_string(columns[k]), "middle",
               "axis");
    }
    for (std::size_t row = 0; row < rows_shown; ++row) {
      const double ry = top + static_cast<double>(row) * cell_h;
      svg.text(left + index_w - 8, ry + 16, std::to_string(row), "end", "axis");
      for (std::size_t k = 0; k < columns.size(); ++k) {
        const double cx = left + index_w + static_cast<double>(k) * cell_w;
        if (columns[k] < 0) {
          svg.text(cx + cell_w / 2, ry + 16, "\xE2\x80\xA6", "middle", "axis");
          continue;
        }
        const auto& ids = m.preview[row];
        const std::int32_t id =
            columns[k] < static_cast<std::int64_t>(ids.size()) ? ids[columns[k]] : m.pad_id;
        const bool pad = id == m.pad_id;
        svg.rect(cx, ry, cell_w, cell_h, pad ? kPadFill : "#ffffff",
                 fill_attr("stroke", "#ffffff") + " stroke-width=\"1\"");
        svg.text(cx + cell_w / 2, ry + 16, std::to_string(id), "middle",
                 pad ? "mono small pad" : "mono small");
      }
    }
    const double matrix_right = left + index_w + static_cast<double>(columns.size()) * cell_w;
    const double bottom = top + static_cast<double>(rows_shown) * cell_h;
    if (rows_shown > 0) {
      svg.rect(left + index_w, top, matrix_right - left - index_w, bottom - top, "none",
               fill_attr("stroke", kBorder));
    }
    // The mask: the same rows, every column, 1 dark and 0 light.
    const double mask_left = matrix_right + 48;
    const double mask_cell = ncols > 0 ? std::min(8.0, (kFullWidth - mask_left) / ncols) : 8;
    svg.text(mask_left, y + 4,
             "attention_mask  (" + format_int(m.rows) + ", " + format_int(m.cols) + ")", "start",
             "mono strong");
    svg.text(mask_left, top - 6, "1 = token, 0 = padding", "start", "axis");
    for (std::size_t row = 0; row < rows_shown; ++row) {
      const auto& ids = m.preview[row];
      const double ry = top + static_cast<double>(row) * cell_h + 3;
      // Runs of equal mask values, one rect each.
      std::int64_t start = 0;
      for (std::int64_t c = 1; c <= ncols; ++c) {
        const auto is_real = [&](std::int64_t k) {
          return k < static_cast<std::int64_t>(ids.size()) && ids[k] != m.pad_id;
        };
        if (c < ncols && is_real(c) == is_real(start)) continue;
        svg.rect(mask_left + static_cast<double>(start) * mask_cell, ry,
                 static_cast<double>(c - start) * mask_cell, cell_h - 6,
                 is_real(start) ? hex(kBlue) : kPadFill);
        start = c;
      }
    }
    y = bottom + 6;
    const double cells = static_cast<double>(m.rows) * static_cast<double>(m.cols);
    std::string below =
        "\xE2\x8B\xAE " +
        format_int(std::max<std::int64_t>(0, m.rows - static_cast<std::int64_t>(rows_shown))) +
        " more rows";
    if (cells > 0) {
      below += ".  " + format_int(m.real_tokens) + " of the " +
               format_int(static_cast<std::int64_t>(cells)) + " cells (" +
               format_percent(static_cast<double>(m.real_tokens) / cells, 0) +
               ") are real tokens; bertlite packs those and never computes the padding.";
    }
    svg.text(left + index_w, y + 14, below, "start", "note");
    y += 20;
  }

  // 4. The encoder.
  {
    down_arrow(svg, left + 24, y + 6, y + 46, "run the encoder on the ids and the mask");
    y += 54;
    step_label(svg, y + 30, 4, "encoder");
    const double w = 520, h = 60;
    svg.rect(left, y, w, h, hex(mix({255, 255, 255}, kGreen, 0.10)),
             fill_attr("stroke", hex(mix({255, 255, 255}, kGreen, 0.6))) + " rx=\"8\"");
    // A stack of layer bars, a hint of what is inside.
    for (int k = 0; k < 6; ++k) {
      svg.rect(left + 14 + k * 9, y + 12, 6, h - 24, hex(mix({255, 255, 255}, kGreen, 0.55)),
               "rx=\"2\"");
    }
    svg.text(left + 82, y + 25, fit_text(r.model, w - 100, 15), "start", "strong big");
    svg.text(left + 82, y + 45, fit_text(r.model_summary, w - 100, 13), "start", "note");
    const std::string out = "last_hidden_state  (" + format_int(r.padded.rows) + ", " +
                            format_int(r.padded.cols) + ", " + format_int(r.hidden) + ")";
    right_arrow(svg, left + w + 8, left + w + 48, y + h / 2);
    svg.text(left + w + 58, y + h / 2 - 4, out, "start", "mono strong");
    svg.text(left + w + 58, y + h / 2 + 16,
             "a vector of " + format_int(r.hidden) + " numbers for every token", "start", "note");
    y += h;
  }

  // 5. The pooled vector: its first dimensions as a heat strip.
  {
    down_arrow(svg, left + 24, y + 6, y + 46, pooling_phrase(r.pooling));
    y += 54;
    step_label(svg, y + 26, 5, "features");
    const std::vector<float>& f = ex.feature;
    const std::size_t shown = std::min<std::size_t>(f.size(), 40);
    double scale = 0;
    for (float v : f) {
      if (std::isfinite(v)) scale = std::max(scale, static_cast<double>(std::abs(v)));
    }
    if (scale == 0) scale = 1;
    std::string values = "[";
    for (std::size_t i = 0; i < std::min<std::size_t>(f.size(), 6); ++i) {
      values += (i ? ", " : "") + format_fixed(f[i], 3);
    }
    values += f.size() > 6 ? ", \xE2\x80\xA6]" : "]";
    svg.text(left, y + 4,
             "features[example]  (" + format_int(static_cast<std::int64_t>(f.size())) +
                 ",)  = " + values,
             "start", "mono");
    const double cell = 16, strip_top = y + 14, strip_h = 30;
    for (std::size_t i = 0; i < shown; ++i) {
      const double v = std::isfinite(f[i]) ? f[i] : 0.0;
      svg.open_group();
      svg.rect(left + static_cast<double>(i) * cell, strip_top, cell - 1, strip_h,
               hex(diverging_colour(v / scale)));
      svg.tooltip("dimension " + std::to_string(i) + ": " + format_fixed(v, 4));
      svg.close_group();
      if (i % 8 == 0) {
        svg.text(left + static_cast<double>(i) * cell + cell / 2, strip_top + strip_h + 15,
                 std::to_string(i), "middle", "axis");
      }
    }
    const double strip_right = left + static_cast<double>(shown) * cell;
    if (f.size() > shown) {
      svg.text(strip_right + 8, strip_top + 20,
               "\xE2\x80\xA6 " + format_int(static_cast<std::int64_t>(f.size() - shown)) +
                   " more dimensions",
               "start", "note");
    }
    // Colour key: eleven steps from -scale to +scale.
    const double key_left = kFullWidth - 11 * 14, key_top = strip_top + strip_h + 6;
    for (int k = 0; k <= 10; ++k) {
      svg.rect(key_left + k * 14, key_top, 14, 10, hex(diverging_colour((k - 5) / 5.0)));
    }
    svg.text(key_left, key_top + 24, format_fixed(-scale, 2), "start", "axis");
    svg.text(key_left + 77, key_top + 24, "0", "middle", "axis");
    svg.text(key_left + 154, key_top + 24, format_fixed(scale, 2), "end", "axis");
    y = strip_top + strip_h + 30;
  }

  // 6. The classifier's answer.
  {
    down_arrow(svg, left + 24, y + 6, y + 46, "logistic regression on the features");
    y += 54;
    step_label(svg, y + 18, 6, "label");
    if (ex.predicted_label) {
      std::int64_t index = 0;
      const auto it = std::find(r.label_names.begin(), r.label_names.end(), *ex.predicted_label);
      if (it != r.label_names.end()) index = it - r.label_names.begin();
      const std::string label = fit_text(*ex.predicted_label, 300, 15);
      const double w = text_width(label, 15) + 28;
      svg.rect(left, y + 2, w, 32, hex(category_colour(index)), "rx=\"16\"");
      svg.text(left + w / 2, y + 23, label, "middle", "chip-text");
      if (ex.probability) {
        svg.text(left + w + 14, y + 23, "probability " + format_fixed(*ex.probability, 3), "start",
                 "big");
      }
    } else {
      std::string names;
      for (std::size_t i = 0; i < r.label_names.size(); ++i) {
        names += (i == 0 ? "" : i + 1 == r.label_names.size() ? " or " : ", ") + r.label_names[i];
      }
      svg.text(left, y + 23, "one of: " + names, "start", "big");
    }
    y += 40;
  }

  svg.resize(kFullWidth, y + 4);
  return svg.finish();
}

// ---- fig-shapes -----------------------------------------------------------------------------

std::string shapes_figure(const GuideReport& r) {
  const PaddedMatrix& m = r.padded;
  const double base = 146;  // glyph bottoms; captions below
  const double height = base + 122;
  Svg svg("fig-shapes", "fig-shapes", kFullWidth, height, "Tensor shapes at each step");
  const double slot = kFullWidth / 6;
  auto center = [&](int k) { return slot * (k + 0.5); };
  // Under each glyph: names (mono, bold), shapes (mono), what the axes are (muted).
  auto caption = [&](int k, std::vector<std::string> names, std::vector<std::string> shapes,
                     std::string_view meaning) {
    double y = base + 24;
    for (const std::string& name : names)
      svg.text(center(k), y, name, "middle", "mono strong"), y += 18;
    for (const std::string& shape : shapes)
      svg.text(center(k), y, shape, "middle", "mono"), y += 18;
    svg.text(center(k), y + 1, meaning, "middle", "note");
  };
  const std::string rows = format_int(m.rows);
  const Rgb pale_blue = mix({255, 255, 255}, kBlue, 0.18);
  const Rgb pale_orange = mix({255, 255, 255}, kVermillion, 0.22);
  const Rgb highlight = mix({255, 255, 255}, kVermillion, 0.75);
  // cls and pooler both start from position 0; the pooler then applies tanh(dense(.)).
  const bool cls = r.pooling != "mean";
  const bool pooler = r.pooling == "pooler";

  // 0. The sentences: a page of lines.
  {
    const double x = center(0) - 34, top = base - 112;
    svg.rect(x, top, 68, 112, "#ffffff", fill_attr("stroke", kBorder) + " rx=\"4\"");
    for (int k = 0; k < 8; ++k) {
      const double len = 40 + 10 * std::sin(k * 1.7);
      svg.line(x + 10, top + 16 + k * 12, x + 10 + len, top + 16 + k * 12, kAxis,
               "stroke-width=\"3\" stroke-linecap=\"round\"");
    }
    caption(0, {"sentences"}, {"(" + rows + ",)"}, "strings");
  }
  // 1. input_ids and attention_mask: each stripe a sentence, its real tokens filled.
  {
    const double w = 104, h = 50, x = center(1) - w / 2;
    for (int which = 0; which < 2; ++which) {
      const double top = base - 2 * h - 12 + which * (h + 12);
      svg.rect(x, top, w, h, kPadFill, fill_attr("stroke", kBorder));
      const std::size_t stripes = 8;
      for (std::size_t s = 0; s < stripes; ++s) {
        double share;
        if (!m.preview.empty()) {
          const auto& ids = m.preview[s % m.preview.size()];
          const auto real = std::count_if(ids.begin(), ids.end(),
                                          [&](std::int32_t id) { return id != m.pad_id; });
          share = m.cols > 0 ? static_cast<double>(real) / static_cast<double>(m.cols) : 0;
        } else {
          share = m.rows * m.cols > 0
                      ? static_cast<double>(m.real_tokens) / (static_cast<double>(m.rows) * m.cols)
                      : 0;
        }
        const double sh = h / stripes;
        svg.rect(x, top + s * sh, w * std::clamp(share, 0.0, 1.0), sh - 1,
                 which == 0 ? hex(mix(pale_blue, kBlue, 0.3)) : hex(kBlue));
      }
      svg.text(x + w - 5, top + h - 5, which == 0 ? "ids" : "mask", "end", "small");
    }
    caption(1, {"input_ids", "attention_mask"}, {"(" + rows + ", " + format_int(m.cols) + ")"},
            "rows \xC3\x97 T, each");
  }
  // 2. last_hidden_state: a box rows x T x H, the [CLS] slice highlighted.
  {
    const double w = 80, h = 96, dx = 36, dy = -26;
    const double x = center(2) - (w + dx) / 2, top = base - h;
    const double slice = w / 8;  // position 0's column
    // Top face, side face, front face.
    svg.path(
        "M" + coord(x) + " " + coord(top) + "l" + coord(dx) + " " + coord(dy) + "h" + coord(w) +
            "l" + coord(-dx) + " " + coord(-dy) + "Z",
        fill_attr("fill", hex(mix(pale_blue, kBlue, 0.25))) + " " + fill_attr("stroke", "#ffffff"));
    svg.path(
        "M" + coord(x + w) + " " + coord(top) + "l" + coord(dx) + " " + coord(dy) + "v" + coord(h) +
            "l" + coord(-dx) + " " + coord(-dy) + "Z",
        fill_attr("fill", hex(mix(pale_blue, kBlue, 0.45))) + " " + fill_attr("stroke", "#ffffff"));
    svg.rect(x, top, w, h, hex(pale_blue), fill_attr("stroke", "#ffffff"));
    if (cls) {
      svg.rect(x, top, slice, h, hex(highlight));
      svg.path("M" + coord(x) + " " + coord(top) + "l" + coord(dx) + " " + coord(dy) + "h" +
                   coord(slice) + "l" + coord(-dx) + " " + coord(-dy) + "Z",
               fill_attr("fill", hex(mix(highlight, kVermillion, 0.3))));
    }
    svg.text(x + w / 2 + 4, top + h - 8, "T \xE2\x86\x92", "middle", "small");
    svg.text(x + w + dx / 2, top + dy / 2 + h / 2 + 4, "H", "middle", "small");
    caption(2, {"last_hidden_state"},
            {"(" + rows + ", " + format_int(m.cols) + ", " + format_int(r.hidden) + ")"},
            "rows \xC3\x97 T \xC3\x97 H");
  }
  // 3. features.
  {
    const double w = 88, h = 96, x = center(3) - w / 2;
    svg.rect(x, base - h, w, h, hex(pale_orange), fill_attr("stroke", "#ffffff"));
    svg.text(x + w / 2, base - 8, "H \xE2\x86\x92", "middle", "small");
    caption(3, {"features"}, {"(" + rows + ", " + format_int(r.hidden) + ")"}, "rows \xC3\x97 H");
  }
  // 4. The split, heights in proportion.
  {
    const double w = 88, h = 96, gap = 6, x = center(4) - w / 2;
    const double total = static_cast<double>(r.split_train + r.split_test);
    const double train_h = total > 0 ? (h - gap) * r.split_train / total : (h - gap) * 0.75;
    const double test_h = h - gap - train_h;
    svg.rect(x, base - h, w, train_h, hex(mix(pale_orange, kVermillion, 0.2)));
    svg.text(x + w / 2, base - h + train_h / 2 + 4.5, "train", "middle", "strong");
    svg.rect(x, base - test_h, w, test_h, hex(mix(pale_orange, Rgb{89, 99, 110}, 0.3)));
    if (test_h >= 14) svg.text(x + w / 2, base - test_h / 2 + 4.5, "test", "middle", "strong");
    caption(4, {"train, test"},
            {"(" + format_int(r.split_train) + ", " + format_int(r.hidden) + ")",
             "(" + format_int(r.split_test) + ", " + format_int(r.hidden) + ")"},
            "");
  }
  // 5. The classifier.
  {
    const double w = 116, h = 66, x = center(5) - w / 2, top = base - h - 15;
    svg.rect(x, top, w, h, hex(mix({255, 255, 255}, kGreen, 0.12)),
             fill_attr("stroke", hex(mix({255, 255, 255}, kGreen, 0.6))) + " rx=\"8\"");
    svg.text(x + w / 2, top + 25, "test accuracy", "middle", "note");
    svg.text(x + w / 2, top + 52, format_fixed(r.walkthrough_accuracy, 3), "middle", "strong huge");
    caption(5, {"LogisticRegression"}, {"w (" + format_int(r.hidden) + ",), b"}, "fit, then score");
  }
  // Arrows between the glyphs, each step's name above its arrow.
  const double half[] = {34, 52, 58, 44, 44, 58};
  const std::vector<std::vector<std::string>> steps = {{"tokenize,", "pad"},
                                                       {"encoder"},
                                                       {pooler ? "pooler"
                                                        : cls  ? "[CLS]"
                                                               : "mean"},
                                                       {"split"},
                                                       {"fit"}};
  const double arrow_y = base - 48;
  for (int k = 0; k < 5; ++k) {
    const double x0 = center(k) + half[k] + 8, x1 = center(k + 1) - half[k + 1] - 8;
    right_arrow(svg, x0, x1, arrow_y);
    double ty = arrow_y - 8 - 15 * (steps[k].size() - 1);
    for (const std::string& line : steps[k])
      svg.text((x0 + x1) / 2, ty, line, "middle", "axis"), ty += 15;
  }
  // Where the sizes come from.
  std::string note = "T = " + format_int(m.cols) +
                     ", the longest tokenized sentence;  H = " + format_int(r.hidden) +
                     ", the encoder's width;  grey: padding";
  if (pooler) {
    note += ";  orange: position 0, the [CLS] token, through the pooler (tanh of a dense layer)";
  } else if (cls) {
    note += ";  orange: position 0, the [CLS] token, kept as the features";
  } else {
    note += ";  features: the mean over each sentence's real tokens";
  }
  svg.text(kFullWidth / 2, height - 6, note, "middle", "note");
  return svg.finish();
}

// ---- fig-summary ----------------------------------------------------------------------------

std::string summary_figure(const GuideReport& r) {
  struct Row {
    std::string label;
    double value;
    double spread;  // +/- this, 0 = none
    Rgb colour;
    bool hollow;
    std::string note;
  };
  std::vector<Row> rows;
  const Rgb grey = {110, 119, 129};
  rows.push_back(
      {"majority class (baseline)", r.baseline, r.baseline_std, grey, false, "5-fold CV"});
  rows.push_back({"the walkthrough's classifier (C = 1), one split", r.walkthrough_accuracy, 0,
                  kBlue, false,
                  format_int(r.split_train) + " / " + format_int(r.split_test) + " split"});
  if (r.seeds > 1) {
    rows.push_back({"the same over " + std::to_string(r.seeds) + " random splits", r.seed_mean,
                    r.seed_std, kBlue, false, "mean \xC2\xB1 std"});
  }
  for (std::size_t i = 0; i < r.experiments.size(); ++i) {
    const Experiment& e = r.experiments[i];
    rows.push_back({e.title, e.accuracy, 0, kGreen, false,
                    "C = " + format_short(e.best_C) + ", " + format_int(e.test_rows) + " rows"});
  }
  if (r.finetuning && !r.finetuning->epochs.empty()) {
    const Finetuning& f = *r.finetuning;
    const FinetuneEpoch& best = f.epochs[static_cast<std::size_t>(f.best_epoch - 1)];
    rows.push_back({f.title, best.eval_accuracy, 0, kVermillion, false,
                    "all weights trained, " + format_int(f.eval_rows) + " rows"});
  }
  for (const Reference& ref : r.references) {
    rows.push_back({ref.name, ref.accuracy, 0, grey, true, "published"});
  }
  std::erase_if(rows, [](const Row& row) { return !std::isfinite(row.value); });

  const double row_h = 32, top = 16, label_w = 400;
  const Plot plot{label_w + 20, top, kFullWidth - 280, top + row_h * rows.size()};
  const double height = plot.bottom + 52;
  Svg svg("fig-summary", "fig-summary", kFullWidth, height,
          "Accuracy of every classifier in the report on one axis");
  double lo = 1, hi = 0;
  for (const Row& row : rows) {
    lo = std::min(lo, row.value - row.spread);
    hi = std::max(hi, row.value + row.spread);
  }
  if (rows.empty()) lo = 0, hi = 1;
  const Ticks ticks = clamp_ticks(nice_ticks(lo, hi, 4), 0, 1);
  const Scale x{ticks.lo, ticks.hi, plot.left, plot.right};
  x_axis(svg, plot, x, ticks.values, tick_labels(ticks.values, ticks.decimals, false));
  x_title(svg, plot, "accuracy on held-out rows");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const double cy = top + row_h * (static_cast<double>(i) + 0.5);
    if (i % 2 == 0) svg.rect(0, cy - row_h / 2, kFullWidth, row_h, "#f6f8fa", "opacity=\"0.7\"");
    svg.text(label_w, cy + 4.5, fit_text(row.label, label_w, 13), "end");
    if (row.spread > 0) {
      const double a = x(std::max(row.value - row.spread, ticks.lo));
      const double b = x(std::min(row.value + row.spread, ticks.hi));
      svg.line(a, cy, b, cy, hex(row.colour), "stroke-width=\"2\"");
      svg.line(a, cy - 5, a, cy + 5, hex(row.colour), "stroke-width=\"2\"");
      svg.line(b, cy - 5, b, cy + 5, hex(row.colour), "stroke-width=\"2\"");
    }
    svg.open_group();
    if (row.hollow) {
      svg.circle(x(row.value), cy, 6, "#ffffff",
                 fill_attr("stroke", hex(row.colour)) + " stroke-width=\"2\"");
    } else {
      svg.circle(x(row.value), cy, 6.5, hex(row.colour),
                 std::string("stroke=\"#ffffff\" stroke-width=\"1.5\""));
    }
    svg.tooltip(row.label + ": " + format_fixed(row.value, 3));
    svg.close_group();
    std::string value = format_fixed(row.value, 3);
    if (row.spread > 0) value += " \xC2\xB1 " + format_fixed(row.spread, 3);
    svg.text(plot.right + 16, cy + 4.5, value, "start", "mono strong");
    svg.text(plot.right + 132, cy + 4.5, fit_text(row.note, kFullWidth - plot.right - 132, 11),
             "start", "small");
  }
  return svg.finish();
}

// ---- fig-cv ---------------------------------------------------------------------------------

std::string cv_figure(const Experiment& e, int number) {
  const double width = 600, height = 380;
  const Plot plot{70, 48, width - 24, height - 66};
  Svg svg("fig-cv-" + std::to_string(number), "fig-cv", width, height,
          "Cross-validated accuracy against C: " + e.title);
  std::vector<CvPoint> points;
  for (const CvPoint& p : e.cv_curve) {
    if (std::isfinite(p.C) && std::isfinite(p.mean) && std::isfinite(p.std)) points.push_back(p);
  }
  std::sort(points.begin(), points.end(),
            [](const CvPoint& a, const CvPoint& b) { return a.C < b.C; });
  if (points.empty()) {
    svg.text(width / 2, height / 2, "no grid search in this experiment", "middle", "note");
    return svg.finish();
  }
  std::vector<double> cs;
  for (const CvPoint& p : points) cs.push_back(p.C);
  const bool log = prefers_log_axis(cs);
  Scale x{0, 1, plot.left + 10, plot.right - 10, log};
  std::vector<double> x_ticks;
  int x_decimals = 0;
  if (log) {
    x_ticks = log_ticks(cs.front(), cs.back(), 9);
    x.d0 = x_ticks.front();
    x.d1 = x_ticks.back();
  } else {
    const Ticks t = nice_ticks(std::min(0.0, cs.front()), cs.back(), 6);
    x_ticks = t.values;
    x_decimals = t.decimals;
    x.d0 = t.lo;
    x.d1 = t.hi;
  }
  double lo = 1, hi = 0;
  for (const CvPoint& p : points) {
    lo = std::min(lo, p.mean - p.std);
    hi = std::max(hi, p.mean + p.std);
  }
  const Ticks y_ticks = clamp_ticks(nice_ticks(lo, hi, 5), 0, 1);
  const Scale y{y_ticks.lo, y_ticks.hi, plot.bottom, plot.top};
  x_axis(svg, plot, x, x_ticks, tick_labels(x_ticks, x_decimals, log));
  y_axis(svg, plot, y, y_ticks.values, y_ticks.decimals);
  x_title(svg, plot,
          log ? "C, the inverse regularization strength (log scale)"
              : "C, the inverse regularization strength");
  y_title(svg, plot, "CV accuracy (" + std::to_string(e.cv_folds) + "-fold mean \xC2\xB1 std)");

  auto clamp_y = [&](double v) { return y(std::clamp(v, y_ticks.lo, y_ticks.hi)); };
  // The +/- one std band, then the mean line and its points.
  std::string band = "M";
  for (std::size_t i = 0; i < points.size(); ++i) {
    band += (i ? "L" : "") + coord(x(points[i].C)) + " " +
            coord(clamp_y(points[i].mean + points[i].std));
  }
  for (std::size_t i = points.size(); i-- > 0;) {
    band += "L" + coord(x(points[i].C)) + " " + coord(clamp_y(points[i].mean - points[i].std));
  }
  svg.path(band + "Z", fill_attr("fill", hex(kBlue)) + " fill-opacity=\"0.16\"");
  std::string line = "M";
  for (std::size_t i = 0; i < points.size(); ++i) {
    line += (i ? "L" : "") + coord(x(points[i].C)) + " " + coord(clamp_y(points[i].mean));
  }
  svg.path(line, "fill=\"none\" " + fill_attr("stroke", hex(kBlue)) +
                     " stroke-width=\"2.2\" stroke-linejoin=\"round\"");
  for (const CvPoint& p : points) {
    svg.open_group();
    svg.circle(x(p.C), clamp_y(p.mean), 3.6, hex(kBlue),
               std::string("stroke=\"#ffffff\" stroke-width=\"1\""));
    svg.tooltip("C = " + format_short(p.C) + ": " + format_fixed(p.mean, 4) + " \xC2\xB1 " +
                format_fixed(p.std, 4));
    svg.close_group();
  }
  // The chosen C.
  if (std::isfinite(e.best_C) && e.best_C >= std::min(x.d0, x.d1) &&
      e.best_C <= std::max(x.d0, x.d1) && (!log || e.best_C > 0)) {
    const double bx = x(e.best_C), by = clamp_y(e.best_cv);
    svg.line(bx, plot.top, bx, plot.bottom, hex(kVermillion),
             "stroke-width=\"1.5\" stroke-dasharray=\"5 4\"");
    svg.circle(bx, by, 7.5, "none",
               fill_attr("stroke", hex(kVermillion)) + " stroke-width=\"2.2\"");
    const std::string label =
        "chosen C = " + format_short(e.best_C) + ", CV accuracy " + format_fixed(e.best_cv, 3);
    const bool right_half = bx > (plot.left + plot.right) / 2;
    svg.text(right_half ? bx - 8 : bx + 8, plot.top - 12, label, right_half ? "end" : "start",
             "strong", text_style(hex(kVermillion)));
  }
  return svg.finish();
}

// ---- fig-loss -------------------------------------------------------------------------------

std::string loss_figure(const Finetuning& f) {
  const double width = kFullWidth, height = 400;
  const Plot plot{70, 56, width - 30, height - 66};
  Svg svg("fig-loss", "fig-loss", width, height,
          "Training loss at every step of fine-tuning, and the held-out loss after each epoch");
  const std::vector<double>& losses = f.step_losses;
  if (losses.empty()) {
    svg.text(width / 2, height / 2, "no training steps", "middle", "note");
    return svg.finish();
  }
  // A trailing mean over about a fiftieth of the run: the trend under the batch-to-batch noise.
  const std::size_t window = std::max<std::size_t>(1, losses.size() / 50);
  // A step whose loss is not finite is left out of both lines.
  auto finite_or_zero = [&](std::size_t i) { return std::isfinite(losses[i]) ? losses[i] : 0.0; };
  std::vector<double> smooth(losses.size());
  double sum = 0;
  std::size_t finite = 0;
  for (std::size_t i = 0; i < losses.size(); ++i) {
    sum += finite_or_zero(i);
    finite += std::isfinite(losses[i]) ? 1 : 0;
    if (i >= window) {
      sum -= finite_or_zero(i - window);
      finite -= std::isfinite(losses[i - window]) ? 1 : 0;
    }
    smooth[i] = finite > 0 ? sum / static_cast<double>(finite) : std::nan("");
  }
  // The axis ends at the 99th percentile of the steps' losses, so one bad batch does not flatten
  // the curve (it is drawn clipped at the top).
  std::vector<double> sorted;
  for (double v : losses) {
    if (std::isfinite(v)) sorted.push_back(v);
  }
  std::sort(sorted.begin(), sorted.end());
  double hi = sorted.empty() ? 0 : sorted[(sorted.size() - 1) * 99 / 100];
  for (double v : smooth) {
    if (std::isfinite(v)) hi = std::max(hi, v);
  }
  for (const FinetuneEpoch& e : f.epochs) {
    if (std::isfinite(e.eval_loss)) hi = std::max(hi, e.eval_loss);
  }
  const Ticks y_ticks = nice_ticks(0, hi > 0 ? hi : 1, 5);
  const Ticks x_ticks = nice_ticks(0, static_cast<double>(losses.size()), 8);
  const Scale x{0, x_ticks.hi, plot.left, plot.right};
  const Scale y{y_ticks.lo, y_ticks.hi, plot.bottom, plot.top};
  x_axis(svg, plot, x, x_ticks.values, tick_labels(x_ticks.values, x_ticks.decimals, false));
  y_axis(svg, plot, y, y_ticks.values, y_ticks.decimals);
  x_title(svg, plot, "optimizer step");
  y_title(svg, plot, "cross-entropy loss");
  auto clamp_y = [&](double v) {
    return y(std::isfinite(v) ? std::clamp(v, y_ticks.lo, y_ticks.hi) : y_ticks.hi);
  };
  auto polyline = [&](const std::vector<double>& values) {
    std::string d;
    bool pen_down = false;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values[i])) {
        pen_down = false;
        continue;
      }
      d += (pen_down ? "L" : "M") + coord(x(static_cast<double>(i + 1))) + " " +
           coord(clamp_y(values[i]));
      pen_down = true;
    }
    return d.empty() ? std::string("M0 0") : d;
  };
  if (window > 1) {
    svg.path(polyline(losses), "fill=\"none\" " + fill_attr("stroke", hex(kBlue)) +
                                   " stroke-opacity=\"0.28\" stroke-width=\"1\"");
  }
  svg.path(polyline(smooth), "fill=\"none\" " + fill_attr("stroke", hex(kBlue)) +
                                 " stroke-width=\"2.4\" stroke-linejoin=\"round\"");
  // Each epoch's end: a dashed line, the held-out loss as a dot, the accuracy written above.
  for (const FinetuneEpoch& e : f.epochs) {
    const double ex = x(static_cast<double>(
        std::clamp<std::int64_t>(e.end_step, 0, static_cast<std::int64_t>(losses.size()))));
    svg.line(ex, plot.top, ex, plot.bottom, kAxis, "stroke-dasharray=\"4 4\"");
    svg.open_group();
    svg.circle(ex, clamp_y(e.eval_loss), 6, hex(kVermillion),
               std::string("stroke=\"#ffffff\" stroke-width=\"1.5\""));
    svg.tooltip("epoch " + std::to_string(e.epoch) + ": held-out loss " +
                format_fixed(e.eval_loss, 4) + ", accuracy " + format_fixed(e.eval_accuracy, 4));
    svg.close_group();
    const bool best = e.epoch == f.best_epoch;
    const std::string label = "epoch " + std::to_string(e.epoch) + ": " +
                              format_fixed(e.eval_accuracy, 3) + (best ? " (kept)" : "");
    const double room = std::max(60.0, (plot.right - plot.left) / std::ssize(f.epochs) - 12);
    svg.text(ex - 6, plot.top - 10, fit_text(label, room, 13), "end", best ? "strong" : "",
             text_style(hex(kVermillion)));
  }
  // The legend, top left inside the plot.
  const double lx = plot.left + 14, ly = plot.bottom - 58;
  svg.rect(lx - 8, ly - 14, 400, 68, "#ffffff", "opacity=\"0.85\"");
  svg.line(lx, ly, lx + 26, ly, hex(kBlue), "stroke-width=\"2.4\"");
  svg.text(lx + 34, ly + 4,
           window > 1 ? "training loss, mean of the last " + std::to_string(window) + " steps"
                      : std::string("training loss of each step's batch"),
           "start", "note");
  if (window > 1) {
    svg.line(lx, ly + 20, lx + 26, ly + 20, hex(kBlue), "stroke-opacity=\"0.35\"");
    svg.text(lx + 34, ly + 24, "each step's batch", "start", "note");
  }
  svg.circle(lx + 13, ly + 40, 5, hex(kVermillion));
  svg.text(lx + 34, ly + 44, "held-out loss after the epoch (its accuracy above)", "start", "note");
  return svg.finish();
}

// ---- fig-confusion --------------------------------------------------------------------------

std::string confusion_figure(const Experiment& e, int number) {
  const std::size_t n = e.labels.size();
  const double cell = std::clamp(300.0 / std::max<std::size_t>(n, 1), 34.0, 104.0);
  // Column names run level when they fit their cells, else slanted up at 40 degrees.
  double longest = 0;
  for (const std::string& label : e.labels) {
    longest = std::max(longest, text_width(fit_text(label, 120, 13), 13));
  }
  const bool slanted = longest > cell - 8;
  const double sin40 = 0.643, cos40 = 0.766;
  // Row names to the left: as wide as the longest needs, within reason.
  const double left = std::clamp(longest + 40, 100.0, 164.0);
  const double top = slanted ? 40 + longest * sin40 : 60;
  const double width =
      left + cell * n + 16 + (slanted ? std::max(0.0, longest * cos40 - cell / 2) : 0);
  const double height = top + cell * n + 20;
  Svg svg("fig-confusion-" + std::to_string(number), "fig-confusion", width, height,
          "Confusion matrix on the test rows: " + e.title);
  svg.text(left + cell * n / 2, 16, "predicted label", "middle", "axis-title");
  const double ty = top + cell * n / 2;
  svg.text(14, ty, "true label", "middle", "axis-title",
           "transform=\"rotate(-90 14 " + coord(ty) + ")\"");
  const double font = cell >= 70 ? 18 : 13;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string colour = text_style(hex(category_colour(static_cast<std::int64_t>(i))));
    const double cx = left + cell * (i + 0.5);
    if (slanted) {
      svg.text(cx - 4, top - 10, fit_text(e.labels[i], 120, 13), "start", "strong",
               colour + " transform=\"rotate(-40 " + coord(cx - 4) + " " + coord(top - 10) + ")\"");
    } else {
      svg.text(cx, top - 10, e.labels[i], "middle", "strong", colour);
    }
    svg.text(left - 10, top + cell * (i + 0.5) + 4.5, fit_text(e.labels[i], left - 34, 13), "end",
             "strong", text_style(hex(category_colour(static_cast<std::int64_t>(i)))));
  }
  for (std::size_t t = 0; t < n; ++t) {
    std::int64_t row_total = 0;
    for (std::size_t p = 0; p < n; ++p) row_total += e.confusion[t * n + p];
    for (std::size_t p = 0; p < n; ++p) {
      const std::int64_t count = e.confusion[t * n + p];
      const double share = row_total > 0 ? static_cast<double>(count) / row_total : 0;
      const Rgb fill = sequential_colour(0.08 + 0.92 * share);
      const double cx = left + cell * p, cy = top + cell * t;
      svg.open_group();
      svg.rect(cx, cy, cell, cell, hex(fill), std::string("stroke=\"#ffffff\" stroke-width=\"2\""));
      svg.tooltip("true " + e.labels[t] + ", predicted " + e.labels[p] + ": " + format_int(count) +
                  " (" + format_percent(share) + " of the true " + e.labels[t] + ")");
      svg.close_group();
      const std::string ink = text_colour_on(fill);
      svg.text(cx + cell / 2, cy + cell / 2 + (cell >= 70 ? 2 : 5), format_int(count), "middle",
               "strong", text_style(ink, font));
      if (cell >= 70) {
        svg.text(cx + cell / 2, cy + cell / 2 + 22, format_percent(share), "middle", "small",
                 text_style(ink));
      }
    }
  }
  return svg.finish();
}

// ---- fig-pca --------------------------------------------------------------------------------

std::string pca_figure(const Experiment& e, int number) {
  const double width = 600;
  std::map<std::int64_t, std::int64_t> counts;
  for (const PcaPoint& p : e.pca) {
    if (std::isfinite(p.x) && std::isfinite(p.y)) ++counts[p.label];
  }
  // The legend goes across the top, wrapping onto more lines when the names are long.
  struct Entry {
    std::int64_t label;
    std::string name;
    double x, y;
  };
  std::vector<Entry> legend;
  double lx = 70, ly = 22;
  for (const auto& [label, count] : counts) {
    const std::string name =
        fit_text(static_cast<std::size_t>(label) < e.labels.size() ? e.labels[label]
                                                                   : std::to_string(label),
                 width - 200, 13) +
        " (" + format_int(count) + ")";
    const double w = text_width(name, 13) + 17;
    if (lx + w > width - 10 && lx > 70) lx = 70, ly += 22;
    legend.push_back({label, name, lx, ly});
    lx += w + 26;
  }
  const double top = ly + 22, height = top + 396;
  const Plot plot{70, top, width - 20, height - 64};
  Svg svg("fig-pca-" + std::to_string(number), "fig-pca", width, height,
          "Training features on their first two principal components: " + e.title);
  double x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  bool any = false;
  for (const PcaPoint& p : e.pca) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
    if (!any) x0 = x1 = p.x, y0 = y1 = p.y, any = true;
    x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  }
  const Ticks xt = nice_ticks(x0, x1, 6), yt = nice_ticks(y0, y1, 5);
  const Scale x{xt.lo, xt.hi, plot.left, plot.right}, y{yt.lo, yt.hi, plot.bottom, plot.top};
  x_axis(svg, plot, x, xt.values, tick_labels(xt.values, xt.decimals, false));
  y_axis(svg, plot, y, yt.values, yt.decimals);
  auto variance = [&](std::size_t k) {
    return e.pca_variance.size() > k ? " (" + format_percent(e.pca_variance[k]) + " of variance)"
                                     : std::string();
  };
  x_title(svg, plot, "first principal component" + variance(0));
  y_title(svg, plot, "second principal component" + variance(1));
  // One path per class of zero-length round-capped segments: a dot per point in ~14 bytes.
  std::map<std::int64_t, std::string> paths;
  for (const PcaPoint& p : e.pca) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
    paths[p.label] += "M" + coord(x(p.x)) + " " + coord(y(p.y)) + "h0";
  }
  // Fewer points, bigger dots.
  const double dot = e.pca.size() > 3000 ? 4 : e.pca.size() > 800 ? 5.5 : 7;
  for (const auto& [label, d] : paths) {
    svg.path(d, "fill=\"none\" " + fill_attr("stroke", hex(category_colour(label))) +
                    " stroke-opacity=\"0.55\" stroke-linecap=\"round\" stroke-width=\"" +
                    coord(dot) + "\"");
  }
  for (const Entry& entry : legend) {
    svg.circle(entry.x + 6, entry.y, 6, hex(category_colour(entry.label)));
    svg.text(entry.x + 17, entry.y + 4.5, entry.name, "start");
  }
  return svg.finish();
}

// ---- tables ---------------------------------------------------------------------------------

namespace {

std::string chip(const Experiment& e, const std::string& label) {
  const auto it = std::find(e.labels.begin(), e.labels.end(), label);
  const std::int64_t index = it == e.labels.end() ? -1 : it - e.labels.begin();
  const std::string colour = index < 0 ? "#6e7781" : hex(category_colour(index));
  return "<span class=\"chip\" style=\"background:" + colour + "\">" + escape_html(label) +
         "</span>";
}

}  // namespace

std::string class_table(const Experiment& e) {
  std::string html =
      "<div class=\"table-scroll\"><table "
      "class=\"metrics\"><thead><tr><th>class</th><th>precision</th><th>recall</th>"
      "<th>F1</th><th>rows</th></tr></thead><tbody>";
  for (const ClassScores& c : e.per_class) {
    html += "<tr><td>" + chip(e, c.label) + "</td><td>" + format_fixed(c.precision, 3) +
            "</td><td>" + format_fixed(c.recall, 3) + "</td><td>" + format_fixed(c.f1, 3) +
            "</td><td>" + format_int(c.support) + "</td></tr>";
  }
  html += "</tbody><tfoot><tr><td>accuracy</td><td colspan=\"3\">" + format_fixed(e.accuracy, 3) +
          "</td><td>" + format_int(e.test_rows) +
          "</td></tr><tr><td>macro F1</td><td colspan=\"3\">" + format_fixed(e.macro_f1, 3) +
          "</td><td></td></tr></tfoot></table></div>";
  return html;
}

std::string mistakes_table(const Experiment& e, int number) {
  const std::string id = "table-mistakes-" + std::to_string(number);
  if (e.mistakes.empty()) {
    return "<p class=\"figure-table\" id=\"" + id +
           "\" data-figure=\"table-mistakes\">The classifier got every test sentence right.</p>";
  }
  std::string html = "<div class=\"table-scroll\"><table class=\"mistakes figure-table\" id=\"" +
                     id +
                     "\" data-figure=\"table-mistakes\"><thead><tr><th>#</th><th>sentence</th>"
                     "<th>true</th><th>predicted</th><th>probability</th>"
                     "</tr></thead><tbody>";
  for (std::size_t i = 0; i < e.mistakes.size(); ++i) {
    const Mistake& m = e.mistakes[i];
    const double p = std::isfinite(m.probability) ? std::clamp(m.probability, 0.0, 1.0) : 0.0;
    html += "<tr><td class=\"rank\">" + std::to_string(i + 1) + "</td><td class=\"sentence\">" +
            escape_html(m.sentence) + "</td><td>" + chip(e, m.truth) + "</td><td>" +
            chip(e, m.predicted) + "</td><td class=\"probability\"><span class=\"bar\"><span " +
            "style=\"width:" + format_fixed(100 * p, 1) + "%\"></span></span>" +
            format_fixed(m.probability, 3) + "</td></tr>";
  }
  return html + "</tbody></table></div>";
}

}  // namespace bertlite::report
