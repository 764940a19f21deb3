// Fused multi-tensor AdamW and global-norm gradient clipping on the GPU: the CUDA twins of
// native/cpu/adamw.h (torch.optim.AdamW's arithmetic, torch.nn.utils.clip_grad_norm_).
// All trainable tensors are described once by a device table of AdamWTensor and cut into fixed
// blocks of elements (adamw_blocks, on the host, uploaded with the table when the trainer is
// built); then one launch updates every tensor ("multi-tensor apply"), whatever their count.
// Clipping never synchronises: the norm, the clip coefficient and a "non-finite, skip the step"
// flag stay in device memory, where the scale and AdamW kernels read them; the host reads the norm
// back whenever it logs.
// Legend: n elements of one tensor, nb blocks over all tensors.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "cpu/adamw.h"

namespace stic::cuda {

// One trainable tensor (device pointers): fp32 master parameter, gradient and moments, all [n];
// paramBf16 [n] or null: a bf16 copy refreshed by every step (the weights a bf16 model reads).
struct AdamWTensor {
  float* param = nullptr;
  float* grad = nullptr;
  float* m = nullptr;
  float* v = nullptr;
  void* paramBf16 = nullptr;
  int64_t n = 0;
  int32_t group = 0;
};

// A range of one tensor's elements: the unit of work of every kernel here.
struct AdamWBlock {
  int32_t tensor;
  int64_t begin, end;
};

constexpr int64_t kAdamWBlockElems = 1 << 14;  // the CPU twin's block size
constexpr int kAdamWMaxGroups = 8;

// The blocks of `tensors` (host copy of the table), in tensor order.
std::vector<AdamWBlock> adamw_blocks(const AdamWTensor* tensors, int64_t count);

// Per-group constants of one step, computed on the host exactly as the CPU twin computes them.
struct AdamWStepConstants {
  float decay[kAdamWMaxGroups];     // 1 - lr wd
  float stepSize[kAdamWMaxGroups];  // lr / (1 - beta1^step)
  float bc2Sqrt;                    // sqrt(1 - beta2^step)
  float beta2, oneMinusBeta1, oneMinusBeta2, eps;
  int32_t groups;
};
Result<AdamWStepConstants> adamw_constants(const train::ParamGroup* groups, int64_t groupCount,
                                           const train::AdamWHyper& hyper, int64_t step);

// One update of every block. skip (device int32) or null: when *skip != 0 nothing changes.
Status adamw_step(const AdamWTensor* tensors, const AdamWBlock* blocks, int64_t nb, const AdamWStepConstants& c,
                  const int32_t* skip, cudaStream_t stream);

// Scratch of the norm: one fp64 partial per block.
size_t grad_norm_workspace_bytes(int64_t nb);

// *norm (device fp64) = sqrt(sum of every gradient element squared): per-block partials in fp64,
// then one block adds them in block order (deterministic).
Status grad_global_norm(double* norm, void* work, const AdamWTensor* tensors, const AdamWBlock* blocks, int64_t nb,
                        cudaStream_t stream);

// clip_grad_norm_: *norm as above; every gradient scaled by min(1, maxNorm / (norm + 1e-6)) unless
// the norm is not finite, in which case the gradients stay untouched and *skip (device int32) = 1
// (else 0), for adamw_step.
Status clip_grad_norm(double* norm, int32_t* skip, void* work, const AdamWTensor* tensors, const AdamWBlock* blocks,
                      int64_t nb, double maxNorm, cudaStream_t stream);

}  // namespace stic::cuda
