// fuzz/feature_cache_fuzz.cpp - fuzz target: arbitrary bytes as a feature-cache entry, the two
// files `bertlite guide` and `train` leave in $BERTLITE_CACHE/features (KEY.json, KEY.npy) and
// read back instead of running the encoder.
//
// Input: a flags byte, then KEY.json's text, 0xFF, KEY.npy's bytes. Flag bit 0: the harness
// writes the right "checksum" into a .json that parses as an object (when the .npy reads), so
// the fuzzer gets past the checksum to the fields behind it; without it, the checksum as given.
// Bit 1: no .npy at all.
//
// What must hold (a violation traps, see fuzz_checks.h):
//   - FeatureCache::load never throws and never crashes: a damaged entry is a miss (nullopt);
//   - an entry it returns has rows * cols values, rows and cols non-negative, no more values
//     than the .npy had bytes for, and its values' checksum is the one the .json recorded;
//   - storing what it returned under another key and loading that gives the same entry back.
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "bertlite/error.h"
#include "fuzz_checks.h"
#include "io/npy.h"
#include "model/feature_cache.h"
#include "util/file.h"

namespace bertlite::fuzz {
namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef";

void run(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const unsigned flags = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t split = std::min(rest.find('\xFF'), rest.size());
  std::string meta(rest.substr(0, split));
  const std::string_view npy = split < rest.size() ? rest.substr(split + 1) : std::string_view();

  remove_scratch_file("cache");
  const auto folder = scratch_folder() / "cache";
  if (!(flags & 2)) write_scratch_file("cache/" + kKey + ".npy", npy);
  if (flags & 1) {
    try {
      nlohmann::json info = nlohmann::json::parse(meta);
      const io::NpyMatrix matrix = io::read_npy(folder / (kKey + ".npy"));
      if (info.is_object()) {
        info["checksum"] = model::feature_checksum(matrix.data);
        meta = info.dump();
      }
    } catch (const std::exception&) {
      // Left as given: the loader must cope with it.
    }
  }
  write_scratch_file("cache/" + kKey + ".json", meta);

  const model::FeatureCache cache(folder);
  const std::optional<model::Features> entry = cache.load(kKey);
  trace(entry ? "entry found" : "entry missing");
  if (!entry) return;
  FUZZ_CHECK(!(flags & 2));
  FUZZ_CHECK(entry->rows >= 0 && entry->cols >= 0);
  FUZZ_CHECK(entry->data.size() ==
             static_cast<std::size_t>(entry->rows) * static_cast<std::size_t>(entry->cols));
  FUZZ_CHECK(entry->data.size() <= npy.size() / 4);
  FUZZ_CHECK(nlohmann::json::parse(meta).at("checksum") == model::feature_checksum(entry->data));

  const std::string other = "fedcba9876543210fedcba9876543210";
  cache.store(other, *entry);
  const std::optional<model::Features> again = cache.load(other);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->rows == entry->rows && again->cols == entry->cols);
  FUZZ_CHECK(again->data.size() == entry->data.size());
  FUZZ_CHECK(entry->data.empty() || std::memcmp(again->data.data(), entry->data.data(),
                                                entry->data.size() * sizeof(float)) == 0);
  FUZZ_CHECK(again->tokens == entry->tokens && again->truncated == entry->truncated);
  FUZZ_CHECK(again->pooling == entry->pooling && again->normalize == entry->normalize);
  FUZZ_CHECK(again->max_length == entry->max_length && again->stride == entry->stride);
}

}  // namespace
}  // namespace bertlite::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return bertlite::fuzz::run_guarded(bertlite::fuzz::run, data, size);
}
