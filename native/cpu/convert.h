// Element-type conversion on the host: how checkpoints stored in bf16/f16/f64 become the f32
// tensors of the CPU engine, and how f32 results are written back in a checkpoint's dtype.
// CUDA twin: native/cuda/convert.cu (same operation name).
#pragma once
#include <cstddef>

#include "core/dtype.h"

namespace stic::cpu {

// n elements from src (srcType) to dst (dstType). Float types convert through f32/f64 with
// round-to-nearest-even; integer <-> float conversions are refused (they are never meaningful here).
Status convert(void* dst, DType dstType, const void* src, DType srcType, size_t n);

}  // namespace stic::cpu
