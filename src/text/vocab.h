// text/vocab.h - a WordPiece vocabulary: token <-> id, with a lookup table built for speed.
//
// Loaded from vocab.txt (one token per line, id = 0-based line number) or from the
// "vocab" object of tokenizer.json. Knows nothing of normalization or special-token roles.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bertlite::text {

// Open-addressing hash table from byte strings to ids. Keys are views into storage the
// owner keeps alive (the Vocab's token strings).
class TokenTable {
 public:
  void build(const std::vector<std::pair<std::string_view, std::int32_t>>& entries);
  // Id of `key`, or -1.
  std::int32_t find(std::string_view key) const;

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::int32_t id = -1;
    std::uint32_t length = 0;
    const char* key = nullptr;
  };
  std::vector<Slot> slots_;
  std::uint64_t mask_ = 0;
};

class Vocab {
 public:
  Vocab() = default;
  // Lookup tables point into the token strings, so a Vocab moves but never copies.
  Vocab(const Vocab&) = delete;
  Vocab& operator=(const Vocab&) = delete;
  Vocab(Vocab&&) = default;
  Vocab& operator=(Vocab&&) = default;
  // Tokens in id order: entries[i] has id i.
  explicit Vocab(std::vector<std::string> tokens_by_id);
  // (token, id) pairs as tokenizer.json lists them; ids need not be contiguous.
  explicit Vocab(std::vector<std::pair<std::string, std::int32_t>> token_ids);

  // Reads vocab.txt. Throws IoError / ParseError naming the file and line.
  static Vocab from_file(const std::filesystem::path& path);
  // Parses the text of a vocab.txt; `name` is used in error messages.
  static Vocab from_text(std::string_view text, std::string_view name = "vocab.txt");

  // Id of `token`, or -1 when it is not in the vocabulary.
  std::int32_t find(std::string_view token) const { return table_.find(token); }
  // The token with id `id`; empty for an id outside the vocabulary.
  std::string_view token(std::int32_t id) const;
  // Number of ids (one past the largest id).
  std::size_t size() const { return tokens_.size(); }
  // Longest token in bytes: no WordPiece match can be longer.
  std::size_t max_token_bytes() const { return max_token_bytes_; }

 private:
  void index();

  std::vector<std::string> tokens_;  // by id; "" where an id is unused
  std::vector<std::pair<std::string_view, std::int32_t>> entries_;
  TokenTable table_;
  std::size_t max_token_bytes_ = 0;
};

}  // namespace bertlite::text
