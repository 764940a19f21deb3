// Philox4x32-10 on the device: cpu/philox.h's block function (one implementation, host and
// device) with the two keyings of the CPU twins, so GPU and CPU draw the same numbers:
//   - sampling (native/cpu/sampling.cpp): key = seed, counter = (step lo, step hi, 0, 0); a 53-bit
//     uniform from words 0 and 1;
//   - corruptions (native/cpu/random.h): key = seed, counter = (block lo, block hi, stream, 0),
//     block = word index >> 2; per-pixel normals with Giles' erfinv.
// The normal transform mirrors the CPU code operation by operation, including *which* roundings
// are fused: the CPU's AVX2 path (every word but a tail) uses explicit FMA intrinsics, its scalar
// tail does not (random.cpp compiles with contraction off). normalFromWordFma / normalFromWordPlain
// are the two; noise.cu picks per word as the CPU does.
#pragma once
#include <cstdint>

#include "cpu/philox.h"

namespace stic::cuda {

struct PhiloxOut {
  uint32_t w[4];
};

// The block function of cpu/philox.h (the project's one Philox) on counter (c0, c1, c2, c3).
__host__ __device__ __forceinline__ PhiloxOut philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                                          uint64_t seed) {
  philox::philoxRounds(c0, c1, c2, c3, philox::Key::fromSeed(seed));
  return {{c0, c1, c2, c3}};
}

// model::counterUniform(seed, counter): 27 + 26 bits of words 0 and 1, in [0, 1).
__host__ __device__ __forceinline__ double samplingUniform(uint64_t seed, uint64_t counter) {
  const PhiloxOut o = philox4x32_10(static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0u, 0u, seed);
  const uint64_t bits = (static_cast<uint64_t>(o.w[0] >> 5) << 26) | (o.w[1] >> 6);
  return static_cast<double>(bits) * (1.0 / 9007199254740992.0);
}

// The four words of block `block` of one corruption stream (words 4 block .. 4 block + 3).
__host__ __device__ __forceinline__ PhiloxOut corruptionBlock(uint64_t seed, uint32_t stream, uint64_t block) {
  return philox4x32_10(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), stream, 0u, seed);
}

// ---- normals (image::normalsFromStream) ---------------------------------------------------------
// Coefficients copied from native/cpu/random.cpp (Cephes logf; Giles' single-precision erfinv).
__device__ __constant__ const float kLogP[9] = {7.0376836292e-2f,  -1.1514610310e-1f, 1.1676998740e-1f,
                                                -1.2420140846e-1f, 1.4249322787e-1f,  -1.6668057665e-1f,
                                                2.0000714765e-1f,  -2.4999993993e-1f, 3.3333331174e-1f};
__device__ __constant__ const float kErfCentral[9] = {2.81022636e-08f,  3.43273939e-07f, -3.5233877e-06f,
                                                      -4.39150654e-06f, 0.00021858087f,  -0.00125372503f,
                                                      -0.00417768164f,  0.246640727f,    1.50140941f};
__device__ __constant__ const float kErfTail[9] = {-0.000200214257f, 0.000100950558f, 0.00134934322f,
                                                   -0.00367342844f,  0.00573950773f,  -0.0076224613f,
                                                   0.00943887047f,   1.00167406f,     2.83297682f};
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kSqrt2f = 1.41421356237f;
constexpr float kTwoPow24Inv = 5.9604644775390625e-08f;

