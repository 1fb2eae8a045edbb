// tests/learn/learn_test_helpers.h - the scikit-learn goldens (tools/make_learn_goldens.py),
// their data sets, comparison helpers, temporary folders and error assertions.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "io/npy.h"
#include "learn/matrix.h"
#include "test_support.h"
#include "util/file.h"

namespace bertlite::test {

namespace fs = std::filesystem;

inline fs::path learn_data(const std::string& name) {
  return fs::path(BERTLITE_TEST_DATA) / "learn" / name;
}

inline const nlohmann::json& goldens() {
  static const nlohmann::json doc =
      nlohmann::json::parse(util::read_file(learn_data("goldens.json")));
  return doc;
}

// A golden data set: features, labels, and scikit-learn's train/test rows.
struct Dataset {
  learn::Matrix x;
  std::vector<std::int64_t> y;
  std::vector<std::int64_t> train, test;
  learn::Matrix train_x, test_x;
  std::vector<std::int64_t> train_y, test_y;
};

inline const Dataset& dataset(const std::string& name) {
  static std::map<std::string, Dataset> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  const nlohmann::json& entry = goldens()["datasets"][name];
  Dataset d;
  io::NpyMatrix m = io::read_npy(learn_data(entry["x"].get<std::string>()));
  d.x = {std::move(m.data), m.rows, m.cols};
  d.y = entry["y"].get<std::vector<std::int64_t>>();
  d.train = entry["train"].get<std::vector<std::int64_t>>();
  d.test = entry["test"].get<std::vector<std::int64_t>>();
  d.train_x = learn::take_rows(d.x.view(), d.train);
  d.test_x = learn::take_rows(d.x.view(), d.test);
  d.train_y = learn::take(d.y, d.train);
  d.test_y = learn::take(d.y, d.test);
  return cache.emplace(name, std::move(d)).first->second;
}

// Row-major flattening of a JSON array of arrays (or copy of a flat array) of numbers.
inline std::vector<double> flat(const nlohmann::json& values) {
  std::vector<double> out;
  for (const auto& v : values) {
    if (v.is_array()) {
      for (const auto& w : v) out.push_back(w.get<double>());
    } else {
      out.push_back(v.get<double>());
    }
  }
  return out;
}

// max |a - b| / max |b|: a scale-free error.
inline double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

inline double max_abs_error(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
  }
  return diff;
}

}  // namespace bertlite::test
