// text/normalizer.h - stage 1 of tokenization: BERT's normalizer.
//
// In order (Hugging Face tokenizers' BertNormalizer):
//   1. clean: drop U+0000, U+FFFD and control characters; whitespace becomes ' ';
//   2. put a space on each side of every CJK ideograph;
//   3. strip accents: NFD, then drop nonspacing marks (Mn);
//   4. lowercase, character by character (no final-sigma rule).
// The output keeps, for every byte, the byte offset of the original character it came from,
// so tokens can be mapped back to the caller's text. Input must be valid UTF-8.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bertlite::text {

struct NormalizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;  // tokenizer.json's null means "same as lowercase"
  bool lowercase = true;
};

// Normalized text plus, per byte of `text`, the byte offset in the original of the character
// that produced it. A normalized character never spans two original characters.
struct NormalizedText {
  std::string text;
  std::vector<std::uint32_t> origin;

  void clear() {
    text.clear();
    origin.clear();
  }
};

class Normalizer {
 public:
  explicit Normalizer(NormalizerOptions options = {});

  // Normalizes `input`; origin offsets are relative to `input` plus `base_offset`.
  // Appends to `out` (call out.clear() first for a fresh result).
  void normalize(std::string_view input, std::uint32_t base_offset, NormalizedText& out) const;

  NormalizedText normalize(std::string_view input) const {
    NormalizedText out;
    normalize(input, 0, out);
    return out;
  }

  const NormalizerOptions& options() const { return options_; }
  // What each ASCII byte becomes on its own: a byte, or -1 when cleaning drops it.
  const std::int16_t* ascii_map() const { return ascii_map_; }

 private:
  // Appends what one non-ASCII code point becomes.
  void normalize_code_point(char32_t cp, std::uint32_t origin, NormalizedText& out) const;

  NormalizerOptions options_;
  // What each ASCII byte becomes: itself, a lowercased letter, ' ', or kDropped.
  std::int16_t ascii_map_[128];
  static constexpr std::int16_t kDropped = -1;
};

}  // namespace bertlite::text
