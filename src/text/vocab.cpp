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

Vocab::Vocab(std::vector<std::string> tokens_by_id) : tokens_(std::move(tokens_by_id)) {
  for (std::size_t id = 0; id < tokens_.size(); ++id) {
    entries_.emplace_back(tokens_[id], static_cast<std::int32_t>(id));
  }
  index();
}

Vocab::Vocab(std::vector<std::pair<std::string, std::int32_t>> token_ids) {
  std::int32_t max_id = -1;
  for (const auto& [token, id] : token_ids) {
    if (id < 0) throw ParseError("vocab: token '" + token + "' has negative id " + std::to_string(id));
    max_id = std::max(max_id, id);
  }
  tokens_.resize(static_cast<std::size_t>(max_id + 1));
  for (auto& [token, id] : token_ids) tokens_[id] = std::move(token);
  for (const auto& [token, id] : token_ids) entries_.emplace_back(tokens_[id], id);
  index();
}

void Vocab::index() {
  table_.build(entries_);
  for (const auto& token : tokens_) max_token_bytes_ = std::max(max_token_bytes_, token.size());
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
