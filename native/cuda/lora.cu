// The LoRA low-rank path on the GPU (lora.cuh): the CPU twin's GEMM sequence (native/cpu/lora.cpp)
// on a Gemm, and the dropout as one elementwise kernel over the counter stream. Legend: lora.cuh.
#include "core/counter_rng.h"
#include "cuda/common.cuh"
#include "cuda/lora.cuh"

namespace stic::cuda {
namespace {

// The multiplier of element i: keepScale where its 24 random bits reach the threshold, else 0.
__device__ __forceinline__ float dropMultiplier(uint64_t stream, size_t i, uint32_t threshold, float keepScale) {
  return train::counterBits24(stream, static_cast<uint32_t>(i)) >= threshold ? keepScale : 0.0f;
}

// out[i] = x[i] * mult(i) (out may alias x): one rounding, the CPU twin's product.
__global__ void dropoutKernel(float* out, const float* x, size_t n, uint64_t stream, uint32_t threshold, float keepScale) {
  for (size_t i = globalIndex(); i < n; i += gridStride()) out[i] = __fmul_rn(x[i], dropMultiplier(stream, i, threshold, keepScale));
}

// acc[i] += v[i] * mult(i): the CPU twin's dropout in place then add_inplace, rounded in the same
// two steps (no fused multiply-add).
__global__ void dropoutAddKernel(float* acc, const float* v, size_t n, uint64_t stream, uint32_t threshold, float keepScale) {
  for (size_t i = globalIndex(); i < n; i += gridStride()) {
    acc[i] = __fadd_rn(acc[i], __fmul_rn(v[i], dropMultiplier(stream, i, threshold, keepScale)));
  }
}

// C[M,N] = alpha op(A) op(B) + beta C, fp32, on the Gemm.
Status product(const Gemm& gemm, cudaStream_t stream, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  GemmArgs g;
  g.transA = transA, g.transB = transB;
  g.M = M, g.N = N, g.K = K;
  g.alpha = alpha, g.beta = beta;
  g.A = A, g.lda = lda, g.B = B, g.ldb = ldb, g.C = C, g.ldc = ldc;
  return gemm.run(g, stream);
}

Status checkDims(const train::LoraDims& d, const char* op) {
  STIC_CHECK_ARG(d.T >= 0 && d.K >= 1 && d.N >= 1 && d.r >= 1, "cuda ", op,
                 ": expected T >= 0 and positive K, N, r but received T=", d.T, ", K=", d.K, ", N=", d.N, ", r=", d.r);
  STIC_CHECK_ARG(d.dropout >= 0.0f && d.dropout < 1.0f, "cuda ", op, ": expected dropout in [0, 1) but received ", d.dropout);
  STIC_CHECK_ARG(d.T * d.K < (int64_t{1} << 32), "cuda ", op, ": expected T*K below 2^32 (the dropout counter) but received ",
                 d.T * d.K);
  return Status::ok();
}

// The elementwise launch over the counter stream of `key` (p > 0).
template <typename Kernel>
Status launchDropout(Kernel kernel, float* out, const float* in, size_t n, float p, const train::DropoutKey& key,
                     cudaStream_t stream, const char* op) {
  if (n == 0) return Status::ok();
  kernel<<<blocksFor(n), kThreads, 0, stream>>>(out, in, n, train::streamOf(key), train::dropoutThreshold24(p),
                                                train::dropoutKeepScale(p));
  return launchStatus(op);
}

}  // namespace

int64_t lora_workspace_floats(const train::LoraDims& d) { return d.T * d.r + (d.dropout > 0.0f ? d.T * d.K : 0); }

Status lora_dropout(float* out, const float* x, int64_t T, int64_t K, float p, const train::DropoutKey& key,
                    cudaStream_t stream) {
  const size_t n = static_cast<size_t>(T * K);
  if (p <= 0.0f) {
    if (out == x || n == 0) return Status::ok();
    return cudaStatus(cudaMemcpyAsync(out, x, n * sizeof(float), cudaMemcpyDeviceToDevice, stream), "cuda lora_dropout");
  }
  return launchDropout(dropoutKernel, out, x, n, p, key, stream, "lora_dropout");
}

Status lora_delta_forward(float* out, int64_t ldo, float* xa, float* work, const float* x, const float* A, const float* B,
                          const train::LoraDims& d, const train::DropoutKey& key, const Gemm& gemm, cudaStream_t stream) {
  STIC_RETURN_IF_ERROR(checkDims(d, "lora_delta_forward"));
  const int64_t T = d.T, K = d.K, N = d.N, r = d.r;
  if (T == 0) return Status::ok();
  const float* xd = x;  // the low-rank input: x, or its dropped copy in the workspace
  if (d.dropout > 0.0f) {
    float* drop = work + T * r;  // [T,K]
    STIC_RETURN_IF_ERROR(lora_dropout(drop, x, T, K, d.dropout, key, stream));
    xd = drop;
  }
  STIC_RETURN_IF_ERROR(product(gemm, stream, false, true, T, r, K, 1.0f, xd, K, A, K, 0.0f, xa, r));  // xa = xd A^T
  return product(gemm, stream, false, true, T, N, r, d.scale, xa, r, B, r, 1.0f, out, ldo);         // out += scale xa B^T
}

Status lora_delta_backward(float* dx, float* dA, float* dB, float* work, const float* dout, int64_t ldd, const float* x,
                           const float* xa, const float* A, const float* B, const train::LoraDims& d,
                           const train::DropoutKey& key, const Gemm& gemm, cudaStream_t stream) {
  STIC_RETURN_IF_ERROR(checkDims(d, "lora_delta_backward"));
  const int64_t T = d.T, K = d.K, N = d.N, r = d.r;
  if (T == 0) return Status::ok();
  float* dxa = work;  // [T,r] = scale dout B, the gradient reaching xa
  STIC_RETURN_IF_ERROR(product(gemm, stream, false, false, T, r, N, d.scale, dout, ldd, B, r, 0.0f, dxa, r));
  if (dB) STIC_RETURN_IF_ERROR(product(gemm, stream, true, false, N, r, T, d.scale, dout, ldd, xa, r, 1.0f, dB, r));
  const bool drop = d.dropout > 0.0f;
  float* big = drop ? work + T * r : nullptr;  // [T,K] the dropped x, then the low-rank dx
  if (dA) {
    const float* xd = x;
    if (drop) {
      STIC_RETURN_IF_ERROR(lora_dropout(big, x, T, K, d.dropout, key, stream));
      xd = big;
    }
    STIC_RETURN_IF_ERROR(product(gemm, stream, true, false, r, K, T, 1.0f, dxa, r, xd, K, 1.0f, dA, K));  // dA += dxa^T xd
  }
  if (!dx) return Status::ok();
  if (!drop) return product(gemm, stream, false, false, T, K, r, 1.0f, dxa, r, A, K, 1.0f, dx, K);  // dx += dxa A
  // Dropout is linear with the same mask both ways: dx += dropout(dxa A).
  STIC_RETURN_IF_ERROR(product(gemm, stream, false, false, T, K, r, 1.0f, dxa, r, A, K, 0.0f, big, K));
  return launchDropout(dropoutAddKernel, dx, big, static_cast<size_t>(T * K), d.dropout, key, stream, "lora_delta_backward");
}

}  // namespace stic::cuda
