// SGEMM and the nn.Linear forward on the CPU (fp32). Legend: see ops.h (M, N, K matrix sizes).
// First version: straightforward row-parallel loops; the blocked SIMD kernel replaces it.
#include <omp.h>

#include <cstdint>

#include "cpu/ops.h"

namespace stic::cpu {

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < M; i++) {
    float* c = C + i * ldc;
    // beta == 0 overwrites (BLAS convention: C may hold NaN garbage).
    for (int64_t j = 0; j < N; j++) c[j] = beta == 0.0f ? 0.0f : beta * c[j];
    for (int64_t k = 0; k < K; k++) {
      float a = alpha * (transA ? A[k * lda + i] : A[i * lda + k]);
      if (!transB) {
        const float* b = B + k * ldb;
        for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
      } else {
        for (int64_t j = 0; j < N; j++) c[j] += a * B[j * ldb + k];
      }
    }
  }
}

void sgemm_strided_batched(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                           int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB, float beta,
                           float* C, int64_t ldc, int64_t strideC, int64_t batch) {
  for (int64_t b = 0; b < batch; b++) {
    sgemm(transA, transB, M, N, K, alpha, A + b * strideA, lda, B + b * strideB, ldb, beta, C + b * strideC, ldc);
  }
}

void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int64_t T, int64_t K, int64_t N) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t t = 0; t < T; t++) {
    for (int64_t n = 0; n < N; n++) {
      const float* x = inp + t * K;
      const float* w = weight + n * K;
      float s = bias ? bias[n] : 0.0f;
      for (int64_t k = 0; k < K; k++) s += x[k] * w[k];
      out[t * N + n] = s;
    }
  }
}

}  // namespace stic::cpu
