// Device element-type conversion (no cuBLAS needed: compiled in CPU-only CI as a check).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "cuda/convert.cuh"
#include "cuda/cuda_status.h"

namespace stic::cuda {
namespace {

template <typename T>
__device__ __forceinline__ float toFloat(T v);
template <> __device__ __forceinline__ float toFloat<float>(float v) { return v; }
template <> __device__ __forceinline__ float toFloat<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <> __device__ __forceinline__ float toFloat<__half>(__half v) { return __half2float(v); }

template <typename T>
__device__ __forceinline__ T fromFloat(float v);
template <> __device__ __forceinline__ float fromFloat<float>(float v) { return v; }
// __float2bfloat16 / __float2half round to nearest even, matching the CPU twin.
template <> __device__ __forceinline__ __nv_bfloat16 fromFloat<__nv_bfloat16>(float v) { return __float2bfloat16(v); }
template <> __device__ __forceinline__ __half fromFloat<__half>(float v) { return __float2half(v); }

template <typename D, typename S>
__global__ void convertKernel(D* __restrict__ dst, const S* __restrict__ src, size_t n) {
  size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    dst[i] = fromFloat<D>(toFloat<S>(src[i]));
  }
}

template <typename D, typename S>
Status launch(void* dst, const void* src, size_t n, cudaStream_t stream) {
  if (n == 0) return Status::ok();
  int threads = 256;
  size_t blocks = (n + threads - 1) / threads;
  if (blocks > 65535u * 8u) blocks = 65535u * 8u;  // grid-stride loop covers the rest
  convertKernel<D, S><<<static_cast<unsigned>(blocks), threads, 0, stream>>>(static_cast<D*>(dst), static_cast<const S*>(src), n);
  return launchStatus("convert");
}

}  // namespace

Status convert(void* dst, DType dstType, const void* src, DType srcType, size_t n, cudaStream_t stream) {
  if (dstType == srcType) {
    return cudaStatus(cudaMemcpyAsync(dst, src, n * dtypeSize(srcType), cudaMemcpyDeviceToDevice, stream), "convert (copy)");
  }
  using BF = __nv_bfloat16;
  if (dstType == DType::F32 && srcType == DType::BF16) return launch<float, BF>(dst, src, n, stream);
  if (dstType == DType::F32 && srcType == DType::F16) return launch<float, __half>(dst, src, n, stream);
  if (dstType == DType::BF16 && srcType == DType::F32) return launch<BF, float>(dst, src, n, stream);
  if (dstType == DType::F16 && srcType == DType::F32) return launch<__half, float>(dst, src, n, stream);
  if (dstType == DType::BF16 && srcType == DType::F16) return launch<BF, __half>(dst, src, n, stream);
  if (dstType == DType::F16 && srcType == DType::BF16) return launch<__half, BF>(dst, src, n, stream);
  return error(Code::Unsupported, "cuda convert: ", dtypeName(srcType), " to ", dtypeName(dstType), " is not supported");
}

}  // namespace stic::cuda
