// text/ascii_scan.h - the first step of the tokenizer's fused ASCII path: one pass over a
// segment that splits it into items and normalizes their letters, 64 bytes at a time.
//
// For each byte it decides the three things that need no table: is it ASCII, is it a letter or
// digit (always part of a word, whatever the normalizer's options), is it ' ' (always a word
// separator). From that, the items: each maximal run of letters and digits, and each other
// byte that is not ' ' on its own (punctuation, but also tabs or control characters, which the
// caller classifies with its own tables). It also writes the bytes with A-Z lowercased when
// asked, followed by zero padding, so a word's key can be loaded with a fixed-width read.
//
// On x86-64 the classification runs 32 bytes at a time with AVX2 when the CPU has it (checked
// once, at run time) and 16 at a time with SSE2 otherwise (every x86-64 CPU has it); the items
// come out of the resulting bitmaps 64 bytes at a time with bit tricks, so the tokenizer's loop
// runs once per item rather than once per byte. Other CPUs classify one byte at a time, which
// is also the reference the tests compare the vector versions with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace bertlite::text {

struct AsciiScan {
  // The readable bytes past the end of `lowered` (all zero): enough for any ShortKey::load.
  static constexpr std::size_t kPadding = 16;

  // The bytes, A-Z lowercased if asked, then at least kPadding zero bytes.
  std::vector<char> lowered;
  // Item k is bytes [begins[k], ends[k]), for k < items, in order. (The vectors are only ever
  // grown, so they may be longer.)
  std::size_t items = 0;
  std::vector<std::uint32_t> begins;
  std::vector<std::uint32_t> ends;
};

// Scans `bytes` (at most 2^32 - 1 of them) into `out`. Returns false, as soon as it sees one,
// when a byte is not ASCII (`out` is then unspecified). Uses the best classifier the CPU has.
bool scan_ascii(std::string_view bytes, bool lowercase, AsciiScan& out);

// Each classifier on its own, for the tests: one byte at a time (any CPU), SSE2 (x86-64), AVX2
// (x86-64 CPUs where cpu_has_avx2()).
bool scan_ascii_scalar(std::string_view bytes, bool lowercase, AsciiScan& out);
#if defined(__x86_64__) && defined(__GNUC__)
#define BERTLITE_SCAN_X86 1
bool scan_ascii_sse2(std::string_view bytes, bool lowercase, AsciiScan& out);
bool scan_ascii_avx2(std::string_view bytes, bool lowercase, AsciiScan& out);
bool cpu_has_avx2();
#endif

}  // namespace bertlite::text
