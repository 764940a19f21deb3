// Philox word generation and the float normal transform (see random.h for the exact formulas).
// No multiply-add contraction in this file: ParamDraws::uniform(lo, hi) must round like the
// TypeScript twin (the AVX2 path uses explicit FMA intrinsics, which the pragma does not touch).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "cpu/random.h"

#include <algorithm>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace stic::image {
namespace {

constexpr int kBlocks = 16;  // Philox blocks per step (two AVX2 registers of 32-bit lanes)
using philox::kM0;  // multipliers and Weyl key increments of cpu/philox.h, for the AVX2 rounds
using philox::kM1;
using philox::kW0;
using philox::kW1;

inline uint32_t floatBits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
inline float bitsFloat(uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

// Coefficients shared by the scalar and the AVX2 paths.
// logf: the minimax polynomial of Cephes' logf, log(1 + f) = f - f^2/2 + f^3 P(f), f in [-0.29, 0.41].
constexpr float kLogP[9] = {7.0376836292e-2f,  -1.1514610310e-1f, 1.1676998740e-1f,
                            -1.2420140846e-1f, 1.4249322787e-1f,  -1.6668057665e-1f,
                            2.0000714765e-1f,  -2.4999993993e-1f, 3.3333331174e-1f};
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;  // ln 2 = hi + lo
// erfinv: M. Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011), single precision.
constexpr float kErfCentral[9] = {2.81022636e-08f, 3.43273939e-07f, -3.5233877e-06f, -4.39150654e-06f, 0.00021858087f,
                                  -0.00125372503f, -0.00417768164f, 0.246640727f,    1.50140941f};
constexpr float kErfTail[9] = {-0.000200214257f, 0.000100950558f, 0.00134934322f, -0.00367342844f, 0.00573950773f,
                               -0.0076224613f,   0.00943887047f,  1.00167406f,     2.83297682f};
constexpr float kSqrt2 = 1.41421356237f;
constexpr float kTwoPow24Inv = 5.9604644775390625e-08f;

// ---- scalar path (also the reference for the vector path) -----------------------------------
void philoxBlocksScalar(uint64_t firstBlock, uint32_t stream, PhiloxKey key, uint32_t* out /*(kBlocks, 4 words)*/) {
  for (int l = 0; l < kBlocks; ++l) {
    const uint64_t b = firstBlock + static_cast<uint64_t>(l);
    uint32_t c[4] = {static_cast<uint32_t>(b), static_cast<uint32_t>(b >> 32), stream, 0};
    philox4x32_10(c, key);
    for (int j = 0; j < 4; ++j) out[4 * l + j] = c[j];
  }
}

// Natural log of a positive normal float (x = m 2^e, m in [sqrt(1/2), sqrt(2))), ~1 ulp.
inline float logPositive(float x) {
  const uint32_t bits = floatBits(x);
  int e = static_cast<int>(bits >> 23) - 127;
  float m = bitsFloat((bits & 0x007fffffu) | 0x3f800000u);  // [1, 2)
  if (m > 1.41421356f) {
    m *= 0.5f;
    e += 1;
  }
  const float f = m - 1.0f;
  const float z = f * f;
  float p = kLogP[0];
  for (int i = 1; i < 9; ++i) p = p * f + kLogP[i];
  const float ef = static_cast<float>(e);
  return f + (p * f * z + kLn2Lo * ef - 0.5f * z) + kLn2Hi * ef;
}

inline float normalFromWord(uint32_t w) {
  // u in (0, 1) on a 2^-24 grid: x = 2u - 1 is exact in float and never reaches +-1.
  const float x = 2.0f * ((static_cast<float>(w >> 8) + 0.5f) * kTwoPow24Inv) - 1.0f;
  const float w2 = -logPositive((1.0f - x) * (1.0f + x));
  float p;
  if (w2 < 5.0f) {
    const float t = w2 - 2.5f;
    p = kErfCentral[0];
    for (int i = 1; i < 9; ++i) p = kErfCentral[i] + p * t;
  } else {
    const float t = std::sqrt(w2) - 3.0f;
    p = kErfTail[0];
    for (int i = 1; i < 9; ++i) p = kErfTail[i] + p * t;
  }
  return kSqrt2 * p * x;
}

#if defined(__AVX2__) && defined(__FMA__)
// ---- AVX2 path: eight blocks per step, then a 4x8 transpose into word order -----------------
inline void mulHiLo(__m256i c, __m256i m, __m256i& hi, __m256i& lo) {
  const __m256i even = _mm256_mul_epu32(c, m);                         // 64-bit products, lanes 0,2,4,6
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(c, 32), m);  // lanes 1,3,5,7
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

// Two independent groups of eight blocks are interleaved: one group's rounds form a serial chain
// of multiply latencies, two keep the multiplier busy.
void philoxSixteenAvx2(uint64_t firstBlock, uint32_t stream, PhiloxKey key, uint32_t* out /*(16 blocks, 4 words)*/) {
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  __m256i c0[2], c1[2], c2[2], c3[2];
  for (int g = 0; g < 2; ++g) {
    const uint64_t b = firstBlock + 8 * static_cast<uint64_t>(g);
    const uint32_t lo32 = static_cast<uint32_t>(b);
    c0[g] = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(lo32)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    // High word: +1 on the lanes whose low word wrapped past 2^32 (unsigned compare via the sign flip).
    const __m256i wrapped =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(lo32 ^ 0x80000000u)), _mm256_xor_si256(c0[g], sign));
    c1[g] = _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int>(b >> 32)), wrapped);
    c2[g] = _mm256_set1_epi32(static_cast<int>(stream));
    c3[g] = _mm256_setzero_si256();
  }
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kM0)), m1 = _mm256_set1_epi32(static_cast<int>(kM1));
  uint32_t k0 = key.k0, k1 = key.k1;
  for (int round = 0; round < 10; ++round) {
    const __m256i vk0 = _mm256_set1_epi32(static_cast<int>(k0)), vk1 = _mm256_set1_epi32(static_cast<int>(k1));
    for (int g = 0; g < 2; ++g) {
      __m256i hi0, lo0, hi1, lo1;
      mulHiLo(c0[g], m0, hi0, lo0);
      mulHiLo(c2[g], m1, hi1, lo1);
      c0[g] = _mm256_xor_si256(_mm256_xor_si256(hi1, c1[g]), vk0);
      c1[g] = lo1;
      c2[g] = _mm256_xor_si256(_mm256_xor_si256(hi0, c3[g]), vk1);
      c3[g] = lo0;
    }
    k0 += kW0;
    k1 += kW1;
  }
  auto* dst = reinterpret_cast<__m256i*>(out);
  for (int g = 0; g < 2; ++g) {  // 4x8 transpose into word order (block-major, 4 words per block)
    const __m256i t0 = _mm256_unpacklo_epi32(c0[g], c1[g]), t1 = _mm256_unpackhi_epi32(c0[g], c1[g]);
    const __m256i t2 = _mm256_unpacklo_epi32(c2[g], c3[g]), t3 = _mm256_unpackhi_epi32(c2[g], c3[g]);
    const __m256i u0 = _mm256_unpacklo_epi64(t0, t2);  // blocks 0 | 4
    const __m256i u1 = _mm256_unpackhi_epi64(t0, t2);  // blocks 1 | 5
    const __m256i u2 = _mm256_unpacklo_epi64(t1, t3);  // blocks 2 | 6
    const __m256i u3 = _mm256_unpackhi_epi64(t1, t3);  // blocks 3 | 7
    _mm256_storeu_si256(dst + 4 * g + 0, _mm256_permute2x128_si256(u0, u1, 0x20));
    _mm256_storeu_si256(dst + 4 * g + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
    _mm256_storeu_si256(dst + 4 * g + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
    _mm256_storeu_si256(dst + 4 * g + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
  }
}

inline __m256 polyAvx2(const float* c, __m256 t) {
  __m256 p = _mm256_set1_ps(c[0]);
  for (int i = 1; i < 9; ++i) p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(c[i]));
  return p;
}

inline __m256 logPositiveAvx2(__m256 x) {
  const __m256i bits = _mm256_castps_si256(x);
  __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127));
  __m256 m = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f800000)));
  const __m256 high = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), high);
  e = _mm256_sub_epi32(e, _mm256_castps_si256(high));  // mask is -1 where high: e + 1
  const __m256 f = _mm256_sub_ps(m, _mm256_set1_ps(1.0f));
  const __m256 z = _mm256_mul_ps(f, f);
  const __m256 ef = _mm256_cvtepi32_ps(e);
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(polyAvx2(kLogP, f), f), z);
  y = _mm256_fmadd_ps(_mm256_set1_ps(kLn2Lo), ef, y);
  y = _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), z, y);
  return _mm256_fmadd_ps(_mm256_set1_ps(kLn2Hi), ef, _mm256_add_ps(f, y));
}

