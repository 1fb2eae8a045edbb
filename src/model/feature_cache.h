// model/feature_cache.h - features kept on disk, so running the same model over the same
// sentences twice (a second `bertlite guide`, `train` after `guide`) skips the encoder.
//
// An entry is keyed by everything its numbers depend on: the model (folder, config.json, and the
// size and modification time of each weight file), pooling, normalization, max length, a
// cache-format version, and every text in order. Entries are two files written atomically:
// KEY.npy (the matrix) and KEY.json (what it is, with a checksum of the matrix). A damaged,
// truncated or half-written entry counts as missing and is recomputed.
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/features.h"

namespace bertlite::model {

// $BERTLITE_CACHE, else $XDG_CACHE_HOME/bertlite, else ~/.cache/bertlite; then "features".
std::filesystem::path default_feature_cache_dir();

// What an entry's .json records of its matrix ("checksum"), so a .npy damaged after it was
// written (a disk error, a truncating copy, a hand edit) is recomputed, not read as features.
// 32 hex digits; not cryptographic: it guards against accidents, not against an attacker who
// can write the cache folder.
std::string feature_checksum(std::span<const float> values);

class FeatureCache {
 public:
  // An empty `dir` disables the cache: nothing is found, nothing stored.
  explicit FeatureCache(std::filesystem::path dir = default_feature_cache_dir());

  const std::filesystem::path& dir() const { return dir_; }
  bool enabled() const { return !dir_.empty(); }

  // `options` as resolved by FeatureExtractor::resolve.
  std::string key(const FeatureExtractor& extractor, io::Pooling pooling,
                  const FeatureOptions& options, std::span<const std::string> texts) const;
  std::optional<Features> load(const std::string& key) const;
  // Throws IoError if the folder cannot be written.
  void store(const std::string& key, const Features& features) const;

 private:
  std::filesystem::path dir_;
};

// Features for each pooling, from the cache where present; one encoder pass computes the rest
// (and stores them). `hits` (optional) receives how many poolings came from the cache.
std::vector<Features> extract_cached(const FeatureExtractor& extractor, const FeatureCache& cache,
                                     std::span<const std::string> texts,
                                     std::span<const io::Pooling> poolings,
                                     const FeatureOptions& options,
                                     const ProgressCallback& progress = {}, int* hits = nullptr);

}  // namespace bertlite::model
