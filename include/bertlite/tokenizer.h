// bertlite/tokenizer.h - BERT WordPiece tokenization, identical to Hugging Face's fast
// BertTokenizer (the `tokenizers` library) for uncased and cased BERT-family models.
//
//   #include <bertlite/tokenizer.h>
//
//   auto tokenizer = bertlite::Tokenizer::from_folder("models/all-MiniLM-L6-v2");
//   bertlite::Encoding e = tokenizer.encode("a visually stunning rumination on love");
//   // e.ids    = 101 1037 17453 14726 19379 12758 2006 2293 102
//   // tokens:   [CLS] a visually stunning rum ##ination on love [SEP]
//   for (auto id : e.ids) std::cout << tokenizer.token(id) << ' ';
//
// Pipeline: split out added tokens ("[SEP]" in the text stays one token) -> normalize (clean,
// CJK spacing, NFD + accent strip, lowercase) -> pre-tokenize (whitespace, punctuation) ->
// WordPiece -> post-process (special tokens from the template, type ids, truncation, padding).
// Offsets are byte offsets into the caller's UTF-8 text. Errors throw bertlite::Error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bertlite {

// Bytes [begin, end) of the original text; (0, 0) for tokens the template added.
struct Offset {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  bool operator==(const Offset&) const = default;
};

// The tokenizer's output for one text or one pair of texts. All vectors have size().
struct Encoding {
  std::vector<std::int32_t> ids;
  std::vector<std::int32_t> type_ids;             // 0 for the first text, 1 for the second
  std::vector<std::int32_t> attention_mask;       // 1 for real tokens, 0 for padding
  std::vector<std::int32_t> special_tokens_mask;  // 1 for tokens the template or padding added
  std::vector<Offset> offsets;
  // How many tokens of the texts truncation removed (0 when nothing was cut).
  std::size_t truncated = 0;

  std::size_t size() const { return ids.size(); }
};

enum class Padding {
  kNone,       // each encoding keeps its own length
  kLongest,    // pad every encoding of a batch to the longest one
  kMaxLength,  // pad every encoding to EncodeOptions::max_length
};

struct EncodeOptions {
  bool add_special_tokens = true;
  // Truncate to at most this many tokens, special tokens included; 0 = no truncation.
  // Pairs are cut longest-first, as Hugging Face does.
  std::size_t max_length = 0;
  Padding padding = Padding::kNone;
  // When padding, round the padded length up to a multiple of this (0 or 1 = no rounding).
  std::size_t pad_to_multiple_of = 0;
};

// What a tokenizer is made of, as read from tokenizer.json or vocab.txt + tokenizer_config.json.
struct TokenizerInfo {
  std::size_t vocab_size = 0;
  bool lowercase = true;
  bool strip_accents = true;
  bool handle_chinese_chars = true;
  bool clean_text = true;
  std::size_t model_max_length = 512;
  std::string source;  // the file(s) it was loaded from
};

class Tokenizer {
 public:
  // Loads a model folder: tokenizer.json when present, else vocab.txt (with
  // tokenizer_config.json for do_lower_case / strip_accents / special tokens when present).
  // tokenizer_config.json's model_max_length is read in both cases.
  static Tokenizer from_folder(const std::filesystem::path& folder);
  // Loads a tokenizer.json file; throws Unsupported naming any component it cannot honour.
  static Tokenizer from_tokenizer_json(const std::filesystem::path& path);
  // Same, from the file's contents; `name` is used in error messages.
  static Tokenizer from_tokenizer_json_text(std::string_view json, std::string_view name);
  // Loads vocab.txt with BERT's usual normalizer; `tokenizer_config` may be empty.
  static Tokenizer from_vocab_file(const std::filesystem::path& vocab,
                                   const std::filesystem::path& tokenizer_config = {});
  // Builds a tokenizer from a list of tokens (id = position) and normalizer switches.
  static Tokenizer from_tokens(std::vector<std::string> tokens, bool lowercase = true,
                               bool strip_accents = true);

  // One text: [CLS] tokens [SEP]. Throws ParseError on invalid UTF-8 (naming the byte offset).
  Encoding encode(std::string_view text, const EncodeOptions& options = {}) const;
  // A pair: [CLS] a [SEP] b [SEP], with type id 1 from b on.
  Encoding encode(std::string_view text_a, std::string_view text_b,
                  const EncodeOptions& options = {}) const;
  // Many texts, on `threads` threads (0 = all available cores). Padding::kLongest pads to the
  // longest encoding in the batch. If a text is invalid, the error names its index.
  std::vector<Encoding> encode_batch(std::span<const std::string> texts,
                                     const EncodeOptions& options = {}, int threads = 0) const;
  std::vector<Encoding> encode_batch(std::span<const std::string_view> texts,
                                     const EncodeOptions& options = {}, int threads = 0) const;
  std::vector<Encoding> encode_pair_batch(
      std::span<const std::pair<std::string, std::string>> pairs, const EncodeOptions& options = {},
      int threads = 0) const;

  // Text from ids: continuation pieces glued to their word, tokens joined by spaces, spaces
  // before punctuation and contractions cleaned up (Hugging Face's WordPiece decoder).
  std::string decode(std::span<const std::int32_t> ids, bool skip_special_tokens = true) const;

  // The tokens of ids, e.g. for display.
  std::vector<std::string> tokens(std::span<const std::int32_t> ids) const;
  std::string_view token(std::int32_t id) const;
  // Id of a token, or -1.
  std::int32_t token_id(std::string_view token) const;

  std::int32_t pad_id() const;
  std::int32_t unk_id() const;
  // The number of special tokens the template adds to one text (pair = false) or to a pair.
  std::size_t num_special_tokens(bool pair = false) const;
  const TokenizerInfo& info() const;

  class Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace bertlite
