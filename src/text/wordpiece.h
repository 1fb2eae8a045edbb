// text/wordpiece.h - stage 3 of tokenization: WordPiece.
//
// Per word: greedy longest match from the left; pieces after the first carry the
// continuation prefix ("##"); a word longer than max_input_chars_per_word code points, or one
// where some position matches nothing, becomes a single unknown token covering the whole word
// (Hugging Face tokenizers' WordPiece model).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "text/vocab.h"

namespace bertlite::text {

struct WordPieceOptions {
  std::string unk_token = "[UNK]";
  std::string continuing_subword_prefix = "##";
  std::size_t max_input_chars_per_word = 100;
};

// One piece of a word: its id and bytes [begin, end) within the word.
struct Piece {
  std::int32_t id;
  std::uint32_t begin;
  std::uint32_t end;
};

class WordPiece {
 public:
  // Throws InvalidArgument when the unknown token is not in the vocabulary.
  WordPiece(std::shared_ptr<const Vocab> vocab, WordPieceOptions options = {});

  // Appends the pieces of `word` (valid UTF-8, non-empty) to `pieces`.
  void tokenize(std::string_view word, std::vector<Piece>& pieces) const;
  // The same, faster, for a word with no NUL byte followed by at least ShortKey::kMaxBytes
  // readable bytes (the tokenizer's padded buffer of lowered ASCII), which is not a token as it
  // stands (whole_word_id gave -1): that look-up is not repeated.
  void tokenize_padded(std::string_view word, std::vector<Piece>& pieces) const;

  // The common case on its own: the id of `word` when WordPiece would keep it whole as one
  // token, else -1 (then call tokenize).
  std::int32_t whole_word_id(std::string_view word) const {
    // Longer words are either over the character limit or longer than any token: the full
    // algorithm decides those.
    if (word.size() > max_piece_bytes_ || word.size() > options_.max_input_chars_per_word)
      return -1;
    return vocab_->find(word);
  }
  // A word of up to this many bytes with no NUL is within the character limit and a short
  // key: whole_word_id(word) is then vocab().table().find_short(ShortKey of word).
  std::size_t short_whole_word_bytes() const { return short_whole_word_bytes_; }

  const Vocab& vocab() const { return *vocab_; }
  const WordPieceOptions& options() const { return options_; }
  std::int32_t unk_id() const { return unk_id_; }

 private:
  template <bool kPadded>
  void tokenize_impl(std::string_view word, std::vector<Piece>& pieces) const;

  std::shared_ptr<const Vocab> vocab_;
  WordPieceOptions options_;
  std::int32_t unk_id_;
  // Continuation tokens keyed without their prefix, so a lookup needs no string building.
  TokenTable continuations_;
  std::size_t max_piece_bytes_ = 0;         // longest token
  std::size_t max_continuation_bytes_ = 0;  // longest continuation token, prefix removed
  std::size_t short_whole_word_bytes_ = 0;
};

}  // namespace bertlite::text
