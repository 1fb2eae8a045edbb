// text/tokenizer_impl.h - what a Tokenizer is made of: the four stages, wired once at load.
// Private to src/text; the public face is include/bertlite/tokenizer.h.
#pragma once

#include <memory>
#include <string>

#include "bertlite/tokenizer.h"
#include "text/added_tokens.h"
#include "text/normalizer.h"
#include "text/post_processor.h"
#include "text/pre_tokenizer.h"
#include "text/vocab.h"
#include "text/wordpiece.h"

namespace bertlite {

struct DecoderOptions {
  bool enabled = true;  // tokenizer.json may have no decoder: tokens are then joined by spaces
  std::string prefix = "##";
  bool cleanup = true;
};

class Tokenizer::Impl {
 public:
  Impl(std::shared_ptr<const text::Vocab> vocab, text::NormalizerOptions normalizer,
       text::WordPieceOptions wordpiece, std::vector<text::AddedToken> added_tokens,
       text::PostProcessor post_processor, std::string pad_token, DecoderOptions decoder,
       TokenizerInfo info);

  // Tokenizes one text into ids and byte offsets (no special tokens, no truncation).
  void tokenize(std::string_view text, text::TokenSequence& out) const;

  Encoding encode(std::string_view a, const std::string_view* b,
                  const EncodeOptions& options) const;

  std::shared_ptr<const text::Vocab> vocab;
  text::Normalizer normalizer;
  text::WordPiece wordpiece;
  text::AddedTokens added_tokens;
  text::PostProcessor post_processor;
  std::int32_t pad_id;
  DecoderOptions decoder;
  TokenizerInfo info;

 private:
  // The general path: normalize -> pre-tokenize -> WordPiece, any UTF-8.
  void tokenize_segment(std::string_view text, std::uint32_t begin, std::uint32_t end,
                        text::TokenSequence& out) const;
  // The same stages fused into one pass for ASCII text, where normalization maps each byte to
  // at most one byte in place. Returns false, having added nothing, when the segment holds a
  // byte that needs the general path (non-ASCII, or a control character cleaning drops).
  bool tokenize_ascii_segment(std::string_view text, std::uint32_t begin, std::uint32_t end,
                              text::TokenSequence& out) const;

  // What the fused ASCII pass does with each byte.
  enum class AsciiAction : std::uint8_t { kWord, kSpace, kPunct, kGeneralPath };
  AsciiAction ascii_action_[256];
  char ascii_normalized_[128];
};

}  // namespace bertlite
