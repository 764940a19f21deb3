// LayerNorm (CLIP) and RMSNorm (Llama) forward on the CPU. Legend: T rows, C channels.
// Row statistics accumulate in fp64 (4 double lanes under AVX2), so they carry no error that grows
// with C; the normalisation itself is an fp32 pass like the reference implementations.
#include <omp.h>

#include <cmath>
#include <cstdint>

#include "cpu/ops.h"
#include "cpu/vec_math.h"

namespace stic::cpu {
namespace {

constexpr int64_t kParallelElems = 1 << 15;

#ifdef __AVX2__
inline double hsum256d(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
#endif

// sum_c (x[c] - shift)^2 in fp64 (shift = 0: the sum of squares); shift is hi + lo of the mean.
double sumSquares(const float* x, int64_t C, float hi, float lo) {
  double s = 0;
  int64_t c = 0;
#ifdef __AVX2__
  const __m256 vhi = _mm256_set1_ps(hi), vlo = _mm256_set1_ps(lo);
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  for (; c + 8 <= C; c += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), vhi), vlo);
    const __m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(d)), d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1));
    a0 = _mm256_fmadd_pd(d0, d0, a0);
    a1 = _mm256_fmadd_pd(d1, d1, a1);
  }
  s = hsum256d(_mm256_add_pd(a0, a1));
#endif
  for (; c < C; c++) {
    const double d = (x[c] - hi) - lo;
    s += d * d;
  }
  return s;
}

double sum(const float* x, int64_t C) {
  double s = 0;
  int64_t c = 0;
#ifdef __AVX2__
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  for (; c + 8 <= C; c += 8) {
    const __m256 v = _mm256_loadu_ps(x + c);
    a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  }
  s = hsum256d(_mm256_add_pd(a0, a1));
#endif
  for (; c < C; c++) s += x[c];
  return s;
}

void layernormRow(float* y, const float* x, const float* weight, const float* bias, int64_t C, float eps) {
  // The mean as two floats (hi + lo): x - hi is exact near the mean (Sterbenz), so centring keeps
  // full precision when |mean| >> std, which a single rounded fp32 mean would not.
  const double meanD = sum(x, C) / C;
  const float hi = static_cast<float>(meanD), lo = static_cast<float>(meanD - hi);
  const float rstd = static_cast<float>(1.0 / std::sqrt(sumSquares(x, C, hi, lo) / C + eps));
  int64_t c = 0;
#ifdef __AVX2__
  const __m256 vhi = _mm256_set1_ps(hi), vlo = _mm256_set1_ps(lo), vr = _mm256_set1_ps(rstd);
  for (; c + 8 <= C; c += 8) {
    const __m256 n = _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), vhi), vlo), vr);
    _mm256_storeu_ps(y + c, _mm256_fmadd_ps(n, _mm256_loadu_ps(weight + c), _mm256_loadu_ps(bias + c)));
  }
#endif
  for (; c < C; c++) y[c] = ((x[c] - hi) - lo) * rstd * weight[c] + bias[c];
}

void rmsnormRow(float* y, const float* x, const float* weight, int64_t C, float eps) {
  const float r = static_cast<float>(1.0 / std::sqrt(sumSquares(x, C, 0.0f, 0.0f) / C + eps));
  int64_t c = 0;
#ifdef __AVX2__
  const __m256 vr = _mm256_set1_ps(r);
  for (; c + 8 <= C; c += 8) {
    _mm256_storeu_ps(y + c, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + c), vr), _mm256_loadu_ps(weight + c)));
  }
#endif
  for (; c < C; c++) y[c] = x[c] * r * weight[c];
}

}  // namespace

void layernorm_forward(float* out, const float* inp, const float* weight, const float* bias, int64_t T, int64_t C, float eps) {
#pragma omp parallel for schedule(static) if (T * C >= kParallelElems)
  for (int64_t t = 0; t < T; t++) layernormRow(out + t * C, inp + t * C, weight, bias, C, eps);
}

void rmsnorm_forward(float* out, const float* inp, const float* weight, int64_t T, int64_t C, float eps) {
#pragma omp parallel for schedule(static) if (T * C >= kParallelElems)
  for (int64_t t = 0; t < T; t++) rmsnormRow(out + t * C, inp + t * C, weight, C, eps);
}

}  // namespace stic::cpu
