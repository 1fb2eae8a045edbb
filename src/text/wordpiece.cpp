#include "text/wordpiece.h"

#include <algorithm>

#include "bertlite/error.h"
#include "text/unicode.h"

namespace bertlite::text {
namespace {

bool is_continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

}  // namespace

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
  short_whole_word_bytes_ = std::min(ShortKey::kMaxBytes, options_.max_input_chars_per_word);
}

void WordPiece::tokenize(std::string_view word, std::vector<Piece>& pieces) const {
  tokenize_impl<false>(word, pieces);
}

void WordPiece::tokenize_padded(std::string_view word, std::vector<Piece>& pieces) const {
  tokenize_impl<true>(word, pieces);
}

template <bool kPadded>
void WordPiece::tokenize_impl(std::string_view word, std::vector<Piece>& pieces) const {
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
  std::size_t start = 0;
  while (start < word.size()) {
    const bool continuation = start > 0;
    const TokenTable& table = continuation ? continuations_ : vocab_->table();
    const std::size_t longest = continuation ? max_continuation_bytes_ : max_piece_bytes_;
    // Candidates longer than the longest token cannot match, so start from there (on a code
    // point boundary) and shrink one code point at a time, as Hugging Face does.
    std::size_t end = std::min(word.size(), start + longest);
    while (end < word.size() && is_continuation_byte(word[end])) --end;
    // The padded variant's caller has looked the whole word up already.
    if (kPadded && end == word.size() && start == 0) {
      do --end;
      while (end > start && is_continuation_byte(word[end]));
    }
    // Candidates short enough to be ShortKeys are prefixes of one key, packed once; those up
    // to the first NUL byte (a word holds one only when cleaning is off) can use it.
    const std::size_t window = std::min(end - start, ShortKey::kMaxBytes);
    ShortKey packed;
    std::size_t short_limit = window;
    if constexpr (kPadded) {
      packed = ShortKey::load(word.data() + start, window);
    } else if (window > 0) {
      packed = ShortKey::load_unpadded(word.substr(start, window));
      short_limit = std::min(window, word.substr(start, window).find('\0'));
    }
    std::int32_t id = -1;
    while (end > start) {
      const std::size_t length = end - start;
      // Most candidates are not tokens: the filtered look-up rejects them cheaply.
      id = length <= short_limit ? table.find_short_filtered(packed.prefix(length))
                                 : table.find(word.substr(start, length));
      if (id >= 0) break;
      do --end;
      while (end > start && is_continuation_byte(word[end]));
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
