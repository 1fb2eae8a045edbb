#include "text/vocab.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "bertlite/error.h"
#include "text/unicode.h"
#include "util/file.h"

namespace bertlite::text {
void TokenTable::build(const std::vector<std::pair<std::string_view, std::int32_t>>& entries) {
  std::size_t short_count = 0;
  for (const auto& entry : entries) short_count += is_short(entry.first);
  // Load factor at most 1/2 keeps probe sequences short, and always leaves an empty slot to
  // end a probe.
  auto capacity_for = [](std::size_t count) {
    return std::bit_ceil(std::max<std::size_t>(16, count * 2));
  };
  buckets_.assign(capacity_for(short_count) / kSlotsPerBucket, ShortBucket{});
  bucket_mask_ = buckets_.size() - 1;
  filter_.assign((std::size_t{1} << kFilterBitsLog2) / 64, 0);
  other_slots_.assign(capacity_for(entries.size() - short_count), OtherSlot{});
  other_mask_ = other_slots_.size() - 1;
  arena_.clear();
  for (const auto& [key, id] : entries) {
    if (is_short(key)) {
      const ShortKey short_key = ShortKey::load_unpadded(key);
      const std::uint64_t hash = hash_short(short_key);
      const std::uint64_t bit = hash >> (64 - kFilterBitsLog2);
      filter_[bit >> 6] |= std::uint64_t{1} << (bit & 63);
      // The key goes into the first bucket of its probe sequence with a free slot, unless it
      // is already there (a repeated token: the later id wins, as in Hugging Face's loaders).
      for (std::uint64_t b = hash & bucket_mask_;; b = (b + 1) & bucket_mask_) {
        ShortBucket& bucket = buckets_[b];
        if (const unsigned match = match_slots(bucket, short_key)) {
          bucket.id[std::countr_zero(match)] = id;
          break;
        }
        const auto free_slot = std::find(bucket.lo, bucket.lo + kSlotsPerBucket, 0);
        if (free_slot != bucket.lo + kSlotsPerBucket) {
          const auto k = free_slot - bucket.lo;
          bucket.lo[k] = short_key.lo;
          bucket.hi[k] = short_key.hi;
          bucket.id[k] = id;
          break;
        }
      }
      continue;
    }
    const std::uint64_t hash = hash_other(key);
    for (std::uint64_t i = hash & other_mask_;; i = (i + 1) & other_mask_) {
      OtherSlot& slot = other_slots_[i];
      if (slot.id < 0) {
        slot = OtherSlot{hash, static_cast<std::uint32_t>(arena_.size()),
                         static_cast<std::uint32_t>(key.size()), id};
        arena_.append(key);
        break;
      }
      if (slot.hash == hash && arena_.compare(slot.offset, slot.length, key) == 0) {
        slot.id = id;
        break;
      }
    }
  }
}

std::uint64_t TokenTable::hash_other(std::string_view key) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (char c : key) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  return h ^ (h >> 32);
}

std::int32_t TokenTable::find_other(std::string_view key) const {
  const std::uint64_t hash = hash_other(key);
  for (std::uint64_t i = hash & other_mask_;; i = (i + 1) & other_mask_) {
    const OtherSlot& slot = other_slots_[i];
    if (slot.id < 0) return -1;
    if (slot.hash == hash && arena_.compare(slot.offset, slot.length, key) == 0) return slot.id;
  }
}

Vocab::Vocab(std::vector<std::string> tokens_by_id) {
  std::vector<std::pair<std::string_view, std::int32_t>> entries;
  entries.reserve(tokens_by_id.size());
  for (std::size_t id = 0; id < tokens_by_id.size(); ++id) {
    entries.emplace_back(tokens_by_id[id], static_cast<std::int32_t>(id));
  }
  table_.build(entries);  // copies the keys
  tokens_ = std::move(tokens_by_id);
  for (const auto& token : tokens_) max_token_bytes_ = std::max(max_token_bytes_, token.size());
}

Vocab::Vocab(std::vector<std::pair<std::string, std::int32_t>> token_ids) {
  std::int32_t max_id = -1;
  std::vector<std::pair<std::string_view, std::int32_t>> entries;
  entries.reserve(token_ids.size());
  for (const auto& [token, id] : token_ids) {
    if (id < 0)
      throw ParseError("vocab: token '" + token + "' has negative id " + std::to_string(id));
    max_id = std::max(max_id, id);
    entries.emplace_back(token, id);
    max_token_bytes_ = std::max(max_token_bytes_, token.size());
  }
  // Ids index a table, so a sparse vocabulary with a huge id would cost gigabytes: real ones
  // are dense (ids 0..n-1), and anything far beyond that is treated as a broken file.
  const std::size_t id_limit = std::max<std::size_t>(std::size_t{1} << 20, 16 * token_ids.size());
  if (max_id >= 0 && static_cast<std::size_t>(max_id) >= id_limit) {
    throw ParseError("vocab: id " + std::to_string(max_id) + " is far beyond the " +
                     std::to_string(token_ids.size()) + " tokens of the vocabulary");
  }
  // Every token is findable, even when two share an id; token(id) names the last of them.
  table_.build(entries);
  tokens_.resize(static_cast<std::size_t>(max_id + 1));
  std::vector<bool> taken(tokens_.size());
  for (auto it = token_ids.rbegin(); it != token_ids.rend(); ++it) {
    auto& [token, id] = *it;
    if (taken[id]) {
      shadowed_.emplace_back(std::move(token), id);
    } else {
      taken[id] = true;
      tokens_[id] = std::move(token);
    }
  }
}

std::vector<std::pair<std::string_view, std::int32_t>> Vocab::entries() const {
  std::vector<std::pair<std::string_view, std::int32_t>> all;
  all.reserve(tokens_.size() + shadowed_.size());
  for (std::size_t id = 0; id < tokens_.size(); ++id) {
    if (find(tokens_[id]) == static_cast<std::int32_t>(id))
      all.emplace_back(tokens_[id], static_cast<std::int32_t>(id));
  }
  for (const auto& [token, id] : shadowed_) {
    if (find(token) == id) all.emplace_back(token, id);
  }
  return all;
}

Vocab Vocab::from_file(const std::filesystem::path& path) {
  return from_text(util::read_file(path), path.string());
}

Vocab Vocab::from_text(std::string_view text, std::string_view name) {
  std::vector<std::string> tokens;
  std::size_t line_start = 0;
  while (line_start < text.size()) {
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    std::string_view line = text.substr(line_start, line_end - line_start);
    const std::string where = std::string(name) + ":" + std::to_string(tokens.size() + 1) + ": ";
    check_utf8(line, where);
    // Trailing whitespace is not part of a token (Hugging Face trims each line's end).
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    tokens.emplace_back(line);
    line_start = line_end + 1;
  }
  if (tokens.empty()) throw ParseError(std::string(name) + ": the vocabulary is empty");
  return Vocab(std::move(tokens));
}

std::string_view Vocab::token(std::int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size()) return {};
  return tokens_[id];
}

}  // namespace bertlite::text
