// bench/kernels/int8_throughput.cpp - the most an AVX2 integer GEMM could gain over fp32 FMA on
// this core, before any memory traffic: the multiply-accumulates per second of each inner-loop
// instruction sequence an int8 or int16 kernel would be built from, next to fp32's.
//
//   fp32       vfmaddps                      8 MACs per instruction (what oneDNN's sgemm runs)
//   u8 x s8    vpmaddubsw + vpmaddwd + vpaddd 32 MACs per 3 (u8 activations must stay 7-bit, or
//                                            the s16 pair sums saturate; MLAS and oneDNN's
//                                            AVX2 int8 paths are built on this)
//   s16 x s16  vpmaddwd + vpaddd             16 MACs per 2 (cannot saturate for int8 inputs)
//
// Each runs independent accumulator chains on one thread from registers (more chains than any
// of these sequences' latency needs), so it measures the execution ports, not latency or memory. A
// real kernel adds loads, broadcasts and packing on top, so these are upper bounds; what issue 14
// needs is their ratio on the CPU at hand (on Intel cores vpmaddubsw and FMA each issue on two
// ports; on AMD Zen 1 a 256-bit instruction is two 128-bit halves, and vpmaddubsw / vpmaddwd run on
// fewer pipes than FMA).
//
// Usage: bench_int8_throughput [--seconds 1] [--repeats 5]
#include <immintrin.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <vector>

namespace {

constexpr int kIterations = 1 << 20;  // per timed call
// Independent accumulator chains: more than latency x issue rate of each sequence, and few
// enough that accumulators and constants stay in the 16 ymm registers (checked in the
// disassembly: no stack traffic in the loops).
constexpr int kFmaChains = 12;
constexpr int kIntChains = 10;

__attribute__((target("avx2,fma"))) double fp32_fma(float seed) {
  __m256 acc[kFmaChains];
  for (int c = 0; c < kFmaChains; ++c) acc[c] = _mm256_set1_ps(seed * static_cast<float>(c));
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(seed);
  for (int i = 0; i < kIterations; ++i) {
    for (int c = 0; c < kFmaChains; ++c) acc[c] = _mm256_fmadd_ps(a, acc[c], b);
  }
  __m256 sum = acc[0];
  for (int c = 1; c < kFmaChains; ++c) sum = _mm256_add_ps(sum, acc[c]);
  float out[8];
  _mm256_storeu_ps(out, sum);
  return out[0];
}

// In the integer sequences each chain feeds its own accumulator back in as the multiplicand, so
// the compiler cannot hoist the multiplies out of the loop; the values overflow harmlessly
// (integer instructions take the same time whatever their operands). The chains are named
// variables rather than an array, which GCC otherwise spills to the stack.
#define BERTLITE_TEN(step) \
  step(0) step(1) step(2) step(3) step(4) step(5) step(6) step(7) step(8) step(9)

__attribute__((target("avx2"))) double u8s8(int seed) {
#define DECLARE(c) __m256i acc##c = _mm256_set1_epi32(seed + c);
  BERTLITE_TEN(DECLARE)
#undef DECLARE
  const __m256i b = _mm256_set1_epi8(static_cast<char>(-3));  // s8 weights
  const __m256i ones = _mm256_set1_epi16(1);
  for (int i = 0; i < kIterations; ++i) {
    // 32 u8 x s8 -> 16 s16 pair sums -> 8 s32, added to the chain
#define STEP(c) \
  acc##c = _mm256_add_epi32(acc##c, _mm256_madd_epi16(_mm256_maddubs_epi16(acc##c, b), ones));
    BERTLITE_TEN(STEP)
#undef STEP
  }
  __m256i sum = _mm256_setzero_si256();
#define ADD(c) sum = _mm256_add_epi32(sum, acc##c);
  BERTLITE_TEN(ADD)
  return _mm256_extract_epi32(sum, 0);
}

__attribute__((target("avx2"))) double s16s16(int seed) {
#define DECLARE(c) __m256i acc##c = _mm256_set1_epi32(seed + c);
  BERTLITE_TEN(DECLARE)
#undef DECLARE
  const __m256i b = _mm256_set1_epi16(-3);
  for (int i = 0; i < kIterations; ++i) {
#define STEP(c) acc##c = _mm256_add_epi32(acc##c, _mm256_madd_epi16(acc##c, b));
    BERTLITE_TEN(STEP)
#undef STEP
  }
  __m256i sum = _mm256_setzero_si256();
  BERTLITE_TEN(ADD)
#undef ADD
  return _mm256_extract_epi32(sum, 0);
}
#undef BERTLITE_TEN

struct Kernel {
  const char* name;
  double macs_per_call;
  std::function<double()> call;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Multiply-accumulate throughput of AVX2 fp32 FMA vs int8/int16 sequences"};
  double seconds = 1;
  int repeats = 5;
  app.add_option("--seconds", seconds, "Time per measurement");
  app.add_option("--repeats", repeats, "Measurements per kernel (median reported)");
  CLI11_PARSE(app, argc, argv);
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    std::fprintf(stderr, "bench_int8_throughput: this CPU has no AVX2 + FMA\n");
    return 1;
  }
  const double fma_steps = double{kFmaChains} * kIterations;
  const double int_steps = double{kIntChains} * kIterations;
  double sink = 0;
  const std::vector<Kernel> kernels = {
      {"fp32 vfmaddps", fma_steps * 8, [&] { return fp32_fma(0.5f); }},
      {"u8 x s8 vpmaddubsw+vpmaddwd", int_steps * 32, [&] { return u8s8(5); }},
      {"s16 x s16 vpmaddwd", int_steps * 16, [&] { return s16s16(5); }},
  };
  double fp32_rate = 0;
  std::printf("%-30s %12s %10s\n", "sequence", "GMAC/s", "vs fp32");
  for (const Kernel& k : kernels) {
    std::vector<double> rates;
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      long calls = 0;
      double elapsed = 0;
      do {
        sink += k.call();
        ++calls;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      } while (elapsed < seconds);
      rates.push_back(k.macs_per_call * static_cast<double>(calls) / elapsed / 1e9);
    }
    std::nth_element(rates.begin(), rates.begin() + rates.size() / 2, rates.end());
    const double median = rates[rates.size() / 2];
    if (fp32_rate == 0) fp32_rate = median;
    std::printf("%-30s %12.1f %9.2fx\n", k.name, median, median / fp32_rate);
  }
  std::fprintf(stderr, "(checksum %g)\n", sink);
  return 0;
}
