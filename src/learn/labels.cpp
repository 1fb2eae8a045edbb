// learn/labels.cpp - sorting and coding text labels (see labels.h).
#include "learn/labels.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "bertlite/error.h"

namespace bertlite::learn {
namespace {

bool parse_integer(const std::string& text, std::int64_t& value) {
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (begin != end && *begin == '+') ++begin;  // int("+1") parses; from_chars does not
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  return ec == std::errc() && ptr == end && begin != end;
}

}  // namespace

EncodedLabels encode_labels(std::span<const std::string> labels) {
  EncodedLabels out;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i].empty()) {
      throw InvalidArgument("labels: row " + std::to_string(i + 1) + " has an empty label");
    }
  }
  std::vector<std::int64_t> numbers(labels.size());
  out.numeric = !labels.empty();
  for (std::size_t i = 0; i < labels.size() && out.numeric; ++i) {
    out.numeric = parse_integer(labels[i], numbers[i]);
  }
  out.codes.resize(labels.size());
  if (out.numeric) {
    // Distinct values; a label's name is the first spelling seen ("1" for "1" and "+1").
    std::map<std::int64_t, std::string> distinct;
    for (std::size_t i = 0; i < labels.size(); ++i) distinct.emplace(numbers[i], labels[i]);
    std::vector<std::int64_t> values;
    for (const auto& [value, name] : distinct) {
      values.push_back(value);
      out.names.push_back(name);
    }
    for (std::size_t i = 0; i < labels.size(); ++i) {
      out.codes[i] = std::lower_bound(values.begin(), values.end(), numbers[i]) - values.begin();
    }
  } else {
    out.names.assign(labels.begin(), labels.end());
    std::sort(out.names.begin(), out.names.end());  // byte order = code point order in UTF-8
    out.names.erase(std::unique(out.names.begin(), out.names.end()), out.names.end());
    for (std::size_t i = 0; i < labels.size(); ++i) {
      out.codes[i] =
          std::lower_bound(out.names.begin(), out.names.end(), labels[i]) - out.names.begin();
    }
  }
  return out;
}

}  // namespace bertlite::learn
