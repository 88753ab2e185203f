#pragma once
// Portable random draws: std::uniform_*_distribution differ between standard libraries, so data that must
// be identical everywhere for a given seed (augmentations, shuffles, generated datasets) use these instead.
#include <cstdint>
#include <random>

namespace tedloc::data {

// SplitMix64 finaliser: a well-mixed 64-bit hash of x.
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The seed of one sample's generator, derived from (run seed, epoch, sample index) only, so that a
// sample's augmentation does not depend on which thread made it or in which order.
inline std::uint64_t sample_seed(std::uint64_t seed, std::int64_t epoch, std::int64_t index) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<std::uint64_t>(epoch)) ^ static_cast<std::uint64_t>(index));
}

// A generator seeded from a 64-bit seed (both halves used).
inline std::mt19937 make_rng(std::uint64_t seed) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
  return std::mt19937(seq);
}

// Uniform integer in [lo, hi] (inclusive), unbiased by rejection.
inline int uniform_int(std::mt19937& rng, int lo, int hi) {
  const std::uint32_t range = static_cast<std::uint32_t>(hi - lo) + 1u;
  if (range == 0u) return static_cast<int>(rng());  // the full 32-bit range
  const std::uint32_t limit = 0xFFFFFFFFu - (0xFFFFFFFFu % range + 1u) % range;  // largest multiple of range, minus 1
  std::uint32_t r;
  do r = rng(); while (r > limit);
  return lo + static_cast<int>(r % range);
}

// Uniform double in [0, 1) with 32 random bits.
inline double uniform01(std::mt19937& rng) { return rng() * (1.0 / 4294967296.0); }

// Uniform double in [lo, hi).
inline double uniform_real(std::mt19937& rng, double lo, double hi) { return lo + (hi - lo) * uniform01(rng); }

}  // namespace tedloc::data
