// Buffer copies and fills on the GPU (the ops table's memory family; CPU twin: cpu/memory.cpp):
// the model's moves of its own activations, enqueued on the stream with its kernels.
#include "cuda/common.cuh"
#include "cuda/ops.cuh"

namespace stic::cuda {
namespace {

__global__ void fillKernel(float* dst, float value, size_t n) {
  for (size_t i = globalIndex(); i < n; i += gridStride()) dst[i] = value;
}

}  // namespace

Status copy_bytes(void* dst, const void* src, size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return Status::ok();
  return cudaStatus(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream), "copy_bytes");
}

Status fill(float* dst, float value, int64_t n, cudaStream_t stream) {
  if (n <= 0) return Status::ok();
  if (value == 0.0f && !signbit(value)) {  // +0.0f is all zero bits: the runtime's memset
    return cudaStatus(cudaMemsetAsync(dst, 0, static_cast<size_t>(n) * sizeof(float), stream), "fill");
  }
  fillKernel<<<blocksFor(static_cast<size_t>(n)), kThreads, 0, stream>>>(dst, value, static_cast<size_t>(n));
  return launchStatus("fill");
}

}  // namespace stic::cuda
