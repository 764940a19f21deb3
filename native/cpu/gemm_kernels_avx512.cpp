// AVX-512F SGEMM register tiles: a 12x32 micro-kernel (24 zmm accumulators + 2 B vectors + 1 A
// broadcast of the 32 registers) and a rows kernel for decode (4 x-rows x 4 weight rows = 16
// accumulators). Compiled with a target attribute and chosen at run time, so the build flags stay
// at AVX2 and the binary still runs on CPUs without AVX-512 (gemm_kernels.h).
// Legend: see gemm_kernels.h.
#include <cstdint>

#include "cpu/gemm_kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
// GCC 12's _mm512_reduce_add_ps passes _mm256_undefined_pd() on purpose; -Wuninitialized misfires on it.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define STIC_GEMM_AVX512 1
#define STIC_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#endif

namespace stic::cpu::gemm {

#ifdef STIC_GEMM_AVX512
namespace {

constexpr int MR = 12, NR = 32;

STIC_TARGET_AVX512 inline __mmask16 lanes(int n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1u);
}

STIC_TARGET_AVX512 void microAvx512(int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc, float beta,
                                    int mr, int nr) {
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  // The C tile is touched only after the kc loop: fetch it now so the stores do not stall.
  for (int r = 0; r < mr; r++) {
    _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc + NR - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++, Ap += MR, Bp += NR) {
    const __m512 b0 = _mm512_load_ps(Bp), b1 = _mm512_load_ps(Bp + 16);
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
      const __m512 a = _mm512_set1_ps(Ap[r]);
      acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  const __m512 vb = _mm512_set1_ps(beta);
  if (mr == MR && nr == NR) {
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
      float* c = C + r * ldc;
      if (beta == 0.0f) {
        _mm512_storeu_ps(c, acc[r][0]);
        _mm512_storeu_ps(c + 16, acc[r][1]);
      } else {
        _mm512_storeu_ps(c, _mm512_fmadd_ps(vb, _mm512_loadu_ps(c), acc[r][0]));
        _mm512_storeu_ps(c + 16, _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + 16), acc[r][1]));
      }
    }
    return;
  }
  // Edge tile: masked loads and stores touch only the valid mr x nr part of C.
  const __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
  for (int r = 0; r < mr; r++) {
    float* c = C + r * ldc;
    if (beta == 0.0f) {
      _mm512_mask_storeu_ps(c, m0, acc[r][0]);
      _mm512_mask_storeu_ps(c + 16, m1, acc[r][1]);
    } else {
      _mm512_mask_storeu_ps(c, m0, _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, c), acc[r][0]));
      _mm512_mask_storeu_ps(c + 16, m1, _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16), acc[r][1]));
    }
  }
}

// Weight loaders: 16 consecutive weights as f32 lanes, from f32, bf16 (the top half of an f32:
// widen and shift) or f16 (vcvtph2ps) storage. `tail` loads the last n < 16 (the rest zero).
struct LoadF32 {
  using T = float;
  STIC_TARGET_AVX512 static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
  STIC_TARGET_AVX512 static __m512 tail(const float* p, int n) { return _mm512_maskz_loadu_ps(lanes(n), p); }
};
struct LoadBf16 {
  using T = uint16_t;
  STIC_TARGET_AVX512 static __m512 load(const uint16_t* p) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  }
  STIC_TARGET_AVX512 static __m512 tail(const uint16_t* p, int n) {
    alignas(32) uint16_t buf[16] = {};
    for (int i = 0; i < n; i++) buf[i] = p[i];
    return load(buf);
  }
};
struct LoadF16 {
  using T = uint16_t;
  STIC_TARGET_AVX512 static __m512 load(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  STIC_TARGET_AVX512 static __m512 tail(const uint16_t* p, int n) {
    alignas(32) uint16_t buf[16] = {};
    for (int i = 0; i < n; i++) buf[i] = p[i];
    return load(buf);
  }
};

// MB x-rows times NB weight rows; rows past the end are clamped (computed twice, stored once),
// which keeps the loop branch-free and every load in bounds.
template <int MB, int NB, class WL>
STIC_TARGET_AVX512 void rowsBlockAvx512(int64_t mb, int64_t nb, int64_t K, const float* X, const typename WL::T* W, int64_t ldw,
                                        float (&out)[MB][NB]) {
  const float* x[MB];
  const typename WL::T* w[NB];
  for (int i = 0; i < MB; i++) x[i] = X + (i < mb ? i : 0) * K;
  for (int j = 0; j < NB; j++) w[j] = W + (j < nb ? j : 0) * ldw;
  __m512 acc[MB][NB];
  for (int i = 0; i < MB; i++)
    for (int j = 0; j < NB; j++) acc[i][j] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 wv[NB];
    for (int j = 0; j < NB; j++) wv[j] = WL::load(w[j] + k);
    for (int i = 0; i < MB; i++) {
      const __m512 xv = _mm512_loadu_ps(x[i] + k);
      for (int j = 0; j < NB; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  if (k < K) {
    const int n = static_cast<int>(K - k);
    __m512 wv[NB];
    for (int j = 0; j < NB; j++) wv[j] = WL::tail(w[j] + k, n);
    for (int i = 0; i < MB; i++) {
      const __m512 xv = _mm512_maskz_loadu_ps(lanes(n), x[i] + k);
      for (int j = 0; j < NB; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MB; i++)
    for (int j = 0; j < NB; j++) out[i][j] = _mm512_reduce_add_ps(acc[i][j]);
}

template <class WL>
STIC_TARGET_AVX512 void rowsAvx512(int64_t M, int64_t K, const float* X, const typename WL::T* W, int64_t ldw, int64_t n0,
                                   int64_t n1, const float* bias, float beta, float* C, int64_t ldc) {
  constexpr int MB = 4, NB = 4;
  for (int64_t n = n0; n < n1; n += NB) {
    const int64_t nb = n1 - n < NB ? n1 - n : NB;
    // The NB weight rows stay in L1 while every group of x-rows passes over them: W is read once.
    for (int64_t m = 0; m < M; m += MB) {
      const int64_t mb = M - m < MB ? M - m : MB;
      float s[MB][NB];
      if (mb == 1) {  // decode: one x-row alone, without MB - 1 clamped copies of it (MB times fewer FMAs)
        float s1[1][NB];
        rowsBlockAvx512<1, NB, WL>(1, nb, K, X + m * K, W + n * ldw, ldw, s1);
        for (int j = 0; j < NB; j++) s[0][j] = s1[0][j];
      } else {
        rowsBlockAvx512<MB, NB, WL>(mb, nb, K, X + m * K, W + n * ldw, ldw, s);
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

const Kernels* avx512Kernels() {
  static const Kernels k{"avx512", MR, NR, 144, 256, 4096, microAvx512, rowsAvx512<LoadF32>, rowsAvx512<LoadBf16>,
                         rowsAvx512<LoadF16>};
  static const bool ok = __builtin_cpu_supports("avx512f");
  return ok ? &k : nullptr;
}

#else

const Kernels* avx512Kernels() { return nullptr; }

#endif

}  // namespace stic::cpu::gemm
