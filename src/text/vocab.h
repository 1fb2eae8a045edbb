// text/vocab.h - a WordPiece vocabulary: token <-> id, with a lookup table built for speed.
//
// Loaded from vocab.txt (one token per line, id = 0-based line number) or from the
// "vocab" object of tokenizer.json. Knows nothing of normalization or special-token roles.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bertlite::text {

// Open-addressing hash table from byte strings to ids, built once and then only read.
// Laid out for the cache, since WordPiece does several look-ups per word: 8-byte slots (a
// 32-bit hash tag and an entry index), all keys in one contiguous arena, and a 32 KB
// Bloom-style bit filter that rejects most absent keys without touching the table.
//
// The hash is incremental (one step per byte), so WordPiece can hash every prefix of a word
// in one pass and then try candidates from the longest down without re-hashing.
class TokenTable {
 public:
  // Keys are copied into the table's own arena.
  void build(const std::vector<std::pair<std::string_view, std::int32_t>>& entries);

  static constexpr std::uint64_t kHashSeed = 0xCBF29CE484222325ull;  // FNV-1a 64
  static std::uint64_t hash_step(std::uint64_t h, unsigned char byte) {
    return (h ^ byte) * 0x100000001B3ull;
  }
  // Mixes the running hash of a whole key; what the slot index, tag and filter use.
  static std::uint64_t hash_finish(std::uint64_t h) {
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return h;
  }
  static std::uint64_t hash_bytes(std::string_view key) {
    std::uint64_t h = kHashSeed;
    for (char c : key) h = hash_step(h, static_cast<unsigned char>(c));
    return hash_finish(h);
  }

  // Id of `key`, or -1.
  std::int32_t find(std::string_view key) const { return find_hashed(key, hash_bytes(key)); }

  // Same, with `hash` = hash_bytes(key) already computed.
  std::int32_t find_hashed(std::string_view key, std::uint64_t hash) const {
    if (slots_.empty()) return -1;
    const std::uint64_t bit = (hash >> 20) & (kFilterBits - 1);
    if (!(filter_[bit >> 6] >> (bit & 63) & 1)) return -1;
    const auto tag = static_cast<std::uint32_t>(hash >> 32);
    for (std::uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot slot = slots_[i];
      if (slot.entry == kEmpty) return -1;
      if (slot.tag == tag) {
        const Key& k = keys_[slot.entry];
        if (k.length == key.size() &&
            equal_bytes(arena_.data() + k.offset, key.data(), key.size())) {
          return k.id;
        }
      }
    }
  }

 private:
  // Tokens are short: a plain loop the compiler inlines beats a call into libc's memcmp.
  static bool equal_bytes(const char* a, const char* b, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }

  static constexpr std::uint32_t kEmpty = UINT32_MAX;
  static constexpr std::uint64_t kFilterBits = 1 << 18;  // 32 KB: stays in L1/L2
  struct Slot {
    std::uint32_t tag = 0;
    std::uint32_t entry = kEmpty;  // index into keys_
  };
  struct Key {
    std::uint32_t offset;
    std::uint32_t length;
    std::int32_t id;
  };
  std::vector<Slot> slots_;
  std::vector<Key> keys_;
  std::string arena_;
  std::vector<std::uint64_t> filter_;
  std::uint64_t mask_ = 0;
};

class Vocab {
 public:
  Vocab() = default;
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
  const TokenTable& table() const { return table_; }
  // Every (token, id) a look-up can return: repeated tokens once (with the id they find), and
  // tokens that share an id with another (tokenizer.json allows it) included.
  std::vector<std::pair<std::string_view, std::int32_t>> entries() const;
  // The token with id `id`; empty for an id outside the vocabulary.
  std::string_view token(std::int32_t id) const;
  // Number of ids (one past the largest id).
  std::size_t size() const { return tokens_.size(); }
  // Longest token in bytes: no WordPiece match can be longer.
  std::size_t max_token_bytes() const { return max_token_bytes_; }

 private:
  std::vector<std::string> tokens_;  // by id; "" where an id is unused
  // Tokens whose id another token also has (token(id) names the last one listed).
  std::vector<std::pair<std::string, std::int32_t>> shadowed_;
  TokenTable table_;
  std::size_t max_token_bytes_ = 0;
};

}  // namespace bertlite::text
