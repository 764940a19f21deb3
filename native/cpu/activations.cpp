// Elementwise activations and residual add on the CPU (n values, out may alias inp). Each has an
// AVX2 path (8 floats, vec_math.h exp) and a scalar path of the same formula for tails and other
// CPUs. Sigmoid-type functions are written x / (1 + exp(-k x)), which stays finite and accurate in
// both tails (no 1 + tanh cancellation); the erf GELU uses erfc for negative inputs for the same reason.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cpu/ops.h"
#include "cpu/vec_math.h"

namespace stic::cpu {
namespace {

constexpr int64_t kChunk = 1 << 14;  // elements per OpenMP work unit
constexpr float kSqrtHalf = 0.70710678118654752f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;

// out[i] = f(inp[i]) (or f(inp[i], other[i])), vector body + scalar tail, parallel over chunks.
template <typename Vec, typename Scalar>
void mapUnary(float* out, const float* inp, int64_t n, Vec vf, Scalar sf) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t end = std::min(n, (c + 1) * kChunk);
    int64_t i = c * kChunk;
#ifdef __AVX2__
    for (; i + 8 <= end; i += 8) _mm256_storeu_ps(out + i, vf(_mm256_loadu_ps(inp + i)));
#endif
    for (; i < end; i++) out[i] = sf(inp[i]);
  }
}

float sigmoidTimes(float x, float k) { return x / (1.0f + std::exp(-k * x)); }

// erf coefficients: our least-squares fits against Python's math.erf/erfc (float64), then rounded:
//   zs = linspace(0, 1, 4001);  A = polyfit(zs**2, erf(zs)/zs, 6)                 -> erf(z) = z A(z^2), z <= 1
//   ts = linspace(1/9.4, 1, 6001); B = polyfit(ts - 0.55, erfc(1/ts) exp(1/ts**2), 10)
//                                                     -> erfc(z) = exp(-z^2) B(1/z - 0.55), 1 < z < 9.4
// Evaluated in fp32 (Horner), max relative error: erf 2.1e-7 on (0, 1], erfc 5.1e-7 on [1, 9.4].
constexpr float kErfA[7] = {8.006267308e-05f, -8.053592173e-04f, 5.192942452e-03f, -2.685606293e-02f,
                            1.128363460e-01f, -3.761262894e-01f, 1.128379226e+00f};
constexpr float kErfcB[11] = {-5.143838748e-02f, 6.235127524e-02f, -1.811941899e-02f, -2.543063276e-02f,
                              5.678119510e-02f,  -6.933943182e-02f, 4.497992620e-02f, 3.372586146e-02f,
                              -1.812349409e-01f, 4.088341594e-01f,  2.762943804e-01f};

float geluScalar(float x) {
  const float z = std::fabs(x) * kSqrtHalf;
  if (z <= 1.0f) return 0.5f * x * (1.0f + std::erf(x * kSqrtHalf));
  const float c = std::erfc(z);  // erfc(|x|/sqrt2), no cancellation in either tail
  return x >= 0 ? x * (1.0f - 0.5f * c) : 0.5f * x * c;
}

