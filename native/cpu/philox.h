// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011): the one block function of the project. Every keying of it lives with its user:
//   - token sampling (cpu/sampling.h): key = seed, counter = (step lo, step hi, 0, 0);
//   - corruptions (cpu/random.h): key = seed, counter = (block lo, block hi, stream, 0), with an
//     AVX2 form of these same rounds (random.cpp, checked against this one by the tests);
//   - the device twin (cuda/philox.cuh) calls philoxRounds below, so GPU and CPU share the code.
// key = (seed & 0xffffffff, seed >> 32); ten rounds, the key bumped by the Weyl increments after
// each (the bump after the last round has no effect on the output).
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define STIC_PHILOX_FN __host__ __device__ __forceinline__
#else
#define STIC_PHILOX_FN inline
#endif

namespace stic::philox {

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // multipliers (Salmon et al., Table 2)
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments

struct Key {
  uint32_t k0, k1;
  static STIC_PHILOX_FN Key fromSeed(uint64_t seed) { return {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}; }
};

// The ten rounds, in place on the counter words c0..c3 (they become the four output words).
STIC_PHILOX_FN void philoxRounds(uint32_t& c0, uint32_t& c1, uint32_t& c2, uint32_t& c3, Key key) {
  uint32_t k0 = key.k0, k1 = key.k1;
#if defined(__CUDACC__)
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(kM1) * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c0 = n0;
    c1 = static_cast<uint32_t>(p1);
    c2 = n2;
    c3 = static_cast<uint32_t>(p0);
    k0 += kW0;
    k1 += kW1;
  }
}

// One block in place on c[4].
STIC_PHILOX_FN void philox4x32_10(uint32_t c[4], Key key) { philoxRounds(c[0], c[1], c[2], c[3], key); }

}  // namespace stic::philox

#undef STIC_PHILOX_FN
