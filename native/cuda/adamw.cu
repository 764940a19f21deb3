// Multi-tensor AdamW and gradient-norm clipping on the GPU (see adamw.cuh; the arithmetic is
// native/cpu/adamw.cpp's, op for op). Legend: nb blocks, one CUDA block per AdamW block.
#include <algorithm>
#include <cmath>

#include "cuda/adamw.cuh"
#include "cuda/common.cuh"

namespace stic::cuda {
namespace {

constexpr int kAdamThreads = 256;

__global__ void adamwKernel(const AdamWTensor* __restrict__ tensors, const AdamWBlock* __restrict__ blocks,
                            AdamWStepConstants c, const int32_t* skip) {
  if (skip && *skip) return;
  const AdamWBlock blk = blocks[blockIdx.x];
  const AdamWTensor s = tensors[blk.tensor];
  const float decay = c.decay[s.group], stepSize = c.stepSize[s.group];
  for (int64_t k = blk.begin + threadIdx.x; k < blk.end; k += blockDim.x) {
    const float g = s.grad[k];
    const float p = s.param[k] * decay;                      // decoupled weight decay: p.mul_(1 - lr wd)
    const float m = s.m[k] + (g - s.m[k]) * c.oneMinusBeta1;  // exp_avg.lerp_(g, 1 - b1)
    const float v = s.v[k] * c.beta2 + c.oneMinusBeta2 * g * g;  // exp_avg_sq.mul_(b2).addcmul_(g, g, 1 - b2)
    const float denom = sqrtf(v) / c.bc2Sqrt + c.eps;
    const float np = p - stepSize * (m / denom);
    s.m[k] = m;
    s.v[k] = v;
    s.param[k] = np;
    if (s.paramBf16) static_cast<bf16*>(s.paramBf16)[k] = fromF<bf16>(np);
  }
}

__global__ void sumSquaresKernel(double* partial, const AdamWTensor* __restrict__ tensors, const AdamWBlock* __restrict__ blocks) {
  __shared__ double red[32];
  const AdamWBlock blk = blocks[blockIdx.x];
  const float* g = tensors[blk.tensor].grad;
  double ss = 0;
  for (int64_t k = blk.begin + threadIdx.x; k < blk.end; k += blockDim.x) ss += static_cast<double>(g[k]) * g[k];
  ss = blockSum(ss, red);
  if (threadIdx.x == 0) partial[blockIdx.x] = ss;
}

// norm = sqrt(sum of partials): each thread adds a fixed strided subset in order, then a fixed tree.
// With maxNorm > 0 also the clip decision: coef (fp32, in partial[nb]'s slot as a float) and skip.
__global__ void normFinishKernel(double* norm, int32_t* skip, float* coef, const double* __restrict__ partial, int64_t nb,
                                 double maxNorm) {
  __shared__ double red[32];
  double s = 0;
  for (int64_t i = threadIdx.x; i < nb; i += blockDim.x) s += partial[i];
  s = blockSum(s, red);
  if (threadIdx.x != 0) return;
  const double n = sqrt(s);
  *norm = n;
  if (!coef) return;
  const bool finite = isfinite(n);
  *skip = finite ? 0 : 1;
  const double k = finite ? fmin(1.0, maxNorm / (n + 1e-6)) : 1.0;
  *coef = static_cast<float>(k);  // 1: no-op, as torch multiplies by exactly 1.0
}

__global__ void scaleGradsKernel(const AdamWTensor* __restrict__ tensors, const AdamWBlock* __restrict__ blocks,
                                 const float* __restrict__ coef) {
  const float c = *coef;
  if (c >= 1.0f) return;
  const AdamWBlock blk = blocks[blockIdx.x];
  float* g = tensors[blk.tensor].grad;
  for (int64_t k = blk.begin + threadIdx.x; k < blk.end; k += blockDim.x) g[k] *= c;
}

Status checkBlocks(int64_t nb, const char* op) {
  STIC_CHECK_ARG(nb >= 0 && nb <= 2147483647LL, "cuda ", op, ": expected fewer than 2^31 blocks but received ", nb);
  return Status::ok();
}

}  // namespace

std::vector<AdamWBlock> adamw_blocks(const AdamWTensor* tensors, int64_t count) {
  std::vector<AdamWBlock> blocks;
  for (int64_t s = 0; s < count; s++) {
    for (int64_t b = 0; b < tensors[s].n; b += kAdamWBlockElems) {
      blocks.push_back({static_cast<int32_t>(s), b, std::min(tensors[s].n, b + kAdamWBlockElems)});
    }
  }
  return blocks;
}

Result<AdamWStepConstants> adamw_constants(const train::ParamGroup* groups, int64_t groupCount,
                                           const train::AdamWHyper& hyper, int64_t step) {
  STIC_CHECK_ARG(step >= 1, "cuda adamw_step: expected step >= 1 (the first update is step 1) but received ", step);
  STIC_CHECK_ARG(groupCount >= 1 && groupCount <= kAdamWMaxGroups, "cuda adamw_step: expected 1 to ", kAdamWMaxGroups,
                 " parameter groups but received ", groupCount);
  AdamWStepConstants c = {};
  // As adamw.cpp: per-group constants in double, rounded to float once; 1 - beta in double first.
  const double bc1 = 1.0 - std::pow(hyper.beta1, static_cast<double>(step));
  c.bc2Sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(hyper.beta2, static_cast<double>(step))));
  for (int64_t g = 0; g < groupCount; g++) {
    c.decay[g] = static_cast<float>(1.0 - groups[g].lr * groups[g].weightDecay);
    c.stepSize[g] = static_cast<float>(groups[g].lr / bc1);
  }
  c.beta2 = static_cast<float>(hyper.beta2);
  c.oneMinusBeta1 = static_cast<float>(1.0 - hyper.beta1);
  c.oneMinusBeta2 = static_cast<float>(1.0 - hyper.beta2);
  c.eps = static_cast<float>(hyper.eps);
  c.groups = static_cast<int32_t>(groupCount);
  return c;
}

