// text/pre_tokenizer.h - stage 2 of tokenization: BERT's pre-tokenizer.
//
// Splits normalized text into words: whitespace separates words and is dropped; every
// punctuation character becomes a word of its own (Hugging Face BertPreTokenizer).
// Works on byte spans of the normalized text; knows nothing of vocabularies.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace bertlite::text {

// A word: bytes [begin, end) of the normalized text.
struct Span {
  std::uint32_t begin;
  std::uint32_t end;
};

// Appends the words of `text` (valid UTF-8) to `words`.
void pre_tokenize(std::string_view text, std::vector<Span>& words);

}  // namespace bertlite::text
