// CUDA errors as stic Status values: every failure names the operation, and out-of-memory
// failures the free and total device memory (never exit/abort, unlike many CUDA samples).
#pragma once
#include <cuda_runtime.h>

#include "core/status.h"

namespace stic::cuda {

inline Status cudaStatus(cudaError_t err, const char* op) {
  if (err == cudaSuccess) return Status::ok();
  if (err == cudaErrorMemoryAllocation) {
    size_t freeB = 0, totalB = 0;
    cudaGetLastError();  // clear the sticky-free error so the query below works
    cudaMemGetInfo(&freeB, &totalB);
    return error(Code::OutOfMemory, "cuda: ", op, ": out of device memory (", freeB, " bytes free of ", totalB, ")");
  }
  return error(Code::Device, "cuda: ", op, ": ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
}

// Status of the most recent kernel launch.
inline Status launchStatus(const char* op) { return cudaStatus(cudaGetLastError(), op); }

}  // namespace stic::cuda
