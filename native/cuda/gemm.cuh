// Matrix products on the GPU behind one small interface, so that composite operations (the fused
// head, LoRA) are written once and run on either implementation:
//   - gemm.blas.cu: cuBLASLt (the production path; only where the toolkit has cuBLASLt);
//   - gemm.cu: a plain shared-memory tiled kernel, the correctness reference the cuBLASLt path and
//     every composite are checked against, and the path the CPU-only CI compiles.
// Row-major, like native/cpu/ops.h's sgemm: C[M,N] = alpha op(A)[M,K] op(B)[K,N] + beta C.
// A is [M,K] (or [K,M] when transA) with row stride lda; B is [K,N] (or [N,K] when transB) with
// row stride ldb. A and B share one storage type (F32 or BF16); C is always fp32, accumulation fp32.
// Legend: M, N, K matrix sizes.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>

#include "core/dtype.h"

namespace stic::cuda {

struct GemmArgs {
  bool transA = false, transB = false;
  int64_t M = 0, N = 0, K = 0;
  float alpha = 1.0f;
  const void* A = nullptr;
  int64_t lda = 0;
  const void* B = nullptr;
  int64_t ldb = 0;
  float beta = 0.0f;  // 0: C is overwritten (never read, so it may hold NaNs)
  float* C = nullptr;
  int64_t ldc = 0;
  DType ab = DType::F32;  // storage type of A and B
};

// Checks sizes and strides (fills a 0 stride with the packed one).
Status gemm_check(GemmArgs& g, const char* who);

class Gemm {
 public:
  virtual ~Gemm() = default;
  virtual const char* name() const = 0;
  // Enqueues C = alpha op(A) op(B) + beta C on the stream.
  virtual Status run(GemmArgs g, cudaStream_t stream) const = 0;
};

// The tiled reference kernel (no setup, no workspace).
Status gemm_reference(GemmArgs g, cudaStream_t stream);
const Gemm& referenceGemm();

// gemm.blas.cu, only in builds with cuBLASLt (STIC_WITH_CUDA): a cuBLASLt handle and a workspace of
// `workspaceBytes`, both created here once; run() allocates nothing and never synchronises.
Result<std::unique_ptr<Gemm>> makeCublasLtGemm(size_t workspaceBytes);

}  // namespace stic::cuda
