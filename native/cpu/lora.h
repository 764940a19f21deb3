// LoRA linear layer (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") with
// PEFT's dropout placement (dropout on the layer input of the low-rank path only):
//   y[T,N] = x W^T + bias + scale * (dropout(x) A^T) B^T,   scale = alpha / r
// The base weight W is frozen; A and B are trained. x A^T is only [T,r], so the low-rank path costs
// 2 r (K + N) flops per row beside the base GEMM's 2 K N.
// Legend: T rows, K input features, N output features, r rank.
#pragma once
#include <cstdint>

#include "core/counter_rng.h"
#include "core/ops_train.h"  // LoraDims

namespace stic::train {

// Floats of scratch the forward and backward need (the same for both): T*r, plus T*K when
// dropout > 0 (the dropped input, or the low-rank dx before its mask).
int64_t lora_workspace_floats(const LoraDims& d);

// out[T,K] = x with each element zeroed with probability p, the survivors scaled by 1/(1-p)
// (torch.nn.Dropout), the mask drawn from the key's counter stream (element index t*K + k).
// out may alias x. p = 0 copies.
void lora_dropout(float* out, const float* x, int64_t T, int64_t K, float p, const DropoutKey& key);

// Forward. out[T,N] = x W^T + bias + scale * xa B^T, overwritten.
// xa[T,r] = dropout(x) A^T is written for the backward (keep it until then).
// x[T,K], W[N,K] (frozen), bias[N] or null, A[r,K], B[N,r]; work: lora_workspace_floats floats.
void lora_linear_forward(float* out, float* xa, float* work, const float* x, const float* W, const float* bias,
                         const float* A, const float* B, const LoraDims& d, const DropoutKey& key);

// Backward, with the forward's key (the dropout mask is redrawn, never stored):
//   dA[r,K] += (scale * dout B)^T dropout(x)       dB[N,r] += scale * dout^T xa
//   dx[T,K]  = dout W + dropout'(scale * dout B A)   (overwritten; null when not needed)
// dA/dB may be null (frozen). dout[T,N]; x, xa, W, A, B as in the forward; work as in the forward.
void lora_linear_backward(float* dx, float* dA, float* dB, float* work, const float* dout, const float* x, const float* xa,
                          const float* W, const float* A, const float* B, const LoraDims& d, const DropoutKey& key);

// The low-rank path alone, on a strided output: the model keeps fused projections (q|k|v,
// gate|up) in one GEMM, so each module's LoRA adds into its column range of the fused output.
// out[T, N] (row stride ldo) += scale * (dropout(x) A^T) B^T; xa[T,r] written (keep it for the
// backward). work: lora_workspace_floats floats.
void lora_delta_forward(float* out, int64_t ldo, float* xa, float* work, const float* x, const float* A, const float* B,
                        const LoraDims& d, const DropoutKey& key);

// Backward of lora_delta_forward, with the forward's key. dout[T, N] has row stride ldd.
//   dA[r,K] += (scale * dout B)^T dropout(x)       dB[N,r] += scale * dout^T xa
//   dx[T,K] += dropout'(scale * dout B A)          (ACCUMULATED: the base path wrote dx first)
// dA/dB null: frozen; dx null: not needed.
void lora_delta_backward(float* dx, float* dA, float* dB, float* work, const float* dout, int64_t ldd, const float* x,
                         const float* xa, const float* A, const float* B, const LoraDims& d, const DropoutKey& key);

}  // namespace stic::train
