// Vectorised math for the CPU kernels, in two families kept apart on purpose (each is bit for bit
// what its kernels were validated with; unifying the two exps would change results):
//  - AVX2 intrinsics (exp256, transpose8x8, hsum256, hmax256; only where __AVX2__ is defined):
//    gemm, attention, norms, activations, embedding;
//  - GCC/Clang vector extensions (f32x8: exp8, exp1, rowMax, rowSumExp, expMinus; every target):
//    the fused head and the attention backward.
//
// AVX2 family: the libm calls do not vectorise without -ffast-math, and an exp per attention
// score or per activation would otherwise dominate; each function has a scalar twin of the same
// accuracy class.
//
// Vector-extension family: row reductions and exp for the fused head's [chunk, V] logits. Why not
// plain loops: under the default -ftrapping-math GCC refuses to vectorise float compares, selects
// and floor (so max and exp stay scalar), and glibc's expf has no vector variant without
// -ffast-math; the head evaluates T x V of each.
// exp8: range reduction x = n ln2 + r, |r| <= ln2/2 (ln2 split in two so n ln2 is exact; n rounded
// with the 1.5 * 2^23 shifter, whose low mantissa bits then hold n), Cephes' minimax polynomial
// for e^r (S. Moshier, Cephes Math Library, expf), and 2^n through the exponent bits. Relative
// error <= 2 ulp on [-87.3, 88.3]; below -87.3 the result is 0.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace stic::cpu {

#ifdef __AVX2__
// exp(x) to within ~2 ulp for x in [-87.3, 88.7]; 0 below (so exp(-inf) = 0 exactly, as masked
// attention scores need), and clamped near FLT_MAX above. Cephes expf: x = n ln2 + r with
// |r| <= ln2/2 (ln2 split hi + lo so n*ln2_hi is exact), a degree-6 polynomial for e^r, then 2^n
// built in the exponent bits.
inline __m256 exp256(__m256 x) {
  const __m256 tooSmall = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ);
  x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.33654f));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(tooSmall, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

// In-register 8x8 transpose: r[i] holds row i on entry and column i on exit.
inline void transpose8x8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax256(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

// ---- vector-extension family (every target) ------------------------------------------------

typedef float f32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));

inline f32x8 splat(float v) { return f32x8{v, v, v, v, v, v, v, v}; }
inline f32x8 load8(const float* p) {
  f32x8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, f32x8 v) { std::memcpy(p, &v, sizeof v); }
// a where mask (all ones), else b.
inline f32x8 select8(i32x8 mask, f32x8 a, f32x8 b) {
  return reinterpret_cast<f32x8>((reinterpret_cast<i32x8>(a) & mask) | (reinterpret_cast<i32x8>(b) & ~mask));
}

inline f32x8 exp8(f32x8 x) {
  const f32x8 kMin = splat(-87.33654f), kMax = splat(88.3762626647949f), kShifter = splat(12582912.0f);
  const i32x8 under = x < kMin;
  x = select8(under, kMin, x);
  x = select8(x > kMax, kMax, x);
  const f32x8 shifted = x * splat(1.44269504088896341f) + kShifter;
  const f32x8 n = shifted - kShifter;  // round(x log2 e)
  const f32x8 r = (x - n * splat(0.693359375f)) - n * splat(-2.12194440e-4f);
  f32x8 p = splat(1.9875691500e-4f);
  p = p * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  const f32x8 er = p * r * r + r + splat(1.0f);
  const i32x8 bias = reinterpret_cast<i32x8>(shifted) - reinterpret_cast<i32x8>(kShifter) + 127;
  const f32x8 scale = reinterpret_cast<f32x8>(bias << 23);
  return select8(under, splat(0.0f), er * scale);
}

// The same formula for one value (row tails), so a row's result does not depend on its alignment.
inline float exp1(float x) {
  f32x8 v = splat(x);
  return exp8(v)[0];
}

// max_i x[i] (n >= 1).
inline float rowMax(const float* x, int64_t n) {
  int64_t i = 0;
  float m = x[0];
  if (n >= 8) {
    f32x8 acc = load8(x);
    for (i = 8; i + 8 <= n; i += 8) {
      const f32x8 v = load8(x + i);
      acc = select8(v > acc, v, acc);
    }
    for (int l = 0; l < 8; l++) m = acc[l] > m ? acc[l] : m;
  }
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

// sum_i exp(x[i] - shift), accumulated in float lanes over blocks of 256 and in double across
// blocks (V = 32000 terms summed in one float would lose ~3 digits). e[i] = exp(x[i] - shift) when e
// is not null (e may alias x).
inline double rowSumExp(float* e, const float* x, int64_t n, float shift) {
  const f32x8 s = splat(shift);
  double total = 0;
  int64_t i = 0;
  while (i + 8 <= n) {
    f32x8 acc = splat(0.0f);
    const int64_t end = i + 256 < n ? i + 256 : n;
    for (; i + 8 <= end; i += 8) {
      const f32x8 v = exp8(load8(x + i) - s);
      if (e) store8(e + i, v);
      acc += v;
    }
    for (int l = 0; l < 8; l++) total += acc[l];
  }
  for (; i < n; i++) {
    const float v = exp1(x[i] - shift);
    if (e) e[i] = v;
    total += v;
  }
  return total;
}

// x[i] = exp(x[i] - shift[i]) (a per-element shift: attention's per-query log-sum-exp).
inline void expMinus(float* x, const float* shift, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) store8(x + i, exp8(load8(x + i) - load8(shift + i)));
  for (; i < n; i++) x[i] = exp1(x[i] - shift[i]);
}

}  // namespace stic::cpu
