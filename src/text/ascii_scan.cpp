// text/ascii_scan.cpp - the ASCII scan: a classifier per CPU, and the items from its bitmaps.
#include "text/ascii_scan.h"

#include <cstring>

#if defined(BERTLITE_SCAN_X86)
#include <immintrin.h>
#endif

namespace bertlite::text {
namespace {

// The scan works in chunks of 64 bytes, one bit per byte in a 64-bit word; a last, partial
// chunk is copied into a zeroed 64-byte buffer first, so the loop never reads past the input.
constexpr std::size_t kChunk = 64;

// What a classifier finds in one chunk: bit i is about byte i.
struct ChunkClasses {
  std::uint64_t alnum;     // a letter or digit
  std::uint64_t nonspace;  // not ' '
  bool ascii;              // every byte is below 0x80
};

// Classifies 64 bytes and writes them, lowercased if asked, to `lowered`.
ChunkClasses classify_scalar(const char* in, bool lowercase, char* lowered) {
  ChunkClasses classes{0, 0, true};
  for (std::size_t i = 0; i < kChunk; ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    classes.ascii &= c < 0x80;
    const bool upper = c >= 'A' && c <= 'Z';
    const bool alnum = upper || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    classes.alnum |= std::uint64_t{alnum} << i;
    classes.nonspace |= std::uint64_t{c != ' '} << i;
    lowered[i] = static_cast<char>(lowercase && upper ? c + ('a' - 'A') : c);
  }
  return classes;
}

#if defined(BERTLITE_SCAN_X86)
// The same, 16 bytes at a time.
ChunkClasses classify_sse2(const char* in, bool lowercase, char* lowered) {
  // SSE2 compares only signed bytes, so a range check shifts the range to start at -128:
  // x in [lo, lo + n) <=> (x - lo + 128) mod 256 < -128 + n as a signed byte, for any byte x.
  auto in_range = [](__m128i x, char lo, int n) {
    return _mm_cmplt_epi8(_mm_add_epi8(x, _mm_set1_epi8(static_cast<char>(0x80 - lo))),
                          _mm_set1_epi8(static_cast<char>(-128 + n)));
  };
  const __m128i lowercase_bit = _mm_set1_epi8(lowercase ? 0x20 : 0);
  ChunkClasses classes{0, 0, true};
  int high = 0;
  for (int block = 0; block < 4; ++block) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in) + block);
    high |= _mm_movemask_epi8(x);
    const __m128i upper = in_range(x, 'A', 26);
    const __m128i alnum =
        _mm_or_si128(_mm_or_si128(upper, in_range(x, 'a', 26)), in_range(x, '0', 10));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(lowered) + block,
                     _mm_or_si128(x, _mm_and_si128(upper, lowercase_bit)));
    const auto alnum_bits = static_cast<std::uint16_t>(_mm_movemask_epi8(alnum));
    const auto space_bits =
        static_cast<std::uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(' '))));
    classes.alnum |= std::uint64_t{alnum_bits} << (16 * block);
    classes.nonspace |= std::uint64_t{static_cast<std::uint16_t>(~space_bits)} << (16 * block);
  }
  classes.ascii = high == 0;
  return classes;
}

// The same as classify_sse2 with 32-byte vectors. Only called where the CPU has AVX2.
__attribute__((target("avx2"))) inline __m256i in_range_avx2(__m256i x, char lo, int n) {
  return _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(-128 + n)),
                           _mm256_add_epi8(x, _mm256_set1_epi8(static_cast<char>(0x80 - lo))));
}

__attribute__((target("avx2"))) inline ChunkClasses classify_avx2(const char* in, bool lowercase,
                                                                  char* lowered) {
  const __m256i lowercase_bit = _mm256_set1_epi8(lowercase ? 0x20 : 0);
  ChunkClasses classes{0, 0, true};
  int high = 0;
  for (int block = 0; block < 2; ++block) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in) + block);
    high |= _mm256_movemask_epi8(x);
    const __m256i upper = in_range_avx2(x, 'A', 26);
    const __m256i alnum = _mm256_or_si256(_mm256_or_si256(upper, in_range_avx2(x, 'a', 26)),
                                          in_range_avx2(x, '0', 10));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(lowered) + block,
                        _mm256_or_si256(x, _mm256_and_si256(upper, lowercase_bit)));
    const auto alnum_bits = static_cast<std::uint32_t>(_mm256_movemask_epi8(alnum));
    const auto space_bits = static_cast<std::uint32_t>(
        _mm256_movemask_epi8(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(' '))));
    classes.alnum |= std::uint64_t{alnum_bits} << (32 * block);
    classes.nonspace |= std::uint64_t{~space_bits} << (32 * block);
  }
  classes.ascii = high == 0;
  return classes;
}
#endif

