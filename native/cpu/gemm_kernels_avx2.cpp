// AVX2/FMA SGEMM register tiles: a 6x16 micro-kernel (12 ymm accumulators + 2 B vectors + 1 A
// broadcast = 15 of the 16 registers) and a rows kernel for decode (2 x-rows x 4 weight rows = 8
// accumulators). Compiled with a target attribute and chosen at run time (gemm_kernels.h).
// Legend: see gemm_kernels.h.
#include <cstdint>

#include "cpu/gemm_kernels.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define STIC_GEMM_AVX2 1
#define STIC_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

namespace stic::cpu::gemm {

#ifdef STIC_GEMM_AVX2
namespace {

constexpr int MR = 6, NR = 16;

STIC_TARGET_AVX2 void microAvx2(int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc, float beta, int mr,
                                int nr) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  // The C tile is touched only after the kc loop: fetch it now so the stores do not stall.
  for (int r = 0; r < mr; r++) {
    _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc + NR - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++, Ap += MR, Bp += NR) {
    __m256 b0 = _mm256_load_ps(Bp), b1 = _mm256_load_ps(Bp + 8);
    __m256 a = _mm256_broadcast_ss(Ap + 0);
    c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(Ap + 1);
    c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(Ap + 2);
    c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(Ap + 3);
    c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(Ap + 4);
    c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(Ap + 5);
    c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (mr == MR && nr == NR) {
    const __m256 vb = _mm256_set1_ps(beta);
    for (int r = 0; r < MR; r++) {
      float* c = C + r * ldc;
      if (beta == 0.0f) {
        _mm256_storeu_ps(c, acc[r][0]);
        _mm256_storeu_ps(c + 8, acc[r][1]);
      } else {
        _mm256_storeu_ps(c, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), acc[r][0]));
        _mm256_storeu_ps(c + 8, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), acc[r][1]));
      }
    }
    return;
  }
  // Edge tile: spill and copy only the valid part (C beyond it may be another matrix's memory).
  alignas(32) float tile[MR][NR];
  for (int r = 0; r < MR; r++) {
    _mm256_store_ps(tile[r], acc[r][0]);
    _mm256_store_ps(tile[r] + 8, acc[r][1]);
  }
  for (int r = 0; r < mr; r++) {
    float* c = C + r * ldc;
    for (int j = 0; j < nr; j++) c[j] = beta == 0.0f ? tile[r][j] : beta * c[j] + tile[r][j];
  }
}

STIC_TARGET_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Lanes [0, n) of a mask for _mm256_maskload_ps (the K tail).
STIC_TARGET_AVX2 inline __m256i tailMask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Weight loaders: 8 consecutive weights as f32 lanes, from f32, bf16 (widen and shift) or f16
// (F16C) storage. `tail` loads the last n < 8 (the rest zero).
struct LoadF32 {
  using T = float;
  STIC_TARGET_AVX2 static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
  STIC_TARGET_AVX2 static __m256 tail(const float* p, int n) { return _mm256_maskload_ps(p, tailMask(n)); }
};
struct LoadBf16 {
  using T = uint16_t;
  STIC_TARGET_AVX2 static __m256 load(const uint16_t* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
  STIC_TARGET_AVX2 static __m256 tail(const uint16_t* p, int n) {
    alignas(16) uint16_t buf[8] = {};
    for (int i = 0; i < n; i++) buf[i] = p[i];
    return load(buf);
  }
};
struct LoadF16 {
  using T = uint16_t;
  STIC_TARGET_AVX2 static __m256 load(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  STIC_TARGET_AVX2 static __m256 tail(const uint16_t* p, int n) {
    alignas(16) uint16_t buf[8] = {};
    for (int i = 0; i < n; i++) buf[i] = p[i];
    return load(buf);
  }
};

// MB x-rows times NB weight rows; rows past the end are clamped (computed twice, stored once),
// which keeps the loop branch-free and every load in bounds.
template <int MB, int NB, class WL>
STIC_TARGET_AVX2 void rowsBlockAvx2(int64_t mb, int64_t nb, int64_t K, const float* X, const typename WL::T* W, int64_t ldw,
                                    float (&out)[MB][NB]) {
  const float* x[MB];
  const typename WL::T* w[NB];
  for (int i = 0; i < MB; i++) x[i] = X + (i < mb ? i : 0) * K;
  for (int j = 0; j < NB; j++) w[j] = W + (j < nb ? j : 0) * ldw;
  __m256 acc[MB][NB];
  for (int i = 0; i < MB; i++)
    for (int j = 0; j < NB; j++) acc[i][j] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 wv[NB];
    for (int j = 0; j < NB; j++) wv[j] = WL::load(w[j] + k);
    for (int i = 0; i < MB; i++) {
      __m256 xv = _mm256_loadu_ps(x[i] + k);
      for (int j = 0; j < NB; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  if (k < K) {
    const int n = static_cast<int>(K - k);
    __m256 wv[NB];
    for (int j = 0; j < NB; j++) wv[j] = WL::tail(w[j] + k, n);
    for (int i = 0; i < MB; i++) {
      __m256 xv = _mm256_maskload_ps(x[i] + k, tailMask(n));
      for (int j = 0; j < NB; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MB; i++)
    for (int j = 0; j < NB; j++) out[i][j] = hsum(acc[i][j]);
}

template <class WL>
STIC_TARGET_AVX2 void rowsAvx2(int64_t M, int64_t K, const float* X, const typename WL::T* W, int64_t ldw, int64_t n0,
                               int64_t n1, const float* bias, float beta, float* C, int64_t ldc) {
  constexpr int MB = 2, NB = 4;
  for (int64_t n = n0; n < n1; n += NB) {
    const int64_t nb = n1 - n < NB ? n1 - n : NB;
    // The NB weight rows stay in L1 while every x-row pair passes over them: W is read once.
    for (int64_t m = 0; m < M; m += MB) {
      const int64_t mb = M - m < MB ? M - m : MB;
      float s[MB][NB];
      if (mb == 1) {  // decode: one x-row alone, without MB - 1 clamped copies of it (MB times fewer FMAs)
        float s1[1][NB];
        rowsBlockAvx2<1, NB, WL>(1, nb, K, X + m * K, W + n * ldw, ldw, s1);
        for (int j = 0; j < NB; j++) s[0][j] = s1[0][j];
      } else {
        rowsBlockAvx2<MB, NB, WL>(mb, nb, K, X + m * K, W + n * ldw, ldw, s);
      }
      for (int64_t i = 0; i < mb; i++) {
        for (int64_t j = 0; j < nb; j++) {
          float v = s[i][j] + (bias ? bias[n + j] : 0.0f);
          float& c = C[(m + i) * ldc + n + j];
          c = beta == 0.0f ? v : beta * c + v;
        }
      }
    }
  }
}

}  // namespace

const Kernels* avx2Kernels() {
  static const Kernels k{"avx2", MR, NR, 144, 256, 3072, microAvx2, rowsAvx2<LoadF32>, rowsAvx2<LoadBf16>, rowsAvx2<LoadF16>};
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return ok ? &k : nullptr;
}

#else

const Kernels* avx2Kernels() { return nullptr; }

#endif

}  // namespace stic::cpu::gemm
