// Backward of the CLIP patch embedding (cpu::patch_embed_forward in ops.h), kept beside its twin's
// folder but in its own header: the pixels are inputs, never trained, so only the weight gradient
// exists. Accumulation contract as ops_backward.h: dweight is ACCUMULATED (+=).
// Legend: Hs/Ws image side, p patch side, P = (Hs/p)(Ws/p) patches, K = 3 p p, D hidden.
#pragma once
#include <cstdint>

namespace stic::cpu {

// Forward: out[P, D] = im2col(img)[P, K] @ weight[D, K]^T, img[3, Hs, Ws], weight[D, 3, p, p].
// dweight[D, 3, p, p] += dout[P, D]^T @ im2col(img)[P, K], summed over the N images of a batch:
// img[N, 3, Hs, Ws], dout[N, P, D]. One SGEMM over all N*P patch rows (fixed reduction order).
void patch_embed_backward(float* dweight, const float* dout, const float* img, int64_t N, int64_t Hs, int64_t Ws, int64_t p,
                          int64_t D);

}  // namespace stic::cpu
