#include "text/vocab.h"

#include <bit>
#include <cstring>

#include "bertlite/error.h"
#include "text/unicode.h"
#include "util/file.h"

namespace bertlite::text {
void TokenTable::build(const std::vector<std::pair<std::string_view, std::int32_t>>& entries) {
  // Load factor at most 1/2 keeps probe sequences short.
  const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(16, entries.size() * 2));
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  keys_.clear();
  arena_.clear();
  filter_.assign(kFilterBits / 64, 0);
  for (const auto& [key, id] : entries) {
    const std::uint64_t hash = hash_bytes(key);
    const std::uint64_t bit = (hash >> 20) & (kFilterBits - 1);
    filter_[bit >> 6] |= std::uint64_t{1} << (bit & 63);
    const auto tag = static_cast<std::uint32_t>(hash >> 32);
    for (std::uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.entry == kEmpty) {
        slot = Slot{tag, static_cast<std::uint32_t>(keys_.size())};
        keys_.push_back({static_cast<std::uint32_t>(arena_.size()),
                         static_cast<std::uint32_t>(key.size()), id});
        arena_.append(key);
        break;
      }
      Key& existing = keys_[slot.entry];
      if (slot.tag == tag && existing.length == key.size() &&
          arena_.compare(existing.offset, existing.length, key) == 0) {
        existing.id = id;  // a repeated token: the later id wins, as in Hugging Face's loaders
        break;
      }
    }
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
