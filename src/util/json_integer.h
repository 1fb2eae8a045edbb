// util/json_integer.h - integers read from JSON files bertlite wrote (feature-cache entries,
// fine-tuning checkpoints), strictly.
//
// nlohmann's get<std::int64_t>() also accepts a JSON float and converts it with a cast, which
// is undefined behaviour when the value does not fit: an integer literal too long for 64 bits
// (92233720368547758070) parses as the float 9.2e19 (feature_cache_fuzz, UBSan). A damaged file
// must be an error the caller can act on, never undefined behaviour.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "bertlite/error.h"

namespace bertlite::util {

// document[name] as an Int; throws ParseError naming `source` (the file) and the field unless it
// is a JSON integer that Int holds (and nlohmann's out_of_range if the field is missing, like
// json::at).
template <typename Int>
Int json_integer(const nlohmann::json& document, const char* name, const std::string& source) {
  const nlohmann::json& value = document.at(name);
  if (value.is_number_unsigned()) {
    const std::uint64_t u = value.get<std::uint64_t>();
    if (std::in_range<Int>(u)) return static_cast<Int>(u);
  } else if (value.is_number_integer()) {
    const std::int64_t i = value.get<std::int64_t>();
    if (std::in_range<Int>(i)) return static_cast<Int>(i);
  }
  throw ParseError(source + ": " + name + ": expected an integer in range, found " + value.dump());
}

// The same for an optional field: `fallback` when it is absent.
template <typename Int>
Int json_integer_or(const nlohmann::json& document, const char* name, Int fallback,
                    const std::string& source) {
  return document.contains(name) ? json_integer<Int>(document, name, source) : fallback;
}

}  // namespace bertlite::util
