// Portable SGEMM register tiles (no intrinsics): the fallback on CPUs without AVX2, and a check
// that the blocked driver does not depend on one tile shape. Legend: see gemm_kernels.h.
#include <cstdint>

#include "core/dtype.h"
#include "cpu/gemm_kernels.h"

namespace stic::cpu::gemm {
namespace {

constexpr int MR = 4, NR = 8;

void microScalar(int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc, float beta, int mr, int nr) {
  float acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; k++, Ap += MR, Bp += NR) {
    for (int r = 0; r < MR; r++) {
      for (int j = 0; j < NR; j++) acc[r][j] += Ap[r] * Bp[j];
    }
  }
  for (int r = 0; r < mr; r++) {
    float* c = C + r * ldc;
    for (int j = 0; j < nr; j++) c[j] = beta == 0.0f ? acc[r][j] : beta * c[j] + acc[r][j];
  }
}

float widen(float w) { return w; }
float widenBf16(uint16_t w) { return bf16ToF32(w); }

template <typename W, float (*Widen)(W)>
void rowsScalar(int64_t M, int64_t K, const float* X, const W* Wm, int64_t ldw, int64_t n0, int64_t n1, const float* bias,
                float beta, float* C, int64_t ldc) {
  for (int64_t n = n0; n < n1; n++) {
    const W* w = Wm + n * ldw;
    for (int64_t m = 0; m < M; m++) {
      const float* x = X + m * K;
      // Eight partial sums: the same association a SIMD lane split gives, and vectorisable.
      float part[8] = {};
      int64_t k = 0;
      for (; k + 8 <= K; k += 8) {
        for (int l = 0; l < 8; l++) part[l] += x[k + l] * Widen(w[k + l]);
      }
      float s = 0;
      for (; k < K; k++) s += x[k] * Widen(w[k]);
      for (int l = 0; l < 8; l++) s += part[l];
      if (bias) s += bias[n];
      float& c = C[m * ldc + n];
      c = beta == 0.0f ? s : beta * c + s;
    }
  }
}

}  // namespace

const Kernels& scalarKernels() {
  static const Kernels k{"scalar", MR, NR, 128, 256, 2048, microScalar, rowsScalar<float, widen>, rowsScalar<uint16_t, widenBf16>,
                         rowsScalar<uint16_t, f16ToF32>};
  return k;
}

}  // namespace stic::cpu::gemm