#ifdef __AVX2__
inline __m256 sigmoidTimes8(__m256 x, float k) {
  const __m256 e = exp256(_mm256_mul_ps(_mm256_set1_ps(-k), x));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

template <int N>
inline __m256 horner8(const float (&c)[N], __m256 x) {
  __m256 r = _mm256_set1_ps(c[0]);
  for (int i = 1; i < N; i++) r = _mm256_fmadd_ps(r, x, _mm256_set1_ps(c[i]));
  return r;
}

inline __m256 gelu8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
  const __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  // z is capped at 10 (erfc(10) underflows anyway) so that x = +-inf cannot make inf - inf below.
  const __m256 z = _mm256_min_ps(_mm256_mul_ps(ax, _mm256_set1_ps(kSqrtHalf)), _mm256_set1_ps(10.0f));
  // Small |z|: erf(z) = z A(z^2), gelu = 0.5 x (1 + sign(x) erf(z)).
  const __m256 z2 = _mm256_mul_ps(z, z);
  const __m256 erfz = _mm256_mul_ps(z, horner8(kErfA, z2));
  const __m256 signedErf = _mm256_or_ps(erfz, _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));
  const __m256 small = _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, signedErf));
  // Large |z|: erfc(z) = exp(-z^2) B(1/z - 0.55); z^2 split hi + lo so its rounding does not
  // become a relative error of z^2 * 2^-24 in exp(-z^2).
  const __m256 lo = _mm256_fmsub_ps(z, z, z2);
  const __m256 ehi = exp256(_mm256_sub_ps(_mm256_setzero_ps(), z2));
  const __m256 e = _mm256_fnmadd_ps(ehi, lo, ehi);  // exp(-hi - lo) ~ exp(-hi) (1 - lo)
  const __m256 t = _mm256_sub_ps(_mm256_div_ps(one, z), _mm256_set1_ps(0.55f));
  const __m256 c = _mm256_mul_ps(e, horner8(kErfcB, t));
  const __m256 pos = _mm256_mul_ps(x, _mm256_fnmadd_ps(half, c, one));  // x (1 - c/2)
  const __m256 neg = _mm256_mul_ps(_mm256_mul_ps(half, x), c);         // x c / 2
  const __m256 large = _mm256_blendv_ps(pos, neg, x);                  // sign bit of x picks
  return _mm256_blendv_ps(large, small, _mm256_cmp_ps(z, one, _CMP_LE_OQ));
}

inline __m256 geluTanh8(__m256 x) {
  const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
  const __m256 u = _mm256_mul_ps(_mm256_set1_ps(kSqrt2OverPi), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
  const __m256 e = exp256(_mm256_mul_ps(_mm256_set1_ps(-2.0f), u));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}
#else
// Scalar builds have no vector path; the lambdas below still need a type to name.
struct NoVec {};
#endif

}  // namespace

#ifdef __AVX2__
#define STIC_VEC(body) [](__m256 x) { return body; }
#else
#define STIC_VEC(body) NoVec{}
#endif

void quick_gelu_forward(float* out, const float* inp, int64_t n) {
  // CLIP's QuickGELU (OpenAI CLIP): x * sigmoid(1.702 x).
  mapUnary(out, inp, n, STIC_VEC(sigmoidTimes8(x, 1.702f)), [](float x) { return sigmoidTimes(x, 1.702f); });
}

void gelu_forward(float* out, const float* inp, int64_t n) {
  mapUnary(out, inp, n, STIC_VEC(gelu8(x)), geluScalar);
}

void gelu_tanh_forward(float* out, const float* inp, int64_t n) {
  // 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3) (Hendrycks & Gimpel 2016).
  mapUnary(
      out, inp, n,
      STIC_VEC(geluTanh8(x)),
      [](float x) {
        const float u = kSqrt2OverPi * (x + 0.044715f * x * x * x);
        return x / (1.0f + std::exp(-2.0f * u));
      });
}

void silu_forward(float* out, const float* inp, int64_t n) {
  mapUnary(out, inp, n, STIC_VEC(sigmoidTimes8(x, 1.0f)), [](float x) { return sigmoidTimes(x, 1.0f); });
}

void swiglu_forward(float* out, const float* gate, const float* up, int64_t n) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t end = std::min(n, (c + 1) * kChunk);
    int64_t i = c * kChunk;
#ifdef __AVX2__
    for (; i + 8 <= end; i += 8) {
      _mm256_storeu_ps(out + i, _mm256_mul_ps(sigmoidTimes8(_mm256_loadu_ps(gate + i), 1.0f), _mm256_loadu_ps(up + i)));
    }
#endif
    for (; i < end; i++) out[i] = sigmoidTimes(gate[i], 1.0f) * up[i];
  }
}

void relu_forward(float* out, const float* inp, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) out[i] = std::max(inp[i], 0.0f);
}

void add_inplace(float* a, const float* b, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kChunk)
  for (int64_t i = 0; i < n; i++) a[i] += b[i];
}

}  // namespace stic::cpu
