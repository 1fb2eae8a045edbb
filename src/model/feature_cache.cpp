// model/feature_cache.cpp - see feature_cache.h.
#include "model/feature_cache.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <span>
#include <system_error>

#include "bertlite/error.h"
#include "io/npy.h"
#include "util/file.h"
#include "util/json_integer.h"

namespace bertlite::model {
namespace {

namespace fs = std::filesystem;

// Bump when the meaning of cached numbers changes (a kernel change that moves results counts).
constexpr int kCacheFormat = 1;

// FNV-1a, 64-bit, run twice with different offsets for a 128-bit key: collisions are not a
// practical concern for a cache of a few feature files, and it needs no dependency.
struct Hasher {
  std::uint64_t a = 14695981039346656037ull;
  std::uint64_t b = 1099511628211ull * 31 + 7;
  static constexpr std::uint64_t kPrime = 1099511628211ull;
  void mix(const unsigned char* bytes, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
      a = (a ^ bytes[i]) * kPrime;
      b = (b ^ bytes[i]) * kPrime;
    }
  }
  // A text, then a separator that no text contains, so ("ab", "c") and ("a", "bc") differ.
  void add(std::string_view text) {
    mix(reinterpret_cast<const unsigned char*>(text.data()), text.size());
    a = (a ^ 0xFF) * kPrime;
    b = (b ^ 0xFE) * kPrime;
  }
  // A float matrix's bytes, as they are in memory (the cache is only read on the machine that
  // wrote it, so byte order is not a concern).
  void add_floats(std::span<const float> values) {
    mix(reinterpret_cast<const unsigned char*>(values.data()), values.size_bytes());
  }
  std::string hex() const {
    char out[33];
    std::snprintf(out, sizeof out, "%016llx%016llx", static_cast<unsigned long long>(a),
                  static_cast<unsigned long long>(b));
    return out;
  }
};

std::string model_identity(const fs::path& folder) {
  std::error_code error;
  std::string id = fs::weakly_canonical(folder, error).string();
  id += '\n';
  id += util::read_file(folder / "config.json");
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".safetensors") || name.ends_with(".bin") || name.ends_with(".json")) {
      const auto size = fs::file_size(entry.path(), error);
      const auto time = fs::last_write_time(entry.path(), error).time_since_epoch().count();
      files.push_back(name + ' ' + std::to_string(size) + ' ' + std::to_string(time));
    }
  }
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) id += '\n' + f;
  return id;
}

}  // namespace

std::string feature_checksum(std::span<const float> values) {
  Hasher h;
  h.add_floats(values);
  return h.hex();
}

fs::path default_feature_cache_dir() {
  if (const char* dir = std::getenv("BERTLITE_CACHE"); dir && *dir)
    return fs::path(dir) / "features";
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    return fs::path(xdg) / "bertlite" / "features";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return fs::path(home) / ".cache" / "bertlite" / "features";
  }
  return {};
}

FeatureCache::FeatureCache(fs::path dir) : dir_(std::move(dir)) {}

std::string FeatureCache::key(const FeatureExtractor& extractor, io::Pooling pooling,
                              const FeatureOptions& options,
                              std::span<const std::string> texts) const {
  Hasher h;
  h.add("bertlite features " + std::to_string(kCacheFormat));
  h.add(model_identity(extractor.folder()));
  h.add(io::pooling_name(pooling));
  h.add(kernels::precision_name(extractor.encoder().precision()));
  h.add(options.normalize.value_or(false) ? "normalized" : "raw");
  // Truncation and errors keep the keys they had before windows existed.
  std::string long_text = options.long_text == LongText::kError ? " strict" : " truncate";
  if (options.long_text == LongText::kWindow) {
    // The options are resolved (extract_cached), so the stride is set.
    long_text = " window " + std::to_string(options.stride.value_or(0)) + " " +
                std::string(window_pooling_name(options.window_pooling));
  }
  h.add(std::to_string(options.max_length) + long_text);
  for (const std::string& text : texts) h.add(text);
  return h.hex();
}

