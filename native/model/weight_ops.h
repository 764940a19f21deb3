// The model's reads of weight matrices held in their stored dtype (llava_weights.h): the linear
// forward (the vision tower's; the decoder reads its weights through decoder_layer.h's MatrixRef).
// Row offsets select a part of a fused matrix. Legend: T rows, K in, N out features.
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

}  // namespace stic::model