inline __m256 normalsAvx2(__m256i words) {
  const __m256 u = _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(words, 8)), _mm256_set1_ps(0.5f)),
                                 _mm256_set1_ps(kTwoPow24Inv));
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 x = _mm256_fmsub_ps(_mm256_set1_ps(2.0f), u, one);
  const __m256 w = _mm256_sub_ps(_mm256_setzero_ps(), logPositiveAvx2(_mm256_mul_ps(_mm256_sub_ps(one, x), _mm256_add_ps(one, x))));
  const __m256 pc = polyAvx2(kErfCentral, _mm256_sub_ps(w, _mm256_set1_ps(2.5f)));
  const __m256 pt = polyAvx2(kErfTail, _mm256_sub_ps(_mm256_sqrt_ps(w), _mm256_set1_ps(3.0f)));
  const __m256 p = _mm256_blendv_ps(pt, pc, _mm256_cmp_ps(w, _mm256_set1_ps(5.0f), _CMP_LT_OQ));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(kSqrt2), p), x);
}
#endif

inline void philoxBlocks(uint64_t firstBlock, uint32_t stream, PhiloxKey key, uint32_t* out) {
#if defined(__AVX2__) && defined(__FMA__)
  philoxSixteenAvx2(firstBlock, stream, key, out);
#else
  philoxBlocksScalar(firstBlock, stream, key, out);
#endif
}

}  // namespace

