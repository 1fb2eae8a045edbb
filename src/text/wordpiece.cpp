#include "text/wordpiece.h"

#include <algorithm>

#include "bertlite/error.h"
#include "text/unicode.h"

namespace bertlite::text {

WordPiece::WordPiece(std::shared_ptr<const Vocab> vocab, WordPieceOptions options)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  unk_id_ = vocab_->find(options_.unk_token);
  if (unk_id_ < 0) {
    throw InvalidArgument("WordPiece: unknown token '" + options_.unk_token +
                          "' is not in the vocabulary");
  }
  const std::string_view prefix = options_.continuing_subword_prefix;
  std::vector<std::pair<std::string_view, std::int32_t>> continuations;
  for (const auto& [token, id] : vocab_->entries()) {
    if (token.size() > prefix.size() && token.starts_with(prefix)) {
      continuations.emplace_back(token.substr(prefix.size()), id);
      max_continuation_bytes_ = std::max(max_continuation_bytes_, token.size() - prefix.size());
    }
  }
  continuations_.build(continuations);
  max_piece_bytes_ = vocab_->max_token_bytes();
}

void WordPiece::tokenize(std::string_view word, std::vector<Piece>& pieces) const {
  const auto whole_word_unknown = [&] {
    pieces.push_back({unk_id_, 0, static_cast<std::uint32_t>(word.size())});
  };
  // Counting code points only matters when the byte length could exceed the limit.
  if (word.size() > options_.max_input_chars_per_word &&
      count_code_points(word) > options_.max_input_chars_per_word) {
    whole_word_unknown();
    return;
  }
  const std::size_t first_piece = pieces.size();
  // prefix_hash[k] is the running hash of word[start, start + k): candidates of every length
  // are then looked up without hashing their bytes again.
  std::uint64_t prefix_hash[kMaxHashedBytes + 1];
  std::size_t start = 0;
  while (start < word.size()) {
    const bool continuation = start > 0;
    const TokenTable& table = continuation ? continuations_ : vocab_->table();
    const std::size_t longest = continuation ? max_continuation_bytes_ : max_piece_bytes_;
    // Candidates longer than the longest token cannot match, so start from there (on a code
    // point boundary) and shrink one code point at a time, as Hugging Face does.
    std::size_t end = std::min(word.size(), start + longest);
    while (end < word.size() && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
    const std::size_t hashed = std::min(end - start, kMaxHashedBytes);
    std::uint64_t h = TokenTable::kHashSeed;
    for (std::size_t k = 0; k < hashed; ++k) {
      h = TokenTable::hash_step(h, static_cast<unsigned char>(word[start + k]));
      prefix_hash[k + 1] = h;
    }
    std::int32_t id = -1;
    while (end > start) {
      const std::string_view candidate = word.substr(start, end - start);
      const std::uint64_t hash = candidate.size() <= kMaxHashedBytes
                                     ? TokenTable::hash_finish(prefix_hash[candidate.size()])
                                     : TokenTable::hash_bytes(candidate);
      id = table.find_hashed(candidate, hash);
      if (id >= 0) break;
      do --end;
      while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
    }
    if (id < 0) {
      pieces.resize(first_piece);
      whole_word_unknown();
      return;
    }
    pieces.push_back({id, static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(end)});
    start = end;
  }
}

}  // namespace bertlite::text
