// text/vocab.h - a WordPiece vocabulary: token <-> id, with a lookup table built for speed.
//
// Loaded from vocab.txt (one token per line, id = 0-based line number) or from the
// "vocab" object of tokenizer.json. Knows nothing of normalization or special-token roles.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace bertlite::text {

// A key of 1..kMaxBytes bytes with no NUL byte, zero-padded into two words: bytes 0-7 in
// `lo`, bytes 8-11 in `hi` (byte i in bits 8i..8i+7, the little-endian load order). Since such a
// key has no NUL, the padding is unambiguous: two keys are equal exactly when both words are.
struct ShortKey {
  static constexpr std::size_t kMaxBytes = 12;
  std::uint64_t lo = 0;
  std::uint32_t hi = 0;

  // The key of bytes[0, length), 1 <= length <= kMaxBytes, reading kMaxBytes bytes: the caller
  // guarantees bytes[length, kMaxBytes) are readable (their values do not matter).
  static ShortKey load(const char* bytes, std::size_t length) {
    static_assert(std::endian::native == std::endian::little,
                  "ShortKey packs bytes little-end first");
    ShortKey key;
    std::memcpy(&key.lo, bytes, 8);
    std::memcpy(&key.hi, bytes + 8, 4);
    return key.prefix(length);
  }
  // The key of `bytes` (1..kMaxBytes bytes) when nothing past them may be read.
  static ShortKey load_unpadded(std::string_view bytes) {
    char padded[kMaxBytes] = {};
    std::memcpy(padded, bytes.data(), bytes.size());
    return load(padded, bytes.size());
  }
  // The key of the first `length` bytes of this one.
  ShortKey prefix(std::size_t length) const {
    return {lo & kLoMasks[length], hi & kHiMasks[length]};
  }

 private:
  // Masks that keep bytes 0..n-1 of a key, by n: tables, since WordPiece takes many prefixes.
  static constexpr auto kLoMasks = [] {
    std::array<std::uint64_t, kMaxBytes + 1> masks{};
    for (std::size_t n = 1; n <= kMaxBytes; ++n) masks[n] = n >= 8 ? ~0ull : (1ull << 8 * n) - 1;
    return masks;
  }();
  static constexpr auto kHiMasks = [] {
    std::array<std::uint32_t, kMaxBytes + 1> masks{};
    for (std::size_t n = 9; n <= kMaxBytes; ++n) masks[n] = ~0u >> 8 * (kMaxBytes - n);
    return masks;
  }();
};

// Hash table from byte strings to ids, built once and then only read.
//
// Laid out for the cache, since tokenizing does at least one look-up per word and the table is
// far bigger than L1. A short key (most tokens and most English words: 1..12 bytes, no NUL) is
// stored inline, beside its id, in a bucket of four that fills one 64-byte cache line; buckets
// are open-addressed (linear probing) at a load factor of at most 1/2, so nearly every look-up,
// hit or miss, reads one cache line and compares four keys at once. Other keys (longer, empty,
// or holding a NUL: 381 of BERT's 30,522 tokens, none of its continuations) live in a second
// table that stores a full 64-bit hash and points into an arena.
//
// WordPiece's longest-match search mostly looks up candidates that are not tokens; for those,
// a Bloom-style bit filter rules most out without touching the table.
class TokenTable {
 public:
  TokenTable() { build({}); }  // empty, and ready for look-ups
  // Keys are copied into the table; ids are >= 0. A repeated key keeps the later id.
  void build(const std::vector<std::pair<std::string_view, std::int32_t>>& entries);

  // Id of `key`, or -1.
  std::int32_t find(std::string_view key) const {
    if (is_short(key)) return find_short(ShortKey::load_unpadded(key));
    return find_other(key);
  }

  // Id of a short key, or -1.
  std::int32_t find_short(ShortKey key) const { return probe_short(key, hash_short(key)); }

  // The same, for a key that is probably not in the table: the filter rules most such keys
  // out without touching the table.
  std::int32_t find_short_filtered(ShortKey key) const {
    const std::uint64_t hash = hash_short(key);
    const std::uint64_t bit = hash >> (64 - kFilterBitsLog2);
    if (!(filter_[bit >> 6] >> (bit & 63) & 1)) return -1;
    return probe_short(key, hash);
  }

  // True when `key` is stored as a ShortKey.
  static bool is_short(std::string_view key) {
    return !key.empty() && key.size() <= ShortKey::kMaxBytes &&
           std::memchr(key.data(), 0, key.size()) == nullptr;
  }

