// text/tokenizer.cpp - the Tokenizer: runs the stages over one text, a pair, or a batch.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "bertlite/error.h"
#include "text/ascii_scan.h"
#include "text/tokenizer_impl.h"
#include "text/unicode.h"
#include "util/threads.h"

namespace bertlite {

namespace text {
namespace {

// Initialised from the environment on first use (a function-local static, so the order of
// static initialisers across files does not matter).
std::atomic<bool>& general_path_flag() {
  static std::atomic<bool> flag{[] {
    const char* env = std::getenv("BERTLITE_TOKENIZER_GENERAL_PATH");
    return env != nullptr && std::strcmp(env, "1") == 0;
  }()};
  return flag;
}

}  // namespace

bool general_path_only() {
  return general_path_flag().load(std::memory_order_relaxed);
}

void set_general_path_only(bool on) {
  general_path_flag().store(on, std::memory_order_relaxed);
}

}  // namespace text

struct Tokenizer::Impl::Scratch {
  std::vector<text::Segment> segments;
  text::AsciiScan scan;
  text::NormalizedText normalized;
  std::vector<text::Span> words;
  std::vector<text::Piece> pieces;
  text::TokenSequence a, b;
};

Tokenizer::Impl::Scratch& Tokenizer::Impl::scratch() {
  thread_local Scratch s;
  return s;
}

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
  // What a one-byte item of the fused ASCII pass becomes, decided once per byte with the
  // normalizer's and the pre-tokenizer's own rules; anything they would treat specially goes
  // to the general path.
  std::vector<text::Piece> pieces;
  for (int b = 0; b < 128; ++b) {
    one_byte_items_[b] = kGeneralPathItem;
    const int normalized = normalizer.ascii_map()[b];
    if (normalized < 0) continue;  // dropped by cleaning
    const char32_t c = static_cast<char32_t>(normalized);
    const bool alnum = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
    if (text::is_whitespace(c)) {
      one_byte_items_[b] = kSkippedItem;
    } else if (text::is_punctuation(c) || alnum) {
      // A one-byte word is always one piece: the token, or the unknown token.
      pieces.clear();
      wordpiece.tokenize(std::string(1, static_cast<char>(normalized)), pieces);
      one_byte_items_[b] = pieces.at(0).id;
    }
    // Else another word character (NUL or a control character when cleaning is off): the
    // scan's items would not join it to the letters around it.
  }
  for (const auto& token : added_tokens.tokens()) {
    for (char c : token.content) added_tokens_ascii_ &= static_cast<unsigned char>(c) < 0x80;
  }
}

void Tokenizer::Impl::tokenize(std::string_view text, text::TokenSequence& out, Scratch& s,
                               std::string_view where) const {
  out.ids.clear();
  out.offsets.clear();
  // Valid UTF-8 is checked only when needed: a text whose plain segments are all ASCII (the
  // fused pass checks that as it goes) and whose added tokens are ASCII is ASCII.
  bool checked = false;
  auto check_utf8 = [&] {
    if (!checked) text::check_utf8(text, where);
    checked = true;
  };
  const bool fused = !text::general_path_only();
  if (!added_tokens_ascii_ || !fused) check_utf8();
  s.segments.clear();
  added_tokens.split(text, s.segments);
  for (const text::Segment& segment : s.segments) {
    if (segment.added_id >= 0) {
      out.ids.push_back(segment.added_id);
      out.offsets.push_back({segment.begin, segment.end});
    } else if (!fused || !tokenize_ascii_segment(text, segment.begin, segment.end, out, s)) {
      check_utf8();
      tokenize_segment(text, segment.begin, segment.end, out, s);
    }
  }
}

