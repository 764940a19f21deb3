// LoRA linear forward/backward on the CPU over stic::cpu::sgemm. Legend: T rows, K in, N out, r rank.
#include "cpu/lora.h"

#include <cstring>

#include "cpu/ops.h"

namespace stic::train {

int64_t lora_workspace_floats(const LoraDims& d) { return d.T * d.r + (d.dropout > 0.0f ? d.T * d.K : 0); }

void lora_dropout(float* out, const float* x, int64_t T, int64_t K, float p, const DropoutKey& key) {
  const int64_t n = T * K;
  if (p <= 0.0f) {
    if (out != x) std::memcpy(out, x, n * sizeof(float));
    return;
  }
  const uint64_t stream = streamOf(key);
  // An integer compare (dropoutThreshold24) and an integer select of the multiplier keep the loop
  // vectorisable (float compares do not vectorise under -ftrapping-math).
  const uint32_t threshold = dropoutThreshold24(p);
  const float keepScale = dropoutKeepScale(p);
  uint32_t keepBits;
  std::memcpy(&keepBits, &keepScale, sizeof keepBits);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const uint32_t bits = counterBits24(stream, static_cast<uint32_t>(i)) >= threshold ? keepBits : 0u;
    float mult;
    std::memcpy(&mult, &bits, sizeof mult);
    out[i] = x[i] * mult;
  }
}

void lora_delta_forward(float* out, int64_t ldo, float* xa, float* work, const float* x, const float* A, const float* B,
                        const LoraDims& d, const DropoutKey& key) {
  const int64_t T = d.T, K = d.K, N = d.N, r = d.r;
  // The low-rank input: x itself, or its dropped copy in the workspace.
  const float* xd = x;
  if (d.dropout > 0.0f) {
    float* drop = work + T * r;  // [T,K]
    lora_dropout(drop, x, T, K, d.dropout, key);
    xd = drop;
  }
  cpu::sgemm(false, true, T, r, K, 1.0f, xd, K, A, K, 0.0f, xa, r);        // xa[T,r] = xd A^T
  cpu::sgemm(false, true, T, N, r, d.scale, xa, r, B, r, 1.0f, out, ldo);  // out += scale xa B^T
}

void lora_delta_backward(float* dx, float* dA, float* dB, float* work, const float* dout, int64_t ldd, const float* x,
                         const float* xa, const float* A, const float* B, const LoraDims& d, const DropoutKey& key) {
  const int64_t T = d.T, K = d.K, N = d.N, r = d.r;
  float* dxa = work;  // [T,r] = scale * dout B, the gradient reaching xa
  cpu::sgemm(false, false, T, r, N, d.scale, dout, ldd, B, r, 0.0f, dxa, r);
  if (dB) cpu::sgemm(true, false, N, r, T, d.scale, dout, ldd, xa, r, 1.0f, dB, r);  // dB[N,r] += scale dout^T xa
  const bool drop = d.dropout > 0.0f;
  float* big = drop ? work + T * r : nullptr;  // [T,K] the dropped x, then the low-rank dx
  if (dA) {
    const float* xd = x;
    if (drop) {
      lora_dropout(big, x, T, K, d.dropout, key);
      xd = big;
    }
    cpu::sgemm(true, false, r, K, T, 1.0f, dxa, r, xd, K, 1.0f, dA, K);  // dA[r,K] += dxa^T xd
  }
  if (!dx) return;
  if (!drop) {
    cpu::sgemm(false, false, T, K, r, 1.0f, dxa, r, A, K, 1.0f, dx, K);  // dx += dxa A
    return;
  }
  // Dropout is linear with the same mask in both directions: dx += dropout(dxa A).
  cpu::sgemm(false, false, T, K, r, 1.0f, dxa, r, A, K, 0.0f, big, K);
  lora_dropout(big, big, T, K, d.dropout, key);
  cpu::add_inplace(dx, big, T * K);
}

void lora_linear_forward(float* out, float* xa, float* work, const float* x, const float* W, const float* bias,
                         const float* A, const float* B, const LoraDims& d, const DropoutKey& key) {
  cpu::linear_forward(out, x, W, bias, d.T, d.K, d.N);  // out[T,N] = x W^T + bias
  lora_delta_forward(out, d.N, xa, work, x, A, B, d, key);
}

void lora_linear_backward(float* dx, float* dA, float* dB, float* work, const float* dout, const float* x, const float* xa,
                          const float* W, const float* A, const float* B, const LoraDims& d, const DropoutKey& key) {
  if (dx) cpu::sgemm(false, false, d.T, d.K, d.N, 1.0f, dout, d.N, W, d.K, 0.0f, dx, d.K);  // base path: dx = dout W
  lora_delta_backward(dx, dA, dB, work, dout, d.N, x, xa, A, B, d, key);
}

}  // namespace stic::train
