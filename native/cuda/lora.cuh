// CUDA twin of native/cpu/lora.h: the LoRA low-rank path (Hu et al. 2021) with PEFT's dropout
// placement, as the model's ops table uses it (core/ops_train.h, LoraOps): a delta added into a
// column range of a fused projection's output, and its backward. The GEMMs run on a Gemm (cuBLASLt
// or the reference kernel, gemm.cuh); the dropout mask is the CPU twin's, bit for bit (the counter
// stream of core/counter_rng.h, element index t*K + k), so a step's masks do not depend on the device.
// Storage: every tensor fp32 (the adapters train in fp32; the Gemm takes A and B in one dtype, and
// xa, a Gemm output, is fp32). Workspace: lora_workspace_floats(d) floats, the CPU twin's size and
// layout: [T,r] (the gradient reaching xa), then [T,K] when dropout > 0 (the dropped input, or the
// low-rank dx before its mask). Every function only enqueues on `stream`.
// Legend: T rows, K input features, N output features, r rank.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/ops_train.h"  // LoraDims, DropoutKey
#include "cuda/gemm.cuh"

namespace stic::cuda {

// Floats of scratch the forward and backward need: T*r, plus T*K when dropout > 0.
int64_t lora_workspace_floats(const train::LoraDims& d);

// out[T,K] = x[T,K] with each element zeroed with probability p and the survivors scaled by
// 1/(1-p), the mask of cpu/lora.h's lora_dropout. out may alias x; p = 0 copies.
Status lora_dropout(float* out, const float* x, int64_t T, int64_t K, float p, const train::DropoutKey& key,
                    cudaStream_t stream);

// out[T,N] (row stride ldo) += scale (dropout(x) A^T) B^T; xa[T,r] = dropout(x) A^T written for the
// backward. x[T,K], A[r,K], B[N,r].
Status lora_delta_forward(float* out, int64_t ldo, float* xa, float* work, const float* x, const float* A, const float* B,
                          const train::LoraDims& d, const train::DropoutKey& key, const Gemm& gemm, cudaStream_t stream);

// Backward of lora_delta_forward with the forward's key (the mask is redrawn, never stored):
//   dA[r,K] += (scale dout B)^T dropout(x)       dB[N,r] += scale dout^T xa
//   dx[T,K] += dropout'(scale dout B A)          (ACCUMULATED: the base path wrote dx first)
// dA/dB null: frozen; dx null: not needed. dout[T,N] has row stride ldd.
Status lora_delta_backward(float* dx, float* dA, float* dB, float* work, const float* dout, int64_t ldd, const float* x,
                           const float* xa, const float* A, const float* B, const train::LoraDims& d,
                           const train::DropoutKey& key, const Gemm& gemm, cudaStream_t stream);

}  // namespace stic::cuda
