// Counter-based random numbers for the corruption kernels: Philox4x32-10 (cpu/philox.h). Every value is a pure function of
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

#include "cpu/philox.h"

namespace stic::image {

// Independent streams of one seed: parameters drawn per image, per-pixel noise, mask permutation.
enum class Stream : uint32_t { Params = 0, Pixels = 1, Mask = 2 };

// The block function and its key are cpu/philox.h's, the project's one Philox.
using PhiloxKey = philox::Key;
using philox::philox4x32_10;

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