void Tokenizer::Impl::tokenize_segment(std::string_view text, std::uint32_t begin,
                                       std::uint32_t end, text::TokenSequence& out,
                                       Scratch& s) const {
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
                                             std::uint32_t end, text::TokenSequence& out,
                                             Scratch& s) const {
  const std::string_view segment = text.substr(begin, end - begin);
  const text::AsciiScan& scan = s.scan;
  if (!text::scan_ascii(segment, normalizer.options().lowercase, s.scan)) return false;
  // Locals rather than members, so they stay in registers across the rare calls below.
  const char* lowered = scan.lowered.data();
  const std::uint32_t* item_begins = scan.begins.data();
  const std::uint32_t* item_ends = scan.ends.data();
  const std::size_t items = scan.items;
  const text::TokenTable& vocab_table = wordpiece.vocab().table();
  const std::size_t short_word_bytes = wordpiece.short_whole_word_bytes();
  // The output is written in place. Invariant: before item k, there is room for items - k
  // more tokens, enough unless a word splits into pieces (then it grows by what it needs).
  const std::size_t ids_before = out.ids.size();
  std::size_t count = ids_before;
  out.ids.resize(count + items);
  out.offsets.resize(count + items);
  std::int32_t* ids = out.ids.data();
  Offset* offsets = out.offsets.data();
  auto emit = [&](std::int32_t id, std::uint32_t token_begin, std::uint32_t token_end) {
    ids[count] = id;
    offsets[count] = {begin + token_begin, begin + token_end};
    ++count;
  };
  for (std::size_t item = 0; item < items; ++item) {
    const std::uint32_t item_begin = item_begins[item];
    const std::uint32_t item_end = item_ends[item];
    const std::size_t length = item_end - item_begin;
    if (length == 1) {  // punctuation, a one-letter word, or a byte of whitespace
      const std::int32_t id = one_byte_items_[static_cast<unsigned char>(segment[item_begin])];
      if (id >= 0) {
        emit(id, item_begin, item_end);
      } else if (id == kGeneralPathItem) {
        out.ids.resize(ids_before);
        out.offsets.resize(ids_before);
        return false;
      }
      continue;
    }
    // A longer item is a run of letters and digits: one word. Most words are tokens as they
    // stand: one look-up, straight from the lowered bytes (padded, so a ShortKey reads them in
    // place).
    const char* word = lowered + item_begin;
    const std::int32_t id = length <= short_word_bytes  // whole_word_id, with the key read in place
                                ? vocab_table.find_short(text::ShortKey::load(word, length))
                                : wordpiece.whole_word_id(std::string_view(word, length));
    if (id >= 0) {
      emit(id, item_begin, item_end);
      continue;
    }
    s.pieces.clear();
    wordpiece.tokenize_padded(std::string_view(word, length), s.pieces);
    if (const std::size_t needed = count + s.pieces.size() + (items - item - 1);
        needed > out.ids.size()) {
      out.ids.resize(needed);
      out.offsets.resize(needed);
      ids = out.ids.data();
      offsets = out.offsets.data();
    }
    for (const text::Piece& piece : s.pieces) {
      emit(piece.id, item_begin + piece.begin, item_begin + piece.end);
    }
  }
  out.ids.resize(count);
  out.offsets.resize(count);
  return true;
}

void Tokenizer::Impl::encode(std::string_view a, const std::string_view* b,
                             const EncodeOptions& options, Encoding& out) const {
  Scratch& s = scratch();
  tokenize(a, s.a, s);
  if (b) tokenize(*b, s.b, s, "second text: ");
  post_processor.process(s.a, b ? &s.b : nullptr, options, out);
  if (options.padding != Padding::kNone && pad_id < 0) {
    throw InvalidArgument("padding needs a pad token, and the vocabulary has none");
  }
  if (options.padding == Padding::kMaxLength && options.max_length > 0) {
    std::size_t length = options.max_length;
    if (options.pad_to_multiple_of > 1) {
      length = (length + options.pad_to_multiple_of - 1) / options.pad_to_multiple_of *
               options.pad_to_multiple_of;
    }
    text::pad_encoding(out, length, pad_id);
  }
}

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Encoding Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  Encoding e;
  impl_->encode(text, nullptr, options, e);
  return e;
}

Encoding Tokenizer::encode(std::string_view text_a, std::string_view text_b,
                           const EncodeOptions& options) const {
  Encoding e;
  impl_->encode(text_a, &text_b, options, e);
  return e;
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

// Encodes items [0, n) in parallel; `encode_one(i, e)` makes item i in `e` (each in its place
// in the result, so no Encoding is moved). An error names the item.
template <typename EncodeOne>
std::vector<Encoding> encode_many(std::size_t n, int threads, const EncodeOne& encode_one) {
  std::vector<Encoding> out(n);
  util::parallel_for(n, 256, util::resolve_threads(threads),
                     [&](std::size_t begin, std::size_t end) {
                       for (std::size_t i = begin; i < end; ++i) {
                         try {
                           encode_one(i, out[i]);
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
  auto batch = encode_many(texts.size(), threads, [&](std::size_t i, Encoding& e) {
    impl_->encode(texts[i], nullptr, options, e);
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
  auto batch = encode_many(pairs.size(), threads, [&](std::size_t i, Encoding& e) {
    const std::string_view b = pairs[i].second;
    impl_->encode(pairs[i].first, &b, options, e);
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
