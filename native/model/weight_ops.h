// The model's reads of weight matrices held in their stored dtype (llava_weights.h): the linear
// forward, the input gradient through a frozen linear, and the embedding lookup. Row offsets
// select a part of a fused matrix (the up half of gate|up). Legend: T rows, K in, N out features.
#pragma once
#include <cstdint>

#include "core/ops.h"
#include "core/tensor.h"
#include "model/llava_weights.h"

namespace stic::model {

// out[T,N] = inp[T,K] @ W[row0 : row0 + N, :]^T + bias[N] (bias may be null).
inline void linearW(const Ops& ops, float* out, const float* inp, const Tensor& W, int64_t row0, const float* bias, int64_t T,
                    int64_t K, int64_t N) {
  ops.linear.linear_forward(out, inp, matrixRows(W, row0), W.dtype(), bias, T, K, N);
}

// dinp[T,K] = beta * dinp + dout[T,N] @ W[row0 : row0 + N, :].
inline void linearInputGrad(const Ops& ops, float* dinp, const float* dout, const Tensor& W, int64_t row0, int64_t T, int64_t K,
                            int64_t N, float beta) {
  ops.linear.gemm_typed_b(false, false, T, K, N, 1.0f, dout, N, matrixRows(W, row0), W.dtype(), K, beta, dinp, K);
}

// dst[C] = table[id, :] widened to f32 (ids validated by the caller).
void embedRow(const Ops& ops, float* dst, const Tensor& table, int64_t id);

}  // namespace stic::model
