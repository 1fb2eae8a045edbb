// text/tokenizer.cpp - the Tokenizer: runs the stages over one text, a pair, or a batch.
#include <algorithm>

#include "bertlite/error.h"
#include "text/tokenizer_impl.h"
#include "text/unicode.h"
#include "util/threads.h"

namespace bertlite {
namespace {

// Per-thread buffers reused across texts, so steady-state tokenization allocates only the
// output vectors.
struct Scratch {
  std::vector<text::Segment> segments;
  text::NormalizedText normalized;
  std::vector<text::Span> words;
  std::vector<text::Piece> pieces;
  std::string word;
  text::TokenSequence a, b;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

Tokenizer::Impl::Impl(std::shared_ptr<const text::Vocab> vocab_in,
                      text::NormalizerOptions normalizer_options,
                      text::WordPieceOptions wordpiece_options, std::vector<text::AddedToken> added,
                      text::PostProcessor post, std::string pad_token,
                      DecoderOptions decoder_options, TokenizerInfo info_in)
    : vocab(std::move(vocab_in)),
      normalizer(normalizer_options),
      wordpiece(vocab, std::move(wordpiece_options)),
      added_tokens(std::move(added)),
      post_processor(std::move(post)),
      pad_id(vocab->find(pad_token)),
      decoder(std::move(decoder_options)),
      info(std::move(info_in)) {
  info.vocab_size = vocab->size();
  info.lowercase = normalizer_options.lowercase;
  info.strip_accents = normalizer_options.strip_accents;
  info.handle_chinese_chars = normalizer_options.handle_chinese_chars;
  info.clean_text = normalizer_options.clean_text;
  // The fused ASCII pass classifies each byte once, with the normalizer's and the
  // pre-tokenizer's own rules: anything they would treat specially goes to the general path.
  for (int b = 0; b < 256; ++b) {
    ascii_action_[b] = AsciiAction::kGeneralPath;
    if (b >= 128) continue;
    const int normalized = normalizer.ascii_map()[b];
    if (normalized < 0) continue;
    ascii_normalized_[b] = static_cast<char>(normalized);
    const char32_t c = static_cast<char32_t>(normalized);
    ascii_action_[b] = text::is_whitespace(c)    ? AsciiAction::kSpace
                       : text::is_punctuation(c) ? AsciiAction::kPunct
                                                 : AsciiAction::kWord;
  }
  // NUL is kept as a word character when cleaning is off; keep it on the general path.
  ascii_action_[0] = AsciiAction::kGeneralPath;
}

void Tokenizer::Impl::tokenize(std::string_view text, text::TokenSequence& out) const {
  out.ids.clear();
  out.offsets.clear();
  Scratch& s = scratch();
  s.segments.clear();
  added_tokens.split(text, s.segments);
  for (const text::Segment& segment : s.segments) {
    if (segment.added_id >= 0) {
      out.ids.push_back(segment.added_id);
      out.offsets.push_back({segment.begin, segment.end});
    } else if (!tokenize_ascii_segment(text, segment.begin, segment.end, out)) {
      tokenize_segment(text, segment.begin, segment.end, out);
    }
  }
}

void Tokenizer::Impl::tokenize_segment(std::string_view text, std::uint32_t begin,
                                       std::uint32_t end, text::TokenSequence& out) const {
  Scratch& s = scratch();
  s.normalized.clear();
  normalizer.normalize(text.substr(begin, end - begin), begin, s.normalized);
  s.words.clear();
  text::pre_tokenize(s.normalized.text, s.words);
  const std::string_view normalized = s.normalized.text;
  const std::vector<std::uint32_t>& origin = s.normalized.origin;
  for (const text::Span& word : s.words) {
    s.pieces.clear();
    wordpiece.tokenize(normalized.substr(word.begin, word.end - word.begin), s.pieces);
    for (const text::Piece& piece : s.pieces) {
      // A piece's original span runs from the character its first byte came from to the end
      // of the character its last byte came from.
      const std::uint32_t first = origin[word.begin + piece.begin];
      const std::uint32_t last = origin[word.begin + piece.end - 1];
      const auto last_length =
          static_cast<std::uint32_t>(text::utf8_length(static_cast<unsigned char>(text[last])));
      out.ids.push_back(piece.id);
      out.offsets.push_back({first, last + last_length});
    }
  }
}

bool Tokenizer::Impl::tokenize_ascii_segment(std::string_view text, std::uint32_t begin,
                                             std::uint32_t end, text::TokenSequence& out) const {
  Scratch& s = scratch();
  const std::size_t ids_before = out.ids.size();
  // Emits the word text[word_begin, word_end); `hash` is the running hash of its normalized
  // bytes and `changes` says whether normalizing changed any byte (uppercase letters).
  auto emit_word = [&](std::uint32_t word_begin, std::uint32_t word_end, std::uint64_t hash,
                       bool changes) {
    std::string_view word = text.substr(word_begin, word_end - word_begin);
    if (changes) {  // lowercase a copy; otherwise WordPiece reads the caller's bytes
      s.word.resize(word.size());
      for (std::size_t i = 0; i < word.size(); ++i) {
        s.word[i] = ascii_normalized_[static_cast<unsigned char>(word[i])];
      }
      word = s.word;
    }
    // Most words are tokens as they stand: one look-up, with the hash made while scanning.
    if (const std::int32_t id = wordpiece.whole_word_id(word, hash); id >= 0) {
      out.ids.push_back(id);
      out.offsets.push_back({word_begin, word_end});
      return;
    }
    s.pieces.clear();
    wordpiece.tokenize(word, s.pieces);
    for (const text::Piece& piece : s.pieces) {
      out.ids.push_back(piece.id);
      out.offsets.push_back({word_begin + piece.begin, word_begin + piece.end});
    }
  };
  std::uint32_t pos = begin;
  while (pos < end) {
    const auto byte = static_cast<unsigned char>(text[pos]);
    switch (ascii_action_[byte]) {
      case AsciiAction::kSpace:
        ++pos;
        break;
      case AsciiAction::kPunct: {
        const unsigned char normalized = static_cast<unsigned char>(ascii_normalized_[byte]);
        emit_word(pos, pos + 1,
                  text::TokenTable::hash_step(text::TokenTable::kHashSeed, normalized),
                  normalized != byte);
        ++pos;
        break;
      }
      case AsciiAction::kWord: {
        // Scan the whole word in a tight loop, hashing its normalized bytes on the way.
        const std::uint32_t word_begin = pos;
        std::uint64_t hash = text::TokenTable::kHashSeed;
        bool changes = false;
        do {
          const auto b = static_cast<unsigned char>(text[pos]);
          const auto normalized = static_cast<unsigned char>(ascii_normalized_[b]);
          hash = text::TokenTable::hash_step(hash, normalized);
          changes |= normalized != b;
          ++pos;
        } while (pos < end &&
                 ascii_action_[static_cast<unsigned char>(text[pos])] == AsciiAction::kWord);
        emit_word(word_begin, pos, hash, changes);
        break;
      }
      case AsciiAction::kGeneralPath:
        out.ids.resize(ids_before);
        out.offsets.resize(ids_before);
        return false;
    }
  }
  return true;
}

Encoding Tokenizer::Impl::encode(std::string_view a, const std::string_view* b,
                                 const EncodeOptions& options) const {
  text::check_utf8(a);
  if (b) text::check_utf8(*b, "second text: ");
  Scratch& s = scratch();
  tokenize(a, s.a);
  if (b) tokenize(*b, s.b);
  Encoding e = post_processor.process(s.a, b ? &s.b : nullptr, options);
  if (options.padding != Padding::kNone && pad_id < 0) {
    throw InvalidArgument("padding needs a pad token, and the vocabulary has none");
  }
  if (options.padding == Padding::kMaxLength && options.max_length > 0) {
    std::size_t length = options.max_length;
    if (options.pad_to_multiple_of > 1) {
      length = (length + options.pad_to_multiple_of - 1) / options.pad_to_multiple_of *
               options.pad_to_multiple_of;
    }
    text::pad_encoding(e, length, pad_id);
  }
  return e;
}

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Encoding Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  return impl_->encode(text, nullptr, options);
}

Encoding Tokenizer::encode(std::string_view text_a, std::string_view text_b,
                           const EncodeOptions& options) const {
  return impl_->encode(text_a, &text_b, options);
}

namespace {

void check_padding(const Tokenizer::Impl& impl, const EncodeOptions& options) {
  if (options.padding != Padding::kNone && impl.pad_id < 0) {
    throw InvalidArgument("padding needs a pad token, and the vocabulary has none");
  }
  if (options.padding == Padding::kMaxLength && options.max_length == 0) {
    throw InvalidArgument("padding to max_length needs max_length > 0");
  }
}

void pad_batch(std::vector<Encoding>& batch, const EncodeOptions& options, std::int32_t pad_id) {
  if (options.padding != Padding::kLongest) return;
  std::size_t longest = 0;
  for (const auto& e : batch) longest = std::max(longest, e.size());
  if (options.pad_to_multiple_of > 1) {
    longest = (longest + options.pad_to_multiple_of - 1) / options.pad_to_multiple_of *
              options.pad_to_multiple_of;
  }
  for (auto& e : batch) text::pad_encoding(e, longest, pad_id);
}

// Encodes items [0, n) in parallel; `encode_one(i)` makes item i. An error names the item.
template <typename EncodeOne>
std::vector<Encoding> encode_many(std::size_t n, int threads, const EncodeOne& encode_one) {
  std::vector<Encoding> out(n);
  util::parallel_for(n, 256, util::resolve_threads(threads),
                     [&](std::size_t begin, std::size_t end) {
                       for (std::size_t i = begin; i < end; ++i) {
                         try {
                           out[i] = encode_one(i);
                         } catch (const Error& error) {
                           throw ParseError("text " + std::to_string(i) + ": " + error.what());
                         }
                       }
                     });
  return out;
}

}  // namespace

std::vector<Encoding> Tokenizer::encode_batch(std::span<const std::string_view> texts,
                                              const EncodeOptions& options, int threads) const {
  check_padding(*impl_, options);
  auto batch = encode_many(texts.size(), threads, [&](std::size_t i) {
    return impl_->encode(texts[i], nullptr, options);
  });
  pad_batch(batch, options, impl_->pad_id);
  return batch;
}

std::vector<Encoding> Tokenizer::encode_batch(std::span<const std::string> texts,
                                              const EncodeOptions& options, int threads) const {
  std::vector<std::string_view> views(texts.begin(), texts.end());
  return encode_batch(std::span<const std::string_view>(views), options, threads);
}

std::vector<Encoding> Tokenizer::encode_pair_batch(
    std::span<const std::pair<std::string, std::string>> pairs, const EncodeOptions& options,
    int threads) const {
  check_padding(*impl_, options);
  auto batch = encode_many(pairs.size(), threads, [&](std::size_t i) {
    const std::string_view b = pairs[i].second;
    return impl_->encode(pairs[i].first, &b, options);
  });
  pad_batch(batch, options, impl_->pad_id);
  return batch;
}

namespace {

// Hugging Face's WordPiece decoder clean-up, applied to each token (with its leading space)
// as it is joined.
void cleanup(std::string& token) {
  static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},     {" ,", ","},
      {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},   {" do not", " don't"},
      {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
  };
  for (const auto& [from, to] : kRules) {
    for (std::size_t pos = token.find(from); pos != std::string::npos;
         pos = token.find(from, pos + to.size())) {
      token.replace(pos, from.size(), to);
    }
  }
}

}  // namespace

std::string Tokenizer::decode(std::span<const std::int32_t> ids, bool skip_special_tokens) const {
  const DecoderOptions& decoder = impl_->decoder;
  std::string out, piece;
  bool first = true;
  for (std::int32_t id : ids) {
    if (skip_special_tokens && impl_->added_tokens.is_special(id)) continue;
    if (id < 0 || static_cast<std::size_t>(id) >= impl_->vocab->size()) {
      throw InvalidArgument("decode: id " + std::to_string(id) + " is outside the vocabulary of " +
                            std::to_string(impl_->vocab->size()));
    }
    std::string_view token = impl_->vocab->token(id);
    piece.clear();
    if (decoder.enabled && !first && token.starts_with(decoder.prefix)) {
      token.remove_prefix(decoder.prefix.size());  // a continuation glues to its word
    } else if (!first) {
      piece.push_back(' ');
    }
    piece.append(token);
    if (decoder.enabled && decoder.cleanup) cleanup(piece);
    out += piece;
    first = false;
  }
  return out;
}

std::vector<std::string> Tokenizer::tokens(std::span<const std::int32_t> ids) const {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (std::int32_t id : ids) out.emplace_back(impl_->vocab->token(id));
  return out;
}

std::string_view Tokenizer::token(std::int32_t id) const {
  return impl_->vocab->token(id);
}
std::int32_t Tokenizer::token_id(std::string_view token) const {
  return impl_->vocab->find(token);
}
std::int32_t Tokenizer::pad_id() const {
  return impl_->pad_id;
}
std::int32_t Tokenizer::unk_id() const {
  return impl_->wordpiece.unk_id();
}
std::size_t Tokenizer::num_special_tokens(bool pair) const {
  return impl_->post_processor.num_special_tokens(pair);
}
const TokenizerInfo& Tokenizer::info() const {
  return impl_->info;
}

}  // namespace bertlite
