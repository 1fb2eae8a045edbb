// cli/long_text_options.h - the options shared by commands that encode texts which may be longer
// than the model: --long-text truncate|window|error, --stride, --window-pooling.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <optional>
#include <string>

#include "model/features.h"

namespace bertlite::cli {

struct LongTextOptions {
  std::string mode = "truncate";
  std::optional<std::size_t> stride;  // unset: model::default_stride
  std::string window_pooling = "mean";
};

void add_long_text_options(CLI::App& cmd, LongTextOptions& options);

// Sets features' long_text, stride and window_pooling from the options.
void apply_long_text_options(const LongTextOptions& options, model::FeatureOptions& features);

}  // namespace bertlite::cli