void philoxWords(PhiloxKey key, Stream stream, uint64_t first, size_t count, uint32_t* out) {
  if (count == 0) return;
  const uint64_t end = first + count;
  uint32_t words[4 * kBlocks];
  for (uint64_t b = first >> 2; 4 * b < end; b += kBlocks) {
    const uint64_t base = 4 * b;  // stream index of the first word of block b
    if (base >= first && base + 4 * kBlocks <= end) {
      philoxBlocks(b, static_cast<uint32_t>(stream), key, out + (base - first));
      continue;
    }
    philoxBlocks(b, static_cast<uint32_t>(stream), key, words);
    for (int i = 0; i < 4 * kBlocks; ++i) {
      if (base + i >= first && base + i < end) out[base + i - first] = words[i];
    }
  }
}

double ParamDraws::uniform() {
  uint32_t w[2];
  philoxWords(key_, stream_, 2 * next_, 2, w);
  ++next_;
  return (static_cast<double>(w[0] >> 5) * 67108864.0 + static_cast<double>(w[1] >> 6)) / 9007199254740992.0;
}

double ParamDraws::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

void normalsFromStream(PhiloxKey key, Stream stream, uint64_t first, size_t count, float* out) {
  constexpr size_t kChunk = 512;
  alignas(32) uint32_t words[kChunk];
  for (size_t done = 0; done < count; done += kChunk) {
    const size_t n = std::min(kChunk, count - done);
    philoxWords(key, stream, first + done, n, words);
    float* dst = out + done;
    size_t i = 0;
#if defined(__AVX2__) && defined(__FMA__)
    for (; i + 16 <= n; i += 16) {  // two independent vectors per step for instruction-level parallelism
      const __m256 a = normalsAvx2(_mm256_load_si256(reinterpret_cast<const __m256i*>(words + i)));
      const __m256 b = normalsAvx2(_mm256_load_si256(reinterpret_cast<const __m256i*>(words + i + 8)));
      _mm256_storeu_ps(dst + i, a);
      _mm256_storeu_ps(dst + i + 8, b);
    }
#endif
    for (; i < n; ++i) dst[i] = normalFromWord(words[i]);
  }
}

}  // namespace stic::image