// The CPU's AVX2 path: explicit FMAs exactly where random.cpp uses _mm256_fmadd/fnmadd/fmsub.
__device__ __forceinline__ float logPositiveFma(float x) {
  const uint32_t bits = __float_as_uint(x);
  int e = static_cast<int>(bits >> 23) - 127;
  float m = __uint_as_float((bits & 0x007fffffu) | 0x3f800000u);
  if (m > 1.41421356f) {
    m = __fmul_rn(m, 0.5f);
    e += 1;
  }
  const float f = __fsub_rn(m, 1.0f);
  const float z = __fmul_rn(f, f);
  const float ef = static_cast<float>(e);
  float p = kLogP[0];
#pragma unroll
  for (int i = 1; i < 9; ++i) p = __fmaf_rn(p, f, kLogP[i]);
  float y = __fmul_rn(__fmul_rn(p, f), z);
  y = __fmaf_rn(kLn2Lo, ef, y);
  y = __fmaf_rn(-0.5f, z, y);  // fnmadd: -(0.5 z) + y, one rounding
  return __fmaf_rn(kLn2Hi, ef, __fadd_rn(f, y));
}

__device__ __forceinline__ float normalFromWordFma(uint32_t w) {
  const float u = __fmul_rn(__fadd_rn(static_cast<float>(w >> 8), 0.5f), kTwoPow24Inv);
  const float x = __fmaf_rn(2.0f, u, -1.0f);
  const float w2 = __fsub_rn(0.0f, logPositiveFma(__fmul_rn(__fsub_rn(1.0f, x), __fadd_rn(1.0f, x))));
  float p;
  if (w2 < 5.0f) {
    const float t = __fsub_rn(w2, 2.5f);
    p = kErfCentral[0];
#pragma unroll
    for (int i = 1; i < 9; ++i) p = __fmaf_rn(p, t, kErfCentral[i]);
  } else {
    const float t = __fsub_rn(__fsqrt_rn(w2), 3.0f);
    p = kErfTail[0];
#pragma unroll
    for (int i = 1; i < 9; ++i) p = __fmaf_rn(p, t, kErfTail[i]);
  }
  return __fmul_rn(__fmul_rn(kSqrt2f, p), x);
}

// The CPU's scalar path (contraction off): every product and sum rounded on its own.
__device__ __forceinline__ float logPositivePlain(float x) {
  const uint32_t bits = __float_as_uint(x);
  int e = static_cast<int>(bits >> 23) - 127;
  float m = __uint_as_float((bits & 0x007fffffu) | 0x3f800000u);
  if (m > 1.41421356f) {
    m = __fmul_rn(m, 0.5f);
    e += 1;
  }
  const float f = __fsub_rn(m, 1.0f);
  const float z = __fmul_rn(f, f);
  float p = kLogP[0];
#pragma unroll
  for (int i = 1; i < 9; ++i) p = __fadd_rn(__fmul_rn(p, f), kLogP[i]);
  const float ef = static_cast<float>(e);
  // f + (p f z + kLn2Lo ef - 0.5 z) + kLn2Hi ef, left to right as written in random.cpp
  const float inner = __fsub_rn(__fadd_rn(__fmul_rn(__fmul_rn(p, f), z), __fmul_rn(kLn2Lo, ef)), __fmul_rn(0.5f, z));
  return __fadd_rn(__fadd_rn(f, inner), __fmul_rn(kLn2Hi, ef));
}

__device__ __forceinline__ float normalFromWordPlain(uint32_t w) {
  const float x = __fsub_rn(__fmul_rn(2.0f, __fmul_rn(__fadd_rn(static_cast<float>(w >> 8), 0.5f), kTwoPow24Inv)), 1.0f);
  const float w2 = -logPositivePlain(__fmul_rn(__fsub_rn(1.0f, x), __fadd_rn(1.0f, x)));
  float p;
  if (w2 < 5.0f) {
    const float t = __fsub_rn(w2, 2.5f);
    p = kErfCentral[0];
#pragma unroll
    for (int i = 1; i < 9; ++i) p = __fadd_rn(kErfCentral[i], __fmul_rn(p, t));
  } else {
    const float t = __fsub_rn(__fsqrt_rn(w2), 3.0f);
    p = kErfTail[0];
#pragma unroll
    for (int i = 1; i < 9; ++i) p = __fadd_rn(kErfTail[i], __fmul_rn(p, t));
  }
  return __fmul_rn(__fmul_rn(kSqrt2f, p), x);
}

}  // namespace stic::cuda
