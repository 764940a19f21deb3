// Building blocks of the attention kernels (attention.cu, attention_backward.cu): tile loads into
// shared memory and the four block products. Legend: Br query rows and Bc keys of a tile (both 32),
// hd head dim, hdp = hd + 1 (the padding puts the rows of a tile in different banks).
//
// Why this shape: every product of flash attention's forward and backward is one of
//   S  = A B^T        (Br x Bc from two [., hd] tiles)       tileNT
//   O += P B          ([Br, Bc] x [Bc, hd])                   tileNN
//   O += P^T X        ([Bc, Br]^T x [Br, hd])                 tileTN
// Here they are plain fp32 loops over shared memory (correctness first). A tensor-core version
// replaces only these three functions (mma.sync m16n8k16 on bf16 fragments, or wgmma on sm_90)
// and the load helpers (to keep bf16 tiles); the kernels' structure — which tiles meet, the online
// softmax, the masks, the per-tile recomputation in the backward — stays as it is.
#pragma once
#include "cuda/attention.cuh"
#include "cuda/common.cuh"

namespace stic::cuda::attn {

constexpr int Br = 32;
constexpr int Bc = 32;
constexpr int kAttnThreads = 128;  // 4 warps
constexpr int kLdp = Bc + 1;       // row stride of a [Br, Bc] score tile

// One sequence of the batch, as the kernels see it.
struct Seq {
  int64_t q0, k0;  // first query / key row in the packed tensors
  int64_t T, S;    // its query / key counts
  int64_t qOffset;
};

__device__ __forceinline__ Seq sequenceOf(const AttentionDims& d, int64_t b) {
  Seq s;
  if (d.cuQ == nullptr) {
    s = {0, 0, d.T, d.S, d.qOffset};
  } else {
    s.q0 = d.cuQ[b];
    s.k0 = d.cuK[b];
    s.T = d.cuQ[b + 1] - s.q0;
    s.S = d.cuK[b + 1] - s.k0;
    s.qOffset = d.qOffsets ? d.qOffsets[b] : s.S - s.T;
  }
  return s;
}

// Whether query row i (within its sequence) may attend to key j.
__device__ __forceinline__ bool visible(const Seq& s, bool causal, int64_t i, int64_t j) {
  return j < s.S && (!causal || j <= s.qOffset + i);
}

// dst[r][x] (fp32, row stride hd + 1) = src row r (token stride ld), r < rows; rows past `rows`
// are zero so that padded rows contribute nothing to any product.
template <typename T>
__device__ void loadTile(float* dst, const T* src, int64_t ld, int rows, int tileRows, int hd) {
  const int hdp = hd + 1;
  for (int idx = threadIdx.x; idx < tileRows * hd; idx += blockDim.x) {
    const int r = idx / hd, x = idx % hd;
    dst[r * hdp + x] = r < rows ? toF(src[static_cast<int64_t>(r) * ld + x]) : 0.0f;
  }
}

__device__ inline void zeroTile(float* dst, int tileRows, int hd) {
  for (int idx = threadIdx.x; idx < tileRows * (hd + 1); idx += blockDim.x) dst[idx] = 0.0f;
}

// S[r][c] = scale * sum_x A[r][x] B[c][x]   (A [Br, hd], B [Bc, hd] tiles; S row stride kLdp).
// Lane = column c (its B row sits in its own bank), warp w takes rows w, w + 4, ...
__device__ inline void tileNT(float* S, const float* A, const float* B, int hd, float scale) {
  const int hdp = hd + 1, c = threadIdx.x & 31, w = threadIdx.x >> 5;
  for (int r = w; r < Br; r += kAttnThreads / 32) {
    float acc = 0.0f;
    for (int x = 0; x < hd; x++) acc += A[r * hdp + x] * B[c * hdp + x];
    S[r * kLdp + c] = acc * scale;
  }
}

// O[r][x] = O[r][x] * rowScale[r] + alpha * sum_c P[r][c] B[c][x]   (rowScale null: 1).
__device__ inline void tileNN(float* O, const float* rowScale, const float* P, const float* B, int hd, float alpha) {
  const int hdp = hd + 1;
  for (int idx = threadIdx.x; idx < Br * hd; idx += blockDim.x) {
    const int r = idx / hd, x = idx % hd;
    float acc = 0.0f;
    for (int c = 0; c < Bc; c++) acc += P[r * kLdp + c] * B[c * hdp + x];
    const float keep = rowScale ? rowScale[r] * O[r * hdp + x] : O[r * hdp + x];
    O[r * hdp + x] = keep + alpha * acc;
  }
}

// O[c][x] += alpha * sum_r P[r][c] X[r][x]   (O [Bc, hd], X [Br, hd]).
__device__ inline void tileTN(float* O, const float* P, const float* X, int hd, float alpha) {
  const int hdp = hd + 1;
  for (int idx = threadIdx.x; idx < Bc * hd; idx += blockDim.x) {
    const int c = idx / hd, x = idx % hd;
    float acc = 0.0f;
    for (int r = 0; r < Br; r++) acc += P[r * kLdp + c] * X[r * hdp + x];
    O[c * hdp + x] += alpha * acc;
  }
}

// Shared memory of `tiles` [32, hd + 1] tiles, `scoreTiles` [32, 33] tiles and `vectors` [32] rows.
inline size_t tileSmemBytes(int64_t hd, int tiles, int scoreTiles, int vectors) {
  return sizeof(float) * (static_cast<size_t>(tiles) * 32 * (hd + 1) + static_cast<size_t>(scoreTiles) * Br * kLdp +
                          static_cast<size_t>(vectors) * 32);
}

// Opts `kernel` into `bytes` of dynamic shared memory, or explains why this device cannot run it
// (the head dim sets the tile sizes: hd = 256 needs ~206 KB per block in the backward, which
// Hopper's 227 KB allows and an A100's 163 KB does not). Host-side only: no synchronisation.
Status setTileSmem(const void* kernel, size_t bytes, int64_t hd, const char* op);

}  // namespace stic::cuda::attn
