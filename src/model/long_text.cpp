// model/long_text.cpp - see long_text.h.
#include "model/long_text.h"

#include <algorithm>

#include "bertlite/error.h"
#include "kernels/rows.h"

namespace bertlite::model {
namespace {

// The special tokens the template put before and after the text: [lead, size - trail) is the
// text's own tokens.
struct Frame {
  std::size_t lead = 0;
  std::size_t trail = 0;
};

Frame frame_of(const Encoding& full) {
  const std::vector<std::int32_t>& special = full.special_tokens_mask;
  if (special.size() != full.size()) {
    throw InvalidArgument("an encoding without its special-tokens mask cannot be windowed");
  }
  Frame frame;
  while (frame.lead < special.size() && special[frame.lead] != 0) ++frame.lead;
  while (frame.trail < special.size() - frame.lead &&
         special[special.size() - 1 - frame.trail] != 0) {
    ++frame.trail;
  }
  return frame;
}

}  // namespace

LongText parse_long_text(std::string_view name) {
  if (name == "truncate") return LongText::kTruncate;
  if (name == "window") return LongText::kWindow;
  if (name == "error") return LongText::kError;
  throw InvalidArgument("unknown long-text mode '" + std::string(name) +
                        "' (truncate, window or error)");
}

std::string_view long_text_name(LongText mode) {
  switch (mode) {
    case LongText::kTruncate:
      return "truncate";
    case LongText::kWindow:
      return "window";
    case LongText::kError:
      return "error";
  }
  return "truncate";
}

WindowPooling parse_window_pooling(std::string_view name) {
  if (name == "mean") return WindowPooling::kMean;
  if (name == "max") return WindowPooling::kMax;
  if (name == "weighted") return WindowPooling::kWeighted;
  throw InvalidArgument("unknown window pooling '" + std::string(name) +
                        "' (mean, max or weighted)");
}

std::string_view window_pooling_name(WindowPooling pooling) {
  switch (pooling) {
    case WindowPooling::kMean:
      return "mean";
    case WindowPooling::kMax:
      return "max";
    case WindowPooling::kWeighted:
      return "weighted";
  }
  return "mean";
}

std::size_t default_stride(std::size_t max_length, std::size_t special_tokens) {
  return max_length > special_tokens ? (max_length - special_tokens) / 4 : 0;
}

std::vector<Window> plan_windows(const Encoding& full, std::size_t max_length, std::size_t stride) {
  const Frame frame = frame_of(full);
  const std::size_t specials = frame.lead + frame.trail;
  const std::size_t content_end = full.size() - frame.trail;
  const auto window_at = [&](std::size_t begin, std::size_t end) {
    Window w{begin, end, 0, 0};
    if (end > begin) {
      w.byte_begin = full.offsets[begin].begin;
      w.byte_end = full.offsets[end - 1].end;
    }
    return w;
  };
  if (full.size() <= max_length) return {window_at(frame.lead, content_end)};

  if (max_length <= specials) {
    throw InvalidArgument("max length " + std::to_string(max_length) +
                          " leaves no room for text between the special tokens");
  }
  const std::size_t width = max_length - specials;
  if (stride >= width) {
    throw InvalidArgument("stride " + std::to_string(stride) + " must be less than a window's " +
                          std::to_string(width) + " text tokens");
  }
  const std::size_t step = width - stride;
  std::vector<Window> windows;
  for (std::size_t begin = frame.lead;; begin += step) {
    const std::size_t end = std::min(begin + width, content_end);
    windows.push_back(window_at(begin, end));
    if (end == content_end) break;
  }
  return windows;
}

Encoding window_encoding(const Encoding& full, const Window& window) {
  const Frame frame = frame_of(full);
  Encoding out;
  const auto append = [&](std::size_t begin, std::size_t end) {
    const auto b = static_cast<std::ptrdiff_t>(begin), e = static_cast<std::ptrdiff_t>(end);
    out.ids.insert(out.ids.end(), full.ids.begin() + b, full.ids.begin() + e);
    out.type_ids.insert(out.type_ids.end(), full.type_ids.begin() + b, full.type_ids.begin() + e);
    out.attention_mask.insert(out.attention_mask.end(), full.attention_mask.begin() + b,
                              full.attention_mask.begin() + e);
    out.special_tokens_mask.insert(out.special_tokens_mask.end(),
                                   full.special_tokens_mask.begin() + b,
                                   full.special_tokens_mask.begin() + e);
    out.offsets.insert(out.offsets.end(), full.offsets.begin() + b, full.offsets.begin() + e);
  };
  append(0, frame.lead);
  append(window.begin, window.end);
  append(full.size() - frame.trail, full.size());
  return out;
}

Sequences split_long_texts(std::vector<Encoding> encodings, std::size_t max_length, LongText mode,
                           std::size_t stride,
                           const std::function<std::string(std::size_t)>& row_name) {
  Sequences out;
  out.encodings.reserve(encodings.size());
  out.windows.reserve(encodings.size());
  out.first.reserve(encodings.size() + 1);
  for (std::size_t i = 0; i < encodings.size(); ++i) {
    Encoding& e = encodings[i];
    out.first.push_back(out.encodings.size());
    if (e.size() > max_length && mode == LongText::kWindow) {
      const std::vector<Window> windows = plan_windows(e, max_length, stride);
      out.windowed += windows.size() > 1;
      for (const Window& w : windows) {
        out.encodings.push_back(window_encoding(e, w));
        out.windows.push_back(w);
      }
      continue;
    }
    if (e.size() > max_length) {
      throw InvalidArgument(row_name(i) + ": " + std::to_string(e.size()) +
                            " tokens, more than the limit of " + std::to_string(max_length) +
                            " (--long-text error; truncate or window read it)");
    }
    out.truncated += e.truncated > 0;
    out.windows.push_back(plan_windows(e, e.size(), 0).front());
    out.encodings.push_back(std::move(e));
  }
  out.first.push_back(out.encodings.size());
  for (const Encoding& e : out.encodings) out.tokens += static_cast<std::int64_t>(e.size());
  return out;
}

std::vector<double> average_windows(std::span<const double> rows, std::size_t k,
                                    std::span<const std::size_t> first) {
  const std::size_t texts = first.empty() ? 0 : first.size() - 1;
  std::vector<double> out(texts * k, 0.0);
  for (std::size_t i = 0; i < texts; ++i) {
    const std::size_t count = first[i + 1] - first[i];
    for (std::size_t w = first[i]; w < first[i + 1]; ++w) {
      for (std::size_t c = 0; c < k; ++c) out[i * k + c] += rows[w * k + c];
    }
    for (std::size_t c = 0; c < k && count > 0; ++c) out[i * k + c] /= static_cast<double>(count);
  }
  return out;
}

void pool_windows(std::span<const float> windows, std::size_t dim, WindowPooling pooling,
                  std::span<const std::size_t> weights, std::span<float> out) {
  const std::size_t count = dim > 0 ? windows.size() / dim : 0;
  if (count == 0 || out.size() != dim) throw InvalidArgument("pool_windows: no windows");
  if (pooling == WindowPooling::kWeighted && weights.size() != count) {
    throw InvalidArgument("pool_windows: one weight per window is needed");
  }
  // Sums in double: a 10,000-word document has dozens of windows.
  std::vector<double> sum(dim, 0.0);
  double total_weight = 0;
  for (std::size_t w = 0; w < count; ++w) {
    const float* row = windows.data() + w * dim;
    if (pooling == WindowPooling::kMax) {
      for (std::size_t d = 0; d < dim; ++d) out[d] = w == 0 ? row[d] : std::max(out[d], row[d]);
      continue;
    }
    const double weight =
        pooling == WindowPooling::kWeighted ? static_cast<double>(weights[w]) : 1.0;
    for (std::size_t d = 0; d < dim; ++d) sum[d] += weight * row[d];
    total_weight += weight;
  }
  if (pooling == WindowPooling::kMax) return;
  if (total_weight <= 0) total_weight = 1;  // only empty windows: their plain sum, zero
  for (std::size_t d = 0; d < dim; ++d) out[d] = static_cast<float>(sum[d] / total_weight);
}

void pool_texts(std::span<const float> rows, std::size_t dim, std::span<const std::size_t> first,
                std::span<const Window> windows, WindowPooling pooling, bool normalize,
                std::span<float> out) {
  std::vector<std::size_t> weights;
  for (std::size_t i = 0; i + 1 < first.size(); ++i) {
    const std::size_t s0 = first[i], s1 = first[i + 1];
    const std::span<float> text = out.subspan(i * dim, dim);
    if (s1 - s0 == 1) {
      std::copy_n(rows.data() + s0 * dim, dim, text.data());
      continue;
    }
    weights.clear();
    for (std::size_t s = s0; s < s1; ++s) weights.push_back(windows[s].content_tokens());
    pool_windows(rows.subspan(s0 * dim, (s1 - s0) * dim), dim, pooling, weights, text);
    if (normalize) {
      kernels::l2_normalize_rows(text.data(), text.data(), 1, static_cast<std::int64_t>(dim));
    }
  }
}

}  // namespace bertlite::model
