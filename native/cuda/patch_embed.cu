// The CLIP patch embedding and its weight gradient on the GPU (patch_embed.cuh). Legend: patch_embed.cuh.
#include "cuda/common.cuh"
#include "cuda/patch_embed.cuh"

namespace stic::cuda {
namespace {

// One thread per element of cols[rows, K]: a copy, coalesced on the writes (consecutive threads
// walk one patch row's K values; the reads are runs of p pixels).
__global__ void im2colKernel(float* __restrict__ cols, const float* __restrict__ img, size_t total, int64_t Hs, int64_t Ws,
                             int64_t p) {
  const int64_t K = 3 * p * p, gw = Ws / p, P = (Hs / p) * gw;
  for (size_t i = globalIndex(); i < total; i += gridStride()) {
    const int64_t row = static_cast<int64_t>(i / K), col = static_cast<int64_t>(i % K);
    const int64_t n = row / P, pi = row % P, c = col / (p * p), y = (col / p) % p, x = col % p;
    cols[i] = img[((n * 3 + c) * Hs + (pi / gw) * p + y) * Ws + (pi % gw) * p + x];
  }
}

Status checkDims(int64_t N, int64_t Hs, int64_t Ws, int64_t p, const char* op) {
  STIC_CHECK_ARG(N >= 0 && p >= 1 && Hs >= p && Ws >= p && Hs % p == 0 && Ws % p == 0, "cuda ", op,
                 ": expected N >= 0 and an image of whole p x p patches but received N=", N, ", Hs=", Hs, ", Ws=", Ws, ", p=", p);
  return Status::ok();
}

// C[M,N] = alpha op(A) op(B) + beta C, fp32, on the Gemm.
Status product(const Gemm& gemm, cudaStream_t stream, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
               const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  GemmArgs g;
  g.transA = transA, g.transB = transB;
  g.M = M, g.N = N, g.K = K;
  g.beta = beta;
  g.A = A, g.lda = lda, g.B = B, g.ldb = ldb, g.C = C, g.ldc = ldc;
  return gemm.run(g, stream);
}

}  // namespace

size_t patch_embed_workspace_bytes(int64_t N, int64_t Hs, int64_t Ws, int64_t p) {
  if (p < 1) return 0;
  return static_cast<size_t>(N * (Hs / p) * (Ws / p) * 3 * p * p) * sizeof(float);
}

Status patch_im2col(float* cols, const float* img, int64_t N, int64_t Hs, int64_t Ws, int64_t p, cudaStream_t stream) {
  STIC_RETURN_IF_ERROR(checkDims(N, Hs, Ws, p, "patch_im2col"));
  const size_t total = static_cast<size_t>(N * (Hs / p) * (Ws / p) * 3 * p * p);
  if (total == 0) return Status::ok();
  im2colKernel<<<blocksFor(total), kThreads, 0, stream>>>(cols, img, total, Hs, Ws, p);
  return launchStatus("patch_im2col");
}

Status patch_embed_forward(float* out, const float* img, const float* weight, int64_t Hs, int64_t Ws, int64_t p, int64_t D,
                           void* work, const Gemm& gemm, cudaStream_t stream) {
  STIC_RETURN_IF_ERROR(checkDims(1, Hs, Ws, p, "patch_embed_forward"));
  const int64_t P = (Hs / p) * (Ws / p), K = 3 * p * p;
  auto* cols = static_cast<float*>(work);
  STIC_RETURN_IF_ERROR(patch_im2col(cols, img, 1, Hs, Ws, p, stream));
  return product(gemm, stream, false, true, P, D, K, cols, K, weight, K, 0.0f, out, D);  // out = cols W^T
}

Status patch_embed_backward(float* dweight, const float* dout, const float* img, int64_t N, int64_t Hs, int64_t Ws, int64_t p,
                            int64_t D, void* work, const Gemm& gemm, cudaStream_t stream) {
  STIC_RETURN_IF_ERROR(checkDims(N, Hs, Ws, p, "patch_embed_backward"));
  const int64_t rows = N * (Hs / p) * (Ws / p), K = 3 * p * p;
  if (rows == 0) return Status::ok();
  auto* cols = static_cast<float*>(work);
  STIC_RETURN_IF_ERROR(patch_im2col(cols, img, N, Hs, Ws, p, stream));
  return product(gemm, stream, true, false, D, K, rows, dout, D, cols, K, 1.0f, dweight, K);  // dW += dout^T cols
}

}  // namespace stic::cuda
