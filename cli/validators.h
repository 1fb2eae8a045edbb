// cli/validators.h - option checks whose failure reads as one plain sentence ("--batch-tokens:
// must be a positive number, got 0"), unlike CLI11's numeric range messages.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace bertlite::cli {

// Accepts numbers > 0 (or >= 0 with allow_zero).
inline CLI::Validator number_above_zero(bool allow_zero = false) {
  return CLI::Validator(
      [allow_zero](std::string& value) -> std::string {
        double number = 0;
        std::size_t used = 0;
        try {
          number = std::stod(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        const bool ok = used == value.size() && (allow_zero ? number >= 0 : number > 0);
        if (ok) return {};
        return std::string("must be a ") + (allow_zero ? "non-negative" : "positive") +
               " number, got " + value;
      },
      allow_zero ? "NUMBER >= 0" : "NUMBER > 0");
}

}  // namespace bertlite::cli
