// The model's reads of weight matrices held in their stored dtype (llava_weights.h): the linear
// forward, the input gradient through a frozen linear, and the embedding lookup. Row offsets
// select a part of a fused matrix (the up half of gate|up). Legend: T rows, K in, N out features.
#pragma once
#include <cstdint>

#include "core/tensor.h"
#include "cpu/ops.h"
#include "model/llava_weights.h"

namespace stic::model {

// out[T,N] = inp[T,K] @ W[row0 : row0 + N, :]^T + bias[N] (bias may be null).
inline void linearW(float* out, const float* inp, const Tensor& W, int64_t row0, const float* bias, int64_t T, int64_t K,
                    int64_t N) {
  cpu::linear_forward(out, inp, matrixRows(W, row0), W.dtype(), bias, T, K, N);
}

// dinp[T,K] = beta * dinp + dout[T,N] @ W[row0 : row0 + N, :].
inline void linearInputGrad(float* dinp, const float* dout, const Tensor& W, int64_t row0, int64_t T, int64_t K, int64_t N,
                            float beta) {
  cpu::gemm_typed_b(false, false, T, K, N, 1.0f, dout, N, matrixRows(W, row0), W.dtype(), K, beta, dinp, K);
}

// dst[C] = table[id, :] widened to f32 (ids validated by the caller).
void embedRow(float* dst, const Tensor& table, int64_t id);

}  // namespace stic::model
