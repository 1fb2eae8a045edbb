// text/post_processor.h - stage 4 of tokenization: special tokens, type ids, truncation,
// padding.
//
// A template says where special tokens go around the first text (A) and the second (B) and
// which type id each part gets; BERT's is "[CLS] A [SEP]" and "[CLS] A [SEP] B [SEP]" with
// type ids 0 0 0 1 1 (Hugging Face TemplateProcessing / BertProcessing). Truncation happens
// before the template is applied, leaving room for its special tokens, longest-first for pairs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bertlite/tokenizer.h"

namespace bertlite::text {

struct TemplatePiece {
  enum class Kind { kSpecial, kSequenceA, kSequenceB } kind;
  std::vector<std::int32_t> ids;  // for kSpecial
  std::int32_t type_id = 0;
};

// Tokens of one text before post-processing.
struct TokenSequence {
  std::vector<std::int32_t> ids;
  std::vector<Offset> offsets;
};

class PostProcessor {
 public:
  PostProcessor() = default;
  PostProcessor(std::vector<TemplatePiece> single, std::vector<TemplatePiece> pair);
  // BERT's template from the ids of its [CLS] and [SEP] tokens.
  static PostProcessor bert(std::int32_t cls_id, std::int32_t sep_id);
  // No special tokens; the second text of a pair still gets type id 1.
  static PostProcessor none();

  std::size_t num_special_tokens(bool pair) const;
  // Every id the templates add.
  std::vector<std::int32_t> special_ids() const;

  // Truncates `a` (and `b`) to fit options.max_length and builds the encoding in `out`, an
  // empty Encoding. Throws InvalidArgument when max_length cannot even hold the special
  // tokens.
  void process(TokenSequence& a, TokenSequence* b, const EncodeOptions& options,
               Encoding& out) const;

 private:
  // How many tokens `pieces` make of these sequences.
  static std::size_t template_length(const std::vector<TemplatePiece>& pieces,
                                     const TokenSequence& a, const TokenSequence* b);

  std::vector<TemplatePiece> single_;
  std::vector<TemplatePiece> pair_;
};

// Truncates a (and b) so that their total length is at most `budget`, Hugging Face's
// longest-first strategy. Returns the number of tokens removed.
std::size_t truncate_longest_first(TokenSequence& a, TokenSequence* b, std::size_t budget);

// Pads `encoding` on the right to `length` tokens with `pad_id`.
void pad_encoding(Encoding& encoding, std::size_t length, std::int32_t pad_id);

}  // namespace bertlite::text
