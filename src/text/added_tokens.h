// text/added_tokens.h - stage 0 of tokenization: added tokens matched in the raw text.
//
// Tokens such as "[CLS]" or "[SEP]" written literally in a text stay one token each: the
// raw text is split on their exact, case-sensitive occurrences (leftmost, then longest match,
// as Hugging Face's AddedVocabulary does) before anything is normalized.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bertlite::text {

struct AddedToken {
  std::string content;
  std::int32_t id;
  bool special;  // skipped by decode(skip_special_tokens = true)
};

// A piece of the raw text: either plain text to tokenize, or one added token.
struct Segment {
  std::uint32_t begin;
  std::uint32_t end;
  std::int32_t added_id;  // -1 for plain text
};

class AddedTokens {
 public:
  AddedTokens() = default;
  explicit AddedTokens(std::vector<AddedToken> tokens);

  // Appends the segments of `text` to `segments`; empty plain segments are omitted.
  void split(std::string_view text, std::vector<Segment>& segments) const;

  bool is_special(std::int32_t id) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  std::vector<AddedToken> tokens_;
  // Indexes into tokens_ by first byte, longest first, so the first hit is the longest.
  std::array<std::vector<std::uint32_t>, 256> by_first_byte_;
  std::vector<std::int32_t> special_ids_;  // sorted
  // When every added token starts with the same byte (BERT's all start with '['), candidates
  // are found with memchr; -1 otherwise.
  int only_first_byte_ = -1;
};

}  // namespace bertlite::text
