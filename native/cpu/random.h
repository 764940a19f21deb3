// Counter-based random numbers for the corruption kernels: Philox4x32-10 (Salmon, Moraes, Dror,
// Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011). Every value is a pure function of
// (seed, stream, index), so a corruption depends only on its image's seed: not on the batch it came
// in, the thread that ran it or the order of the images. lib/data/ and the tests hold a TypeScript
// twin of these formulas; change both together.
//
//   key     = (seed & 0xffffffff, seed >> 32)          (seed: an integer below 2^53)
//   counter = (block & 0xffffffff, block >> 32, stream, 0), block = index >> 2; word `index` is
//             lane (index & 3) of that block's four output words
//   uniform = ((w[2i] >> 5) * 2^26 + (w[2i+1] >> 6)) / 2^53   (53-bit double from words 2i, 2i+1)
//   normal  = sqrt(2) * erfinv(2u - 1), u = ((w >> 8) + 0.5) / 2^24   (one float per word)
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace stic::image {

// Independent streams of one seed: parameters drawn per image, per-pixel noise, mask permutation.
enum class Stream : uint32_t { Params = 0, Pixels = 1, Mask = 2 };

struct PhiloxKey {
  uint32_t k0, k1;
  static PhiloxKey fromSeed(uint64_t seed) { return {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}; }
};

// One Philox4x32 block, 10 rounds, in place on c[4].
inline void philox4x32_10(uint32_t c[4], PhiloxKey key) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // multipliers (Salmon et al., Table 2)
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments
  uint32_t k0 = key.k0, k1 = key.k1;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c[0];
    const uint64_t p1 = static_cast<uint64_t>(kM1) * c[2];
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c[1] ^ k0;
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c[3] ^ k1;
    c[0] = n0;
    c[1] = static_cast<uint32_t>(p1);
    c[2] = n2;
    c[3] = static_cast<uint32_t>(p0);
    k0 += kW0;
    k1 += kW1;
  }
}

// Words [first, first + count) of one stream, written to out[0 .. count). Blocks are computed
// eight at a time in structure-of-arrays form so the compiler vectorises the rounds.
void philoxWords(PhiloxKey key, Stream stream, uint64_t first, size_t count, uint32_t* out);

// Standard normals for words [first, first + count) of one stream (Giles' single-precision erfinv).
void normalsFromStream(PhiloxKey key, Stream stream, uint64_t first, size_t count, float* out);

// Sequential uniform draws from the Params (or Mask) stream of one image: draw i uses words 2i, 2i+1.
class ParamDraws {
 public:
  ParamDraws(uint64_t seed, Stream stream) : key_(PhiloxKey::fromSeed(seed)), stream_(stream) {}
  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  // lo + (hi - lo) u, rounded after the product and after the sum (no FMA), as in TypeScript.
  double uniform(double lo, double hi);
  // Integer in [0, n): floor(u * n), exact for n < 2^53.
  uint64_t below(uint64_t n) { return static_cast<uint64_t>(uniform() * static_cast<double>(n)); }
  uint64_t drawn() const { return next_; }

 private:
  PhiloxKey key_;
  Stream stream_;
  uint64_t next_ = 0;
};

}  // namespace stic::image
