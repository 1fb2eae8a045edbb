// tests/text/test_helpers.h - small helpers shared by the tokenizer tests.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "bertlite/tokenizer.h"
#include "text/normalizer.h"
#include "text/pre_tokenizer.h"

namespace bertlite {
// Lets GoogleTest print offsets readably in failure messages.
inline void PrintTo(const Offset& o, std::ostream* out) {
  *out << '(' << o.begin << ", " << o.end << ')';
}
}  // namespace bertlite

namespace bertlite::test {

// Normalizes and pre-tokenizes `text`, returning the words: what the slow tokenizers call
// BasicTokenizer.tokenize().
inline std::vector<std::string> basic_tokenize(const std::string& text,
                                               text::NormalizerOptions options = {}) {
  const text::Normalizer normalizer(options);
  const text::NormalizedText normalized = normalizer.normalize(text);
  std::vector<text::Span> spans;
  text::pre_tokenize(normalized.text, spans);
  std::vector<std::string> words;
  for (const auto& span : spans) {
    words.push_back(normalized.text.substr(span.begin, span.end - span.begin));
  }
  return words;
}

inline std::string default_model_folder() {
  return BERTLITE_SOURCE_DIR "/models/all-MiniLM-L6-v2";
}

}  // namespace bertlite::test
