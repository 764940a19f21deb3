// CUDA twin of native/cpu/patch_embed.h: the CLIP patch embedding (conv2d, kernel = stride = p, no
// bias) and its weight gradient, each one im2col kernel and one product on a Gemm (cuBLASLt or the
// reference kernel, gemm.cuh), in the CPU twin's order. Storage: every tensor fp32 (the table's
// activations are f32 and the Gemm takes A and B in one dtype). Workspace: the im2col matrix,
// patch_embed_workspace_bytes. Every function only enqueues on `stream`.
// Accumulation contract as ops.cuh: dweight is ACCUMULATED (+=).
// Legend: N images, Hs/Ws image side, p patch side, P = (Hs/p)(Ws/p) patches, K = 3 p p, D hidden.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cuda/gemm.cuh"

namespace stic::cuda {

// Bytes of the im2col matrix cols[N*P, K] (fp32) for N images.
size_t patch_embed_workspace_bytes(int64_t N, int64_t Hs, int64_t Ws, int64_t p);

// cols[N*P, K]: row n*P + pi holds patch pi of image n in the weight's (c, y, x) order.
// img[N, 3, Hs, Ws].
Status patch_im2col(float* cols, const float* img, int64_t N, int64_t Hs, int64_t Ws, int64_t p, cudaStream_t stream);

// out[P, D] = im2col(img)[P, K] @ weight[D, K]^T; img[3, Hs, Ws], weight[D, 3, p, p].
// work: patch_embed_workspace_bytes(1, Hs, Ws, p).
Status patch_embed_forward(float* out, const float* img, const float* weight, int64_t Hs, int64_t Ws, int64_t p, int64_t D,
                           void* work, const Gemm& gemm, cudaStream_t stream);

// dweight[D, 3, p, p] += dout[N*P, D]^T @ im2col(img)[N*P, K] over the N images: img[N, 3, Hs, Ws],
// dout[N, P, D]. work: patch_embed_workspace_bytes(N, Hs, Ws, p).
Status patch_embed_backward(float* dweight, const float* dout, const float* img, int64_t N, int64_t Hs, int64_t Ws, int64_t p,
                            int64_t D, void* work, const Gemm& gemm, cudaStream_t stream);

}  // namespace stic::cuda
