#include "text/added_tokens.h"

#include <algorithm>
#include <cstring>

namespace bertlite::text {

AddedTokens::AddedTokens(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (std::uint32_t i = 0; i < tokens_.size(); ++i) {
    const auto& token = tokens_[i];
    if (token.special) special_ids_.push_back(token.id);
    if (token.content.empty()) continue;
    by_first_byte_[static_cast<unsigned char>(token.content[0])].push_back(i);
  }
  for (auto& candidates : by_first_byte_) {
    std::stable_sort(candidates.begin(), candidates.end(), [&](std::uint32_t a, std::uint32_t b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
  }
  std::sort(special_ids_.begin(), special_ids_.end());
  int first_bytes = 0;
  for (int b = 0; b < 256; ++b) {
    if (by_first_byte_[b].empty()) continue;
    ++first_bytes;
    only_first_byte_ = b;
  }
  if (first_bytes != 1) only_first_byte_ = -1;
}

void AddedTokens::split(std::string_view text, std::vector<Segment>& segments) const {
  std::size_t plain_begin = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (only_first_byte_ >= 0) {
      const void* hit = std::memchr(text.data() + pos, only_first_byte_, text.size() - pos);
      if (!hit) break;
      pos = static_cast<std::size_t>(static_cast<const char*>(hit) - text.data());
    }
    const auto& candidates = by_first_byte_[static_cast<unsigned char>(text[pos])];
    const AddedToken* match = nullptr;
    for (std::uint32_t index : candidates) {
      const std::string& content = tokens_[index].content;
      if (text.substr(pos).starts_with(content)) {
        match = &tokens_[index];
        break;
      }
    }
    if (!match) {
      ++pos;
      continue;
    }
    if (pos > plain_begin) {
      segments.push_back(
          {static_cast<std::uint32_t>(plain_begin), static_cast<std::uint32_t>(pos), -1});
    }
    const std::size_t end = pos + match->content.size();
    segments.push_back(
        {static_cast<std::uint32_t>(pos), static_cast<std::uint32_t>(end), match->id});
    pos = plain_begin = end;
  }
  if (text.size() > plain_begin) {
    segments.push_back(
        {static_cast<std::uint32_t>(plain_begin), static_cast<std::uint32_t>(text.size()), -1});
  }
}

bool AddedTokens::is_special(std::int32_t id) const {
  return std::binary_search(special_ids_.begin(), special_ids_.end(), id);
}

}  // namespace bertlite::text
