#include "text/post_processor.h"

#include <algorithm>

#include "bertlite/error.h"

namespace bertlite::text {

PostProcessor::PostProcessor(std::vector<TemplatePiece> single, std::vector<TemplatePiece> pair)
    : single_(std::move(single)), pair_(std::move(pair)) {}

PostProcessor PostProcessor::bert(std::int32_t cls_id, std::int32_t sep_id) {
  using K = TemplatePiece::Kind;
  return PostProcessor(
      {{K::kSpecial, {cls_id}, 0}, {K::kSequenceA, {}, 0}, {K::kSpecial, {sep_id}, 0}},
      {{K::kSpecial, {cls_id}, 0},
       {K::kSequenceA, {}, 0},
       {K::kSpecial, {sep_id}, 0},
       {K::kSequenceB, {}, 1},
       {K::kSpecial, {sep_id}, 1}});
}

PostProcessor PostProcessor::none() {
  using K = TemplatePiece::Kind;
  return PostProcessor({{K::kSequenceA, {}, 0}}, {{K::kSequenceA, {}, 0}, {K::kSequenceB, {}, 1}});
}

std::size_t PostProcessor::num_special_tokens(bool pair) const {
  std::size_t count = 0;
  for (const auto& piece : pair ? pair_ : single_) {
    if (piece.kind == TemplatePiece::Kind::kSpecial) count += piece.ids.size();
  }
  return count;
}

// A tokenizer.json's template may name a sequence twice or not at all (Hugging Face accepts a
// pair template without $B, and then leaves the second text out), so the length is counted
// from the template, not assumed to be A + B + the special tokens.
std::size_t PostProcessor::template_length(const std::vector<TemplatePiece>& pieces,
                                           const TokenSequence& a, const TokenSequence* b) {
  std::size_t length = 0;
  for (const auto& piece : pieces) {
    switch (piece.kind) {
      case TemplatePiece::Kind::kSpecial:
        length += piece.ids.size();
        break;
      case TemplatePiece::Kind::kSequenceA:
        length += a.ids.size();
        break;
      case TemplatePiece::Kind::kSequenceB:
        length += b ? b->ids.size() : 0;
        break;
    }
  }
  return length;
}

std::vector<std::int32_t> PostProcessor::special_ids() const {
  std::vector<std::int32_t> ids;
  for (const auto* pieces : {&single_, &pair_}) {
    for (const auto& piece : *pieces) ids.insert(ids.end(), piece.ids.begin(), piece.ids.end());
  }
  return ids;
}

std::size_t truncate_longest_first(TokenSequence& a, TokenSequence* b, std::size_t budget) {
  const std::size_t total = a.ids.size() + (b ? b->ids.size() : 0);
  if (total <= budget) return 0;
  std::size_t keep_a = budget;
  std::size_t keep_b = 0;
  if (b) {
    // Hugging Face's three cases, with n1 the shorter input: nothing to cut (handled above);
    // only the longer one is cut (to budget - n1); or both are cut to about half each.
    std::size_t n1 = a.ids.size(), n2 = b->ids.size();
    const bool swapped = n1 > n2;
    if (swapped) std::swap(n1, n2);
    n2 = n1 > budget ? n1 : std::max(n1, budget - n1);
    if (n1 + n2 > budget) {
      n1 = budget / 2;
      n2 = n1 + budget % 2;
    }
    if (swapped) std::swap(n1, n2);
    keep_a = n1;
    keep_b = n2;
  }
  auto cut = [](TokenSequence& s, std::size_t keep) {
    if (s.ids.size() <= keep) return;
    s.ids.resize(keep);
    s.offsets.resize(keep);
  };
  cut(a, keep_a);
  if (b) cut(*b, keep_b);
  return total - a.ids.size() - (b ? b->ids.size() : 0);
}

void pad_encoding(Encoding& e, std::size_t length, std::int32_t pad_id) {
  if (e.size() >= length) return;
  e.ids.resize(length, pad_id);
  e.type_ids.resize(length, 0);
  e.attention_mask.resize(length, 0);
  e.special_tokens_mask.resize(length, 1);
  e.offsets.resize(length, Offset{});
}

void PostProcessor::process(TokenSequence& a, TokenSequence* b, const EncodeOptions& options,
                            Encoding& e) const {
  const std::size_t specials = options.add_special_tokens ? num_special_tokens(b != nullptr) : 0;
  if (options.max_length > 0) {
    if (options.max_length < specials) {
      throw InvalidArgument("max_length " + std::to_string(options.max_length) +
                            " cannot hold the " + std::to_string(specials) + " special tokens");
    }
    e.truncated = truncate_longest_first(a, b, options.max_length - specials);
  }
  // Every vector is made once at its final size, already holding what most of it will hold
  // (type ids 0, attention mask 1, special-tokens mask 0, offsets (0, 0)), then written in
  // place: this runs once per text, and constructing beats resize() on empty vectors.
  const std::size_t length = options.add_special_tokens ? template_length(b ? pair_ : single_, a, b)
                                                        : a.ids.size() + (b ? b->ids.size() : 0);
  e.ids = std::vector<std::int32_t>(length);
  e.type_ids = std::vector<std::int32_t>(length);
  e.attention_mask = std::vector<std::int32_t>(length, 1);
  e.special_tokens_mask = std::vector<std::int32_t>(length);
  e.offsets = std::vector<Offset>(length);
  std::int32_t* ids = e.ids.data();
  Offset* offsets = e.offsets.data();
  std::size_t at = 0;
  auto put_sequence = [&](const TokenSequence& s, std::int32_t type_id) {
    std::copy(s.ids.begin(), s.ids.end(), ids + at);
    std::copy(s.offsets.begin(), s.offsets.end(), offsets + at);
    if (type_id != 0) std::fill_n(e.type_ids.begin() + at, s.ids.size(), type_id);
    at += s.ids.size();
  };
  if (!options.add_special_tokens) {
    put_sequence(a, 0);
    if (b) put_sequence(*b, 1);  // Hugging Face gives the second text type 1 here too
    return;
  }
  for (const auto& piece : b ? pair_ : single_) {
    switch (piece.kind) {
      case TemplatePiece::Kind::kSpecial:
        for (std::int32_t id : piece.ids) {
          ids[at] = id;
          e.type_ids[at] = piece.type_id;
          e.special_tokens_mask[at] = 1;
          ++at;
        }
        break;
      case TemplatePiece::Kind::kSequenceA:
        put_sequence(a, piece.type_id);
        break;
      case TemplatePiece::Kind::kSequenceB:
        if (b) put_sequence(*b, piece.type_id);
        break;
    }
  }
}

}  // namespace bertlite::text
