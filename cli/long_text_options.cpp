// cli/long_text_options.cpp - see long_text_options.h.
#include "long_text_options.h"

namespace bertlite::cli {

void add_long_text_options(CLI::App& cmd, LongTextOptions& options) {
  cmd.add_option("--long-text", options.mode,
                 "Inputs longer than --max-length: truncate (keep the first tokens, counted), "
                 "window (overlapping windows of the maximum length, each encoded with its own "
                 "[CLS]/[SEP]; features pooled over windows, predictions averaged), or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"truncate", "window", "error"}));
  cmd.add_option("--stride", options.stride,
                 "With --long-text window: tokens shared by consecutive windows (default: a "
                 "quarter of a window)");
  cmd.add_option("--window-pooling", options.window_pooling,
                 "With --long-text window: how window features combine: mean, max, or weighted "
                 "(the mean weighted by each window's tokens)")
      ->capture_default_str()
      ->check(CLI::IsMember({"mean", "max", "weighted"}));
}

void apply_long_text_options(const LongTextOptions& options, model::FeatureOptions& features) {
  features.long_text = model::parse_long_text(options.mode);
  features.stride = options.stride;
  features.window_pooling = model::parse_window_pooling(options.window_pooling);
}

}  // namespace bertlite::cli
