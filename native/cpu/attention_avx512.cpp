// AVX-512F block products of the flash-style attention (attention_kernels.h): four query rows at a
// time, so each key (or value) vector loaded feeds four FMAs and 16 of the 32 zmm registers hold
// accumulators. Legend: see attention_kernels.h.
#include <algorithm>
#include <cstdint>

#include "cpu/attention_kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define STIC_ATTN_AVX512 1
#define STIC_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#endif

namespace stic::cpu::attn {

#ifdef STIC_ATTN_AVX512
namespace {

constexpr int64_t RB = 4;  // rows per pass; rows past R repeat the last row and are not stored

STIC_TARGET_AVX512 void scores512(const float* qs, const float* kt, float* sc, int64_t R, int64_t hd) {
  for (int64_t r = 0; r < R; r += RB) {
    const float* q[RB];
    for (int64_t i = 0; i < RB; i++) q[i] = qs + std::min(r + i, R - 1) * hd;
    __m512 acc[RB][4];
    for (auto& row : acc)
      for (auto& x : row) x = _mm512_setzero_ps();
    for (int64_t d = 0; d < hd; d++) {
      const float* k = kt + d * Bk;
      const __m512 b0 = _mm512_loadu_ps(k), b1 = _mm512_loadu_ps(k + 16), b2 = _mm512_loadu_ps(k + 32),
                   b3 = _mm512_loadu_ps(k + 48);
      for (int64_t i = 0; i < RB; i++) {
        const __m512 x = _mm512_set1_ps(q[i][d]);
        acc[i][0] = _mm512_fmadd_ps(x, b0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(x, b1, acc[i][1]);
        acc[i][2] = _mm512_fmadd_ps(x, b2, acc[i][2]);
        acc[i][3] = _mm512_fmadd_ps(x, b3, acc[i][3]);
      }
    }
    for (int64_t i = 0; i < RB && r + i < R; i++) {
      for (int c = 0; c < 4; c++) _mm512_storeu_ps(sc + (r + i) * Bk + 16 * c, acc[i][c]);
    }
  }
}

// NV vectors (16 NV dims from d0) of RB rows.
template <int NV>
STIC_TARGET_AVX512 void pvChunk512(const float* p, const float* corr, const float* vb, int64_t bk, float* o, int64_t R,
                                   int64_t hd, int64_t r, int64_t d0) {
  int64_t rows[RB];
  for (int64_t i = 0; i < RB; i++) rows[i] = std::min(r + i, R - 1);
  __m512 acc[RB][NV];
  for (int64_t i = 0; i < RB; i++) {
    const __m512 c = _mm512_set1_ps(corr[rows[i]]);
    for (int v = 0; v < NV; v++) acc[i][v] = _mm512_mul_ps(c, _mm512_loadu_ps(o + rows[i] * hd + d0 + 16 * v));
  }
  for (int64_t j = 0; j < bk; j++) {
    __m512 b[NV];
    for (int v = 0; v < NV; v++) b[v] = _mm512_loadu_ps(vb + j * hd + d0 + 16 * v);
    for (int64_t i = 0; i < RB; i++) {
      const __m512 x = _mm512_set1_ps(p[rows[i] * Bk + j]);
      for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(x, b[v], acc[i][v]);
    }
  }
  for (int64_t i = 0; i < RB && r + i < R; i++) {
    for (int v = 0; v < NV; v++) _mm512_storeu_ps(o + (r + i) * hd + d0 + 16 * v, acc[i][v]);
  }
}

STIC_TARGET_AVX512 void pv512(const float* p, const float* corr, const float* vb, int64_t bk, float* o, int64_t R, int64_t hd) {
  for (int64_t r = 0; r < R; r += RB) {
    int64_t d0 = 0;
    for (; d0 + 64 <= hd; d0 += 64) pvChunk512<4>(p, corr, vb, bk, o, R, hd, r, d0);
    for (; d0 < hd; d0 += 16) pvChunk512<1>(p, corr, vb, bk, o, R, hd, r, d0);
  }
}

}  // namespace

const Kernels* avx512Kernels() {
  static const Kernels k{scores512, pv512};
  static const bool ok = __builtin_cpu_supports("avx512f");
  return ok ? &k : nullptr;
}

#else

const Kernels* avx512Kernels() { return nullptr; }

#endif

}  // namespace stic::cpu::attn
