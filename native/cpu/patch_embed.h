// CLIP patch embedding (conv2d, kernel = stride = p, no bias) and its weight gradient; the pixels
// are inputs, never trained, so no image gradient exists. Forward in patch_embed.cpp, backward in
// patch_embed_backward.cpp, as one im2col and one SGEMM each. CUDA twin: cuda/patch_embed.cuh.
// Accumulation contract as ops_backward.h: dweight is ACCUMULATED (+=).
// Legend: N images, Hs/Ws image side, p patch side, P = (Hs/p)(Ws/p) patches, K = 3 p p, D hidden.
#pragma once
#include <cstdint>

namespace stic::cpu {

// cols[N*P, K]: row n*P + pi holds patch pi of image n in the weight's (c, y, x) order, the layout
// both GEMMs read. img[N, 3, Hs, Ws].
void patch_im2col(float* cols, const float* img, int64_t N, int64_t Hs, int64_t Ws, int64_t p);

// out[P, D] = im2col(img)[P, K] @ weight[D, K]^T; img[3, Hs, Ws] (normalised pixels),
// weight[D, 3, p, p]; row-major patches.
void patch_embed_forward(float* out, const float* img, const float* weight, int64_t Hs, int64_t Ws, int64_t p, int64_t D);

// dweight[D, 3, p, p] += dout[N*P, D]^T @ im2col(img)[N*P, K], summed over the N images of a batch:
// img[N, 3, Hs, Ws], dout[N, P, D]. One SGEMM over all N*P patch rows (fixed reduction order).
void patch_embed_backward(float* dweight, const float* dout, const float* img, int64_t N, int64_t Hs, int64_t Ws, int64_t p,
                          int64_t D);

}  // namespace stic::cpu
