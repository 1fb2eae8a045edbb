// util/random.h - splitmix64, the project's one pseudo-random generator: tiny, fast, and the
// same numbers on every platform and standard library (std::mt19937 is too, but the standard
// distributions over it are not), so seeded runs repeat everywhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace bertlite::util {

// One splitmix64 output for `x` (Steele, Lea and Flood 2014): a stateless hash of 64 bits.
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    const std::uint64_t out = splitmix64(state_);
    state_ += 0x9E3779B97F4A7C15ull;
    return out;
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n), n > 0 (modulo bias below n / 2^64: nil for any container size).
  std::uint64_t below(std::uint64_t n) { return next() % n; }

 private:
  std::uint64_t state_;
};

// Fisher-Yates with `rng`: the same permutation for the same seed everywhere.
template <typename Container>
void shuffle(Container& items, SplitMix64& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    std::swap(items[i - 1], items[rng.below(i)]);
  }
}

}  // namespace bertlite::util