 private:
  // One 64x64->128-bit multiply of the key's two words, folded (the wyhash mixer): every key
  // byte reaches both the low bits that pick the bucket and the high bits that pick the
  // filter bit.
  static std::uint64_t hash_short(ShortKey key) {
    __extension__ using u128 = unsigned __int128;
    const u128 product = static_cast<u128>(key.lo ^ 0x2D358DCCAA6C78A5ull) *
                         static_cast<u128>(key.hi ^ 0x8BB84B93962EACC9ull);
    return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
  }

  static constexpr int kSlotsPerBucket = 4;
  // Structure of arrays, so the four keys compare with a few vector instructions. Slots fill
  // in order, so a bucket with an empty slot has lo[3] == 0 (a real key's lo is never 0).
  struct alignas(64) ShortBucket {
    std::uint64_t lo[kSlotsPerBucket] = {};
    std::uint32_t hi[kSlotsPerBucket] = {};
    std::int32_t id[kSlotsPerBucket] = {};
  };
  static_assert(sizeof(ShortBucket) == 64);

  // Bit k of the result is set when slot k of `bucket` holds `key`.
  static unsigned match_slots(const ShortBucket& bucket, ShortKey key) {
#if defined(__SSE2__)
    // SSE2 has no 64-bit compare: compare 32-bit halves, and a lo matches when both do.
    const __m128i key_lo = _mm_set1_epi64x(static_cast<long long>(key.lo));
    const __m128i* lo = reinterpret_cast<const __m128i*>(bucket.lo);
    __m128i eq01 = _mm_cmpeq_epi32(_mm_load_si128(lo), key_lo);
    __m128i eq23 = _mm_cmpeq_epi32(_mm_load_si128(lo + 1), key_lo);
    eq01 = _mm_and_si128(eq01, _mm_shuffle_epi32(eq01, _MM_SHUFFLE(2, 3, 0, 1)));
    eq23 = _mm_and_si128(eq23, _mm_shuffle_epi32(eq23, _MM_SHUFFLE(2, 3, 0, 1)));
    const __m128 lo_eq =
        _mm_shuffle_ps(_mm_castsi128_ps(eq01), _mm_castsi128_ps(eq23), _MM_SHUFFLE(2, 0, 2, 0));
    const __m128i hi_eq =
        _mm_cmpeq_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(bucket.hi)),
                        _mm_set1_epi32(static_cast<int>(key.hi)));
    return static_cast<unsigned>(_mm_movemask_ps(_mm_and_ps(lo_eq, _mm_castsi128_ps(hi_eq))));
#else
    unsigned match = 0;
    for (int k = 0; k < kSlotsPerBucket; ++k) {
      match |= unsigned{bucket.lo[k] == key.lo && bucket.hi[k] == key.hi} << k;
    }
    return match;
#endif
  }

  std::int32_t probe_short(ShortKey key, std::uint64_t hash) const {
    for (std::uint64_t b = hash & bucket_mask_;; b = (b + 1) & bucket_mask_) {
      const ShortBucket& bucket = buckets_[b];
      if (const unsigned match = match_slots(bucket, key))
        return bucket.id[std::countr_zero(match)];
      if (bucket.lo[kSlotsPerBucket - 1] == 0) return -1;  // not full: the key would be here
    }
  }

  // Any key (the rare ones that are not short): FNV-1a with a final mix.
  static std::uint64_t hash_other(std::string_view key);
  std::int32_t find_other(std::string_view key) const;

  struct OtherSlot {
    std::uint64_t hash = 0;
    std::uint32_t offset = 0;  // key bytes: arena_[offset, offset + length)
    std::uint32_t length = 0;
    std::int32_t id = -1;  // -1: empty
  };
  std::vector<ShortBucket> buckets_;
  std::uint64_t bucket_mask_ = 0;
  // One bit per key, picked by the top bits of its hash (the bucket uses the low ones). 32 KB,
  // for L1/L2: for BERT's 30,522 tokens about 1 absent key in 9 gets through. (Three bits per
  // key in one 64-bit word let through 1 in 25, but cost more than they saved.)
  static constexpr int kFilterBitsLog2 = 18;
  std::vector<std::uint64_t> filter_;
  std::vector<OtherSlot> other_slots_;
  std::uint64_t other_mask_ = 0;
  std::string arena_;
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
