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

namespace text {
// The switch that turns the fused ASCII pass off, so that every text takes the general path,
// the reference the fused pass must match: for the tests, and to bisect a difference. It
// starts from the environment variable BERTLITE_TOKENIZER_GENERAL_PATH (read once; "1" turns
// it on) and applies process-wide.
bool general_path_only();
void set_general_path_only(bool on);
}  // namespace text

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

  // Per-thread buffers for tokenize(), reused across texts so that steady-state tokenization
  // allocates only the output.
  struct Scratch;
  // This thread's buffers.
  static Scratch& scratch();

  // Tokenizes one text into ids and byte offsets (no special tokens, no truncation). Throws
  // ParseError "<where>invalid UTF-8 at byte N" when the text is not valid UTF-8.
  void tokenize(std::string_view text, text::TokenSequence& out, Scratch& scratch,
                std::string_view where = {}) const;

  // Encodes a text (b == nullptr) or a pair into `out`, an empty Encoding.
  void encode(std::string_view a, const std::string_view* b, const EncodeOptions& options,
              Encoding& out) const;

  std::shared_ptr<const text::Vocab> vocab;
  text::Normalizer normalizer;
  text::WordPiece wordpiece;
  text::AddedTokens added_tokens;
  text::PostProcessor post_processor;
  std::int32_t pad_id;
  DecoderOptions decoder;
  TokenizerInfo info;

 private:
  // The general path: normalize -> pre-tokenize -> WordPiece, any valid UTF-8.
  void tokenize_segment(std::string_view text, std::uint32_t begin, std::uint32_t end,
                        text::TokenSequence& out, Scratch& scratch) const;
  // The same stages fused for ASCII text, where normalization maps each byte to at most one
  // byte in place: one vectorized scan finds the words and lowercases them, then each word is
  // looked up whole, and only words that are not tokens go through WordPiece. Returns false,
  // having added nothing, when the segment holds a byte that needs the general path
  // (non-ASCII, or a control character cleaning drops).
  bool tokenize_ascii_segment(std::string_view text, std::uint32_t begin, std::uint32_t end,
                              text::TokenSequence& out, Scratch& scratch) const;

  // What the fused ASCII pass makes of an item of one byte, by that byte: the id of its token
  // (a punctuation character, a letter or a digit alone), or one of these.
  static constexpr std::int32_t kSkippedItem = -1;      // whitespace
  static constexpr std::int32_t kGeneralPathItem = -2;  // a byte only the general path handles
  std::int32_t one_byte_items_[128];
  // Whether some added token has a non-ASCII byte; if none has, a text whose plain segments
  // are all ASCII is valid UTF-8 without being checked.
  bool added_tokens_ascii_ = true;
};

}  // namespace bertlite
