// Device helpers shared by the CUDA kernels: storage types, fp32 conversions, deterministic warp and
// block reductions, launch sizes and the runtime dtype dispatch. Every kernel file includes this.
//
// Precision model (DESIGN.md "Backends"): tensors are stored as bf16 (or fp32 in the checking mode)
// and every kernel loads them into fp32 registers, accumulates in fp32 (fp64 where the CPU twin
// does and the sum is O(rows), not O(elements)), and rounds once on the store. Reductions use fixed
// trees (shuffles in a fixed pattern, shared-memory partials summed in a fixed order) and never
// atomics on floats, so a kernel's result does not change from run to run.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "cuda/cuda_status.h"

namespace stic::cuda {

using bf16 = __nv_bfloat16;

// ---- storage <-> fp32 ------------------------------------------------------------------------
__device__ __forceinline__ float toF(float v) { return v; }
__device__ __forceinline__ float toF(bf16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T fromF(float v);
template <>
__device__ __forceinline__ float fromF<float>(float v) { return v; }
// Round to nearest even, as the CPU twin's f32ToBf16 (core/dtype.h).
template <>
__device__ __forceinline__ bf16 fromF<bf16>(float v) { return __float2bfloat16(v); }

// The value a store of v into T and a load back would give (what a bf16 tensor "holds").
template <typename T>
__device__ __forceinline__ float roundTrip(float v) { return toF(fromF<T>(v)); }

// ---- reductions -------------------------------------------------------------------------------
constexpr unsigned kFullMask = 0xffffffffu;

template <typename V>
__device__ __forceinline__ V warpSum(V v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;  // every lane holds the same sum (butterfly: the same tree in every lane)
}
__device__ __forceinline__ float warpMax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024). `smem` holds 32 values of V.
// Every thread gets the result. Deterministic: warp butterflies, then warp 0 over the partials.
template <typename V>
__device__ V blockSum(V v, V* smem) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warpSum(v);
  __syncthreads();  // smem may still be read by a previous reduction
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  V total = lane < warps ? smem[lane] : V(0);
  total = warpSum(total);
  return total;
}
__device__ inline float blockMax(float v, float* smem) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warpMax(v);
  __syncthreads();
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  float m = lane < warps ? smem[lane] : -INFINITY;
  return warpMax(m);
}

__host__ __device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
__host__ __device__ __forceinline__ int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// ---- launch sizes -----------------------------------------------------------------------------
constexpr int kThreads = 256;
// Grid-stride loops cover the rest; a cap keeps the grid within limits for huge n.
inline unsigned blocksFor(size_t n, int threads = kThreads, size_t cap = 65535u * 8u) {
  size_t b = (n + threads - 1) / threads;
  if (b == 0) b = 1;
  return static_cast<unsigned>(b > cap ? cap : b);
}

__device__ __forceinline__ size_t globalIndex() { return static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ size_t gridStride() { return static_cast<size_t>(gridDim.x) * blockDim.x; }

// ---- dtype dispatch ---------------------------------------------------------------------------
// Calls f(T{}) with T = float for F32 and bf16 for BF16: the activation storage types a kernel is
// instantiated for. Other types are refused with a message naming the operation.
template <typename F>
Status dispatchFloat(DType dt, const char* op, F&& f) {
  if (dt == DType::F32) return f(float{});
  if (dt == DType::BF16) return f(bf16{});
  return error(Code::Unsupported, "cuda ", op, ": storage type ", dtypeName(dt), " is not supported (expected F32 or BF16)");
}

}  // namespace stic::cuda
