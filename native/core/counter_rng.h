// Counter-based random numbers for training (LoRA dropout): every value is a pure function of a
// key and an element index, so a mask never depends on threads, batch order or how many values
// were drawn before — a resumed run redraws exactly the masks it would have drawn.
// test/cpu/lora.test.ts holds a TypeScript twin of these formulas; change both together.
//
//   stream  = mix64 chain over (seed, step, micro, layer, module)   (SplitMix64's finaliser)
//   k0, k1  = low and high 32 bits of stream
//   word(i) = hash32(hash32(i ^ k0) + k1)   (i: the element index, below 2^32)
//   u(i)    = (word(i) >> 8) / 2^24         (uniform in [0, 1), 24 bits)
// The per-element hash is 32-bit on purpose: it vectorises with AVX2 (8 lanes), and dropout needs
// independence between elements, not cryptographic strength.
// The per-element functions (hash32, counterBits24, counterUniform) are host and device code, so
// the CUDA dropout (cuda/lora.cu) draws the CPU's masks bit for bit.
#pragma once
#include <cmath>
#include <cstdint>
#include <initializer_list>

#if defined(__CUDACC__)
#define STIC_COUNTER_FN __host__ __device__ __forceinline__
#else
#define STIC_COUNTER_FN inline
#endif

namespace stic::train {

// SplitMix64's output function (Steele, Lea, Flood, OOPSLA 2014): a bijective 64-bit mixer.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A 32-bit integer hash with low bias (C. Wellons' "lowbias32", hash-prospector): multiply-xorshift.
STIC_COUNTER_FN uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7FEB352Du;
  x ^= x >> 15;
  x *= 0x846CA68Bu;
  x ^= x >> 16;
  return x;
}

// Where a dropout mask is used: one independent stream per (seed, optimizer step, micro-batch of
// the step, decoder layer, module of the layer).
struct DropoutKey {
  uint64_t seed = 0;
  int64_t step = 0;
  int64_t micro = 0;
  int64_t layer = 0;
  int64_t module = 0;
};

inline uint64_t streamOf(const DropoutKey& key) {
  constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;  // 2^64 / phi, SplitMix64's increment
  uint64_t h = mix64(key.seed + kGolden);
  for (int64_t field : {key.step, key.micro, key.layer, key.module}) h = mix64(h ^ (static_cast<uint64_t>(field) + kGolden));
  return h;
}

// The 24 random bits of element i: u(i) = counterBits24(i) / 2^24.
STIC_COUNTER_FN uint32_t counterBits24(uint64_t stream, uint32_t i) {
  const uint32_t k0 = static_cast<uint32_t>(stream), k1 = static_cast<uint32_t>(stream >> 32);
  return hash32(hash32(i ^ k0) + k1) >> 8;
}

// u(i) in [0, 1) for element i of the stream.
STIC_COUNTER_FN float counterUniform(uint64_t stream, uint32_t i) {
  return static_cast<float>(counterBits24(stream, i)) * (1.0f / 16777216.0f);
}

// Dropout with probability p keeps element i when u(i) >= p, i.e. when counterBits24(i) >=
// ceil(p 2^24) (p 2^24 is exact in float, so the integer compare is the float one), and scales the
// survivors by 1/(1-p) (torch.nn.Dropout). One definition for the CPU and CUDA kernels.
inline uint32_t dropoutThreshold24(float p) { return static_cast<uint32_t>(std::ceil(static_cast<double>(p) * 16777216.0)); }
inline float dropoutKeepScale(float p) { return 1.0f / (1.0f - p); }

}  // namespace stic::train