// Appends base + the position of each set bit of `bits`, lowest first.
std::uint32_t* append_positions(std::uint64_t bits, std::uint32_t base, std::uint32_t* out) {
  while (bits != 0) {
    *out++ = base + static_cast<std::uint32_t>(__builtin_ctzll(bits));
    bits &= bits - 1;
  }
  return out;
}

using Classifier = ChunkClasses (*)(const char* in, bool lowercase, char* lowered);

// The scan, inlined into each caller so that it is compiled for that caller's instruction set
// with its classifier inlined.
template <Classifier classify>
[[gnu::always_inline]] inline bool scan(std::string_view bytes, bool lowercase, AsciiScan& out) {
  const std::size_t size = bytes.size();
  const std::size_t chunks = (size + kChunk - 1) / kChunk;
  // Never shrunk, so steady state allocates nothing: only what is written below is read.
  const std::size_t lowered_bytes = chunks * kChunk + AsciiScan::kPadding;
  if (out.lowered.size() < lowered_bytes) out.lowered.resize(lowered_bytes);
  std::memset(out.lowered.data() + chunks * kChunk, 0, AsciiScan::kPadding);
  if (out.begins.size() < size) {  // at most one item per byte
    out.begins.resize(size);
    out.ends.resize(size);
  }
  std::uint32_t* begins = out.begins.data();
  std::uint32_t* ends = out.ends.data();
  // Bit 63 of the previous chunk's bitmaps: whether the byte before this chunk was a letter or
  // digit, or another item.
  std::uint64_t alnum_carry = 0, other_carry = 0;
  alignas(16) char last_chunk[kChunk];
  for (std::size_t chunk = 0; chunk < chunks; ++chunk) {
    const std::size_t base = chunk * kChunk;
    const char* in = bytes.data() + base;
    std::uint64_t in_input = ~std::uint64_t{0};
    if (size - base < kChunk) {
      std::memset(last_chunk, 0, kChunk);
      std::memcpy(last_chunk, in, size - base);
      in = last_chunk;
      in_input = ~(~std::uint64_t{0} << (size - base));
    }
    const ChunkClasses classes = classify(in, lowercase, out.lowered.data() + base);
    if (!classes.ascii) return false;
    // With "before" = the same bitmap shifted by one byte (bit i says what byte i - 1 was),
    // an item begins at a letter or digit after something else, or at any other non-space
    // byte; it ends (one past its last byte) at a non-alnum byte after a letter or digit, or
    // right after another item.
    const std::uint64_t alnum = classes.alnum;
    const std::uint64_t other = classes.nonspace & ~alnum & in_input;
    const std::uint64_t alnum_before = alnum << 1 | alnum_carry;
    const std::uint64_t other_before = other << 1 | other_carry;
    const auto base32 = static_cast<std::uint32_t>(base);
    begins = append_positions((alnum & ~alnum_before) | other, base32, begins);
    ends = append_positions((~alnum & alnum_before) | other_before, base32, ends);
    alnum_carry = alnum >> 63;
    other_carry = other >> 63;
  }
  // An item that runs to the end of a last, full chunk ends past it.
  if (alnum_carry | other_carry) *ends++ = static_cast<std::uint32_t>(size);
  out.items = static_cast<std::size_t>(begins - out.begins.data());
  return true;
}

}  // namespace

bool scan_ascii_scalar(std::string_view bytes, bool lowercase, AsciiScan& out) {
  return scan<classify_scalar>(bytes, lowercase, out);
}

#if defined(BERTLITE_SCAN_X86)
bool scan_ascii_sse2(std::string_view bytes, bool lowercase, AsciiScan& out) {
  return scan<classify_sse2>(bytes, lowercase, out);
}

// The whole scan is compiled for AVX2, so that classify_avx2 is inlined into it.
__attribute__((target("avx2"))) bool scan_ascii_avx2(std::string_view bytes, bool lowercase,
                                                     AsciiScan& out) {
  return scan<classify_avx2>(bytes, lowercase, out);
}

bool cpu_has_avx2() {
  // libgcc's check includes the OS saving the AVX registers. The explicit init makes it safe
  // even when first called from another static initialiser.
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
}
#endif

#if defined(BERTLITE_SCAN_X86)
namespace {
// Decided once, at start-up. A call from another file's static initialiser that runs first
// sees false and takes the SSE2 path, which gives the same result.
const bool kUseAvx2 = cpu_has_avx2();
}  // namespace
#endif

bool scan_ascii(std::string_view bytes, bool lowercase, AsciiScan& out) {
#if defined(BERTLITE_SCAN_X86)
  return kUseAvx2 ? scan_ascii_avx2(bytes, lowercase, out) : scan_ascii_sse2(bytes, lowercase, out);
#else
  return scan_ascii_scalar(bytes, lowercase, out);
#endif
}

}  // namespace bertlite::text
