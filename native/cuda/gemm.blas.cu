// cuBLASLt implementation of the Gemm interface (gemm.cuh).
//
// NOT YET COMPILED: no cuBLAS headers on the CPU machine where this was written (CMake compiles
// *.blas.cu only where cuBLASLt exists). The first GPU session builds it (scripts/gpu-check.sh)
// and the GPU tests (test/cuda/) check it against the reference kernel of gemm.cu.
//
// Row-major to column-major: cuBLASLt is column-major, and a row-major [R, C] matrix with row
// stride ld is the same memory as a column-major [C, R] matrix with leading dimension ld. So the
// row-major C[M,N] = op(A) op(B) is computed as the column-major C^T[N,M] = op(B)^T op(A)^T: the
// operands swap places and each keeps its own transpose flag.
// Precision: CUBLAS_COMPUTE_32F (true fp32 accumulation, no TF32) with fp32 alpha/beta and an fp32
// C/D; A and B are both F32 or both BF16 (a combination cuBLASLt supports for COMPUTE_32F).
// Legend: M, N, K matrix sizes.
#include <cublasLt.h>

#include <memory>

#include "cuda/cuda_status.h"
#include "cuda/gemm.cuh"

namespace stic::cuda {
namespace {

Status lt(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return Status::ok();
  if (s == CUBLAS_STATUS_ALLOC_FAILED) {
    size_t freeB = 0, totalB = 0;
    cudaMemGetInfo(&freeB, &totalB);
    return error(Code::OutOfMemory, "cuBLASLt: ", what, ": out of device memory (", freeB, " bytes free of ", totalB, ")");
  }
  return error(Code::Device, "cuBLASLt: ", what, " failed with status ", static_cast<int>(s));
}

cudaDataType_t cudaType(DType t) { return t == DType::BF16 ? CUDA_R_16BF : CUDA_R_32F; }

// The descriptors of one call, destroyed on every path out.
struct Descriptors {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  ~Descriptors() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

class CublasLtGemm final : public Gemm {
 public:
  CublasLtGemm(cublasLtHandle_t handle, void* workspace, size_t bytes) : handle_(handle), workspace_(workspace), bytes_(bytes) {}
  ~CublasLtGemm() override {
    if (workspace_) cudaFree(workspace_);
    if (handle_) cublasLtDestroy(handle_);
  }
  const char* name() const override { return "cublaslt"; }

  Status run(GemmArgs g, cudaStream_t stream) const override {
    STIC_RETURN_IF_ERROR(gemm_check(g, "cuda cublaslt gemm"));
    if (g.M == 0 || g.N == 0) return Status::ok();
    Descriptors d;
    STIC_RETURN_IF_ERROR(lt(cublasLtMatmulDescCreate(&d.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "matmul descriptor"));
    // Column-major view: first operand = our B, second = our A (see the header comment).
    const cublasOperation_t opFirst = g.transB ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t opSecond = g.transA ? CUBLAS_OP_T : CUBLAS_OP_N;
    STIC_RETURN_IF_ERROR(lt(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &opFirst, sizeof(opFirst)), "transa"));
    STIC_RETURN_IF_ERROR(lt(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &opSecond, sizeof(opSecond)), "transb"));
    // Stored (pre-op) shapes, column-major: B row-major [K,N] is col-major [N,K]; transposed [N,K] is [K,N].
    const uint64_t firstRows = g.transB ? g.K : g.N, firstCols = g.transB ? g.N : g.K;
    const uint64_t secondRows = g.transA ? g.M : g.K, secondCols = g.transA ? g.K : g.M;
    const cudaDataType_t ab = cudaType(g.ab);
    STIC_RETURN_IF_ERROR(lt(cublasLtMatrixLayoutCreate(&d.a, ab, firstRows, firstCols, g.ldb), "layout of B"));
    STIC_RETURN_IF_ERROR(lt(cublasLtMatrixLayoutCreate(&d.b, ab, secondRows, secondCols, g.lda), "layout of A"));
    STIC_RETURN_IF_ERROR(lt(cublasLtMatrixLayoutCreate(&d.c, CUDA_R_32F, g.N, g.M, g.ldc), "layout of C"));
    STIC_RETURN_IF_ERROR(lt(cublasLtMatmulPreferenceCreate(&d.pref), "preference"));
    const uint64_t wsBytes = bytes_;
    STIC_RETURN_IF_ERROR(lt(cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsBytes,
                                                                 sizeof(wsBytes)),
                            "workspace preference"));
    cublasLtMatmulHeuristicResult_t heuristic = {};
    int found = 0;
    STIC_RETURN_IF_ERROR(lt(cublasLtMatmulAlgoGetHeuristic(handle_, d.op, d.a, d.b, d.c, d.c, d.pref, 1, &heuristic, &found),
                            "algorithm heuristic"));
    if (found == 0) {
      return error(Code::Unsupported, "cuBLASLt: no algorithm for ", dtypeName(g.ab), " M=", g.M, " N=", g.N, " K=", g.K,
                   " transA=", g.transA, " transB=", g.transB);
    }
    // D = alpha op(first) op(second) + beta C, with C and D the same buffer. With beta = 0 cuBLASLt
    // does not read C.
    return lt(cublasLtMatmul(handle_, d.op, &g.alpha, g.B, d.a, g.A, d.b, &g.beta, g.C, d.c, g.C, d.c, &heuristic.algo,
                             workspace_, bytes_, stream),
              "matmul");
  }

 private:
  cublasLtHandle_t handle_;
  void* workspace_;
  size_t bytes_;
};

}  // namespace

Result<std::unique_ptr<Gemm>> makeCublasLtGemm(size_t workspaceBytes) {
  cublasLtHandle_t handle = nullptr;
  STIC_RETURN_IF_ERROR(lt(cublasLtCreate(&handle), "create handle"));
  void* workspace = nullptr;
  if (workspaceBytes > 0) {
    const Status s = cudaStatus(cudaMalloc(&workspace, workspaceBytes), "cuBLASLt workspace");
    if (!s.isOk()) {
      cublasLtDestroy(handle);
      return s;
    }
  }
  return std::unique_ptr<Gemm>(new CublasLtGemm(handle, workspace, workspaceBytes));
}

}  // namespace stic::cuda
