// CUDA twin of native/cpu/convert.h: element-type conversion on the device, asynchronous on `stream`.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

#include "core/dtype.h"

namespace stic::cuda {

Status convert(void* dst, DType dstType, const void* src, DType srcType, size_t n, cudaStream_t stream);

}  // namespace stic::cuda