std::optional<Features> FeatureCache::load(const std::string& key) const {
  if (!enabled()) return std::nullopt;
  const fs::path npy = dir_ / (key + ".npy"), meta = dir_ / (key + ".json");
  std::error_code error;
  if (!fs::exists(npy, error) || !fs::exists(meta, error)) return std::nullopt;
  try {
    const nlohmann::json info = nlohmann::json::parse(util::read_file(meta));
    io::NpyMatrix matrix = io::read_npy(npy);
    Features f;
    f.rows = util::json_integer<std::int64_t>(info, "rows", meta.string());
    f.cols = util::json_integer<std::int64_t>(info, "cols", meta.string());
    if (matrix.rows != f.rows || matrix.cols != f.cols) return std::nullopt;
    // Entries written before checksums existed have none: recomputed like damaged ones.
    if (info.at("checksum").get<std::string>() != feature_checksum(matrix.data))
      return std::nullopt;
    f.data = std::move(matrix.data);
    f.tokens = util::json_integer<std::int64_t>(info, "tokens", meta.string());
    f.truncated = util::json_integer<std::int64_t>(info, "truncated", meta.string());
    f.pooling = io::parse_pooling(info.at("pooling").get<std::string>());
    f.normalize = info.at("normalize").get<bool>();
    f.max_length = util::json_integer<std::size_t>(info, "max_length", meta.string());
    f.windowed = util::json_integer_or(info, "windowed", std::int64_t{0}, meta.string());
    f.long_text = parse_long_text(info.value("long_text", std::string("truncate")));
    f.stride = util::json_integer_or(info, "stride", std::size_t{0}, meta.string());
    return f;
  } catch (const std::exception&) {
    return std::nullopt;  // damaged or from another version: recompute
  }
}

void FeatureCache::store(const std::string& key, const Features& f) const {
  if (!enabled()) return;
  std::error_code error;
  fs::create_directories(dir_, error);
  if (error) throw IoError(dir_.string() + ": cannot create the feature cache: " + error.message());
  // The matrix first: an entry is only found once its .json exists.
  io::write_npy(dir_ / (key + ".npy"), f.data, f.rows, f.cols);
  nlohmann::json info = {{"format", kCacheFormat},   {"rows", f.rows},
                         {"cols", f.cols},           {"tokens", f.tokens},
                         {"truncated", f.truncated}, {"pooling", io::pooling_name(f.pooling)},
                         {"normalize", f.normalize}, {"max_length", f.max_length}};
  info["windowed"] = f.windowed;
  info["long_text"] = long_text_name(f.long_text);
  info["stride"] = f.stride;
  info["checksum"] = feature_checksum(f.data);
  util::write_file_atomic(dir_ / (key + ".json"), info.dump(1) + "\n");
}

std::vector<Features> extract_cached(const FeatureExtractor& extractor, const FeatureCache& cache,
                                     std::span<const std::string> texts,
                                     std::span<const io::Pooling> poolings,
                                     const FeatureOptions& requested,
                                     const ProgressCallback& progress, int* hits) {
  const FeatureOptions options = extractor.resolve(requested);
  // Entries hold the texts' features only, not every window's.
  if (options.keep_windows) {
    if (hits) *hits = 0;
    return extractor.extract(texts, poolings, options, progress);
  }
  std::vector<Features> results(poolings.size());
  std::vector<std::string> keys(poolings.size());
  std::vector<io::Pooling> missing;
  std::vector<std::size_t> missing_index;
  int found = 0;
  for (std::size_t k = 0; k < poolings.size(); ++k) {
    keys[k] = cache.key(extractor, poolings[k], options, texts);
    if (std::optional<Features> cached = cache.load(keys[k])) {
      results[k] = std::move(*cached);
      ++found;
    } else {
      missing.push_back(poolings[k]);
      missing_index.push_back(k);
    }
  }
  if (hits) *hits = found;
  if (missing.empty()) {
    if (progress) progress(static_cast<std::int64_t>(texts.size()));
    return results;
  }
  std::vector<Features> computed = extractor.extract(texts, missing, options, progress);
  for (std::size_t m = 0; m < missing.size(); ++m) {
    cache.store(keys[missing_index[m]], computed[m]);
    results[missing_index[m]] = std::move(computed[m]);
  }
  return results;
}

}  // namespace bertlite::model
