// Row reductions and exp for the fused head's [chunk, V] logits, written with GCC/Clang vector
// extensions (8 floats). Why not plain loops: under the default -ftrapping-math GCC refuses to
// vectorise float compares, selects and floor (so max and exp stay scalar), and glibc's expf has
// no vector variant without -ffast-math; the head evaluates T x V of each.
// exp: range reduction x = n ln2 + r, |r| <= ln2/2 (ln2 split in two so n ln2 is exact; n rounded
// with the 1.5 * 2^23 shifter, whose low mantissa bits then hold n), Cephes' minimax polynomial for
// e^r (S. Moshier, Cephes Math Library, expf), and 2^n through the exponent bits. Relative error
// <= 2 ulp on [-87.3, 88.3]; below -87.3 the result is 0.
#pragma once
#include <cstdint>
#include <cstring>

namespace stic::train {

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

}  // namespace stic::train