Status adamw_step(const AdamWTensor* tensors, const AdamWBlock* blocks, int64_t nb, const AdamWStepConstants& c,
                  const int32_t* skip, cudaStream_t stream) {
  STIC_RETURN_IF_ERROR(checkBlocks(nb, "adamw_step"));
  if (nb == 0) return Status::ok();
  adamwKernel<<<static_cast<unsigned>(nb), kAdamThreads, 0, stream>>>(tensors, blocks, c, skip);
  return launchStatus("adamw_step");
}

size_t grad_norm_workspace_bytes(int64_t nb) { return static_cast<size_t>(nb + 1) * sizeof(double); }

Status grad_global_norm(double* norm, void* work, const AdamWTensor* tensors, const AdamWBlock* blocks, int64_t nb,
                        cudaStream_t stream) {
  STIC_RETURN_IF_ERROR(checkBlocks(nb, "grad_global_norm"));
  auto* partial = static_cast<double*>(work);
  if (nb > 0) {
    sumSquaresKernel<<<static_cast<unsigned>(nb), kAdamThreads, 0, stream>>>(partial, tensors, blocks);
    STIC_RETURN_IF_ERROR(launchStatus("grad_global_norm (partials)"));
  }
  normFinishKernel<<<1, 1024, 0, stream>>>(norm, nullptr, nullptr, partial, nb, 0.0);
  return launchStatus("grad_global_norm");
}

Status clip_grad_norm(double* norm, int32_t* skip, void* work, const AdamWTensor* tensors, const AdamWBlock* blocks,
                      int64_t nb, double maxNorm, cudaStream_t stream) {
  STIC_RETURN_IF_ERROR(checkBlocks(nb, "clip_grad_norm"));
  auto* partial = static_cast<double*>(work);
  auto* coef = reinterpret_cast<float*>(partial + nb);  // the workspace's last slot
  if (nb > 0) {
    sumSquaresKernel<<<static_cast<unsigned>(nb), kAdamThreads, 0, stream>>>(partial, tensors, blocks);
    STIC_RETURN_IF_ERROR(launchStatus("clip_grad_norm (partials)"));
  }
  normFinishKernel<<<1, 1024, 0, stream>>>(norm, skip, coef, partial, nb, maxNorm);
  STIC_RETURN_IF_ERROR(launchStatus("clip_grad_norm (norm)"));
  if (nb == 0) return Status::ok();
  scaleGradsKernel<<<static_cast<unsigned>(nb), kAdamThreads, 0, stream>>>(tensors, blocks, coef);
  return launchStatus("clip_grad_norm (scale)");
}

}  // namespace stic::cuda
