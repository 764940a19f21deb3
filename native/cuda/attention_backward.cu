// Attention backward on the GPU (FlashAttention-2's backward, Dao 2023, without atomics): the
// probabilities are recomputed per tile from the forward's lse, P = exp(scale Q K^T - lse), and
//   delta_i = sum_x dO[i,x] O[i,x]            (preprocess kernel)
//   dS = P o (dO V^T - delta)                 (o: elementwise)
//   dQ = scale dS K                           (query-tile kernel, overwrites dq)
//   dV += P^T dO,  dK += scale dS^T Q         (key-tile kernel, accumulates into dk / dv)
// A key tile's kernel loops over the G = Hq / Hkv query heads that read its kv head, so dK/dV of a
// kv head sum its whole group in one block, in a fixed order. Legend: attention.cuh, and
// attention_tiles.cuh for Br, Bc and the tile products.
#include "cuda/attention.cuh"
#include "cuda/attention_tiles.cuh"
#include "cuda/common.cuh"

namespace stic::cuda {
namespace {

using attn::Bc;
using attn::Br;
using attn::kAttnThreads;
using attn::kLdp;

// delta[h, t] = sum_x dout[t, h, x] out[t, h, x]: one warp per (t, h).
template <typename T>
__global__ void attentionDeltaKernel(float* __restrict__ delta, const T* __restrict__ dout, const T* __restrict__ out,
                                     AttentionDims d) {
  const int64_t warpId = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (warpId >= d.T * d.Hq) return;
  const int64_t t = warpId / d.Hq, h = warpId % d.Hq;
  const T* g = dout + t * d.ldo + h * d.hd;
  const T* o = out + t * d.ldo + h * d.hd;
  float acc = 0.0f;
  for (int64_t x = lane; x < d.hd; x += 32) acc += toF(g[x]) * toF(o[x]);
  acc = warpSum(acc);
  if (lane == 0) delta[h * d.T + t] = acc;
}

// P = exp(S - lse) on visible entries (0 elsewhere), in place on the score tile; then dS = P o (dP -
// delta) in place on the dP tile. Rows are query rows i0 + r, columns keys j0 + c.
__device__ inline void probabilitiesAndScoreGrad(float* Ps, float* dSs, const float* lseS, const float* deltaS,
                                                 const attn::Seq& s, bool causal, int64_t i0, int rows, int64_t j0) {
  for (int idx = threadIdx.x; idx < Br * Bc; idx += blockDim.x) {
    const int r = idx / Bc, c = idx % Bc;
    const bool ok = r < rows && attn::visible(s, causal, i0 + r, j0 + c);
    const float p = ok ? expf(Ps[r * kLdp + c] - lseS[r]) : 0.0f;
    Ps[r * kLdp + c] = p;
    dSs[r * kLdp + c] = p * (dSs[r * kLdp + c] - deltaS[r]);
  }
}

// One block per (query tile, query head, sequence): dQ = scale sum_j dS_j K_j.
// Shared memory: Q, dO, K, V, dQ tiles, P and dS score tiles, lse and delta rows.
template <typename T>
__global__ void __launch_bounds__(kAttnThreads) attentionDqKernel(T* __restrict__ dq, const T* __restrict__ dout,
                                                                  const T* __restrict__ q, const T* __restrict__ k,
                                                                  const T* __restrict__ v, const float* __restrict__ lse,
                                                                  const float* __restrict__ delta, AttentionDims d) {
  extern __shared__ float smem[];
  const int hd = static_cast<int>(d.hd), hdp = hd + 1;
  float* Qs = smem;
  float* dOs = Qs + Br * hdp;
  float* Ks = dOs + Br * hdp;
  float* Vs = Ks + Bc * hdp;
  float* dQs = Vs + Bc * hdp;
  float* Ps = dQs + Br * hdp;
  float* dSs = Ps + Br * kLdp;
  float* lseS = dSs + Br * kLdp;
  float* deltaS = lseS + 32;

  const int64_t h = blockIdx.y, b = blockIdx.z, kvh = h / (d.Hq / d.Hkv);
  const attn::Seq s = attn::sequenceOf(d, b);
  const int64_t i0 = static_cast<int64_t>(blockIdx.x) * Br;
  if (i0 >= s.T) return;
  const int rows = static_cast<int>(min64(Br, s.T - i0));
  attn::loadTile(Qs, q + (s.q0 + i0) * d.ldq + h * d.hd, d.ldq, rows, Br, hd);
  attn::loadTile(dOs, dout + (s.q0 + i0) * d.ldo + h * d.hd, d.ldo, rows, Br, hd);
  attn::zeroTile(dQs, Br, hd);
  if (threadIdx.x < Br) {
    const bool ok = threadIdx.x < rows;
    lseS[threadIdx.x] = ok ? lse[h * d.T + s.q0 + i0 + threadIdx.x] : 0.0f;
    deltaS[threadIdx.x] = ok ? delta[h * d.T + s.q0 + i0 + threadIdx.x] : 0.0f;
  }
  const int64_t kEnd = d.causal ? min64(s.S, s.qOffset + i0 + rows) : s.S;
  for (int64_t j0 = 0; j0 < kEnd; j0 += Bc) {
    const int keys = static_cast<int>(min64(Bc, s.S - j0));
    __syncthreads();
    attn::loadTile(Ks, k + (s.k0 + j0) * d.ldk + kvh * d.hd, d.ldk, keys, Bc, hd);
    attn::loadTile(Vs, v + (s.k0 + j0) * d.ldv + kvh * d.hd, d.ldv, keys, Bc, hd);
    __syncthreads();
    attn::tileNT(Ps, Qs, Ks, hd, d.scale);  // S
    attn::tileNT(dSs, dOs, Vs, hd, 1.0f);   // dP = dO V^T
    __syncthreads();
    probabilitiesAndScoreGrad(Ps, dSs, lseS, deltaS, s, d.causal, i0, rows, j0);
    __syncthreads();
    attn::tileNN(dQs, nullptr, dSs, Ks, hd, d.scale);  // dQ += scale dS K
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < rows * hd; idx += blockDim.x) {
    const int r = idx / hd, x = idx % hd;
    dq[(s.q0 + i0 + r) * d.ldq + h * d.hd + x] = fromF<T>(dQs[r * hdp + x]);
  }
}

// One block per (key tile, kv head, sequence): dV += sum P^T dO, dK += scale sum dS^T Q over the
// group's query heads and the query tiles that can see the tile.
// Shared memory: K, V, dK, dV, Q, dO tiles, P and dS score tiles, lse and delta rows.
template <typename T>
__global__ void __launch_bounds__(kAttnThreads) attentionDkDvKernel(T* __restrict__ dk, T* __restrict__ dv,
                                                                    const T* __restrict__ dout, const T* __restrict__ q,
                                                                    const T* __restrict__ k, const T* __restrict__ v,
                                                                    const float* __restrict__ lse,
                                                                    const float* __restrict__ delta, AttentionDims d) {
  extern __shared__ float smem[];
  const int hd = static_cast<int>(d.hd), hdp = hd + 1;
  float* Ks = smem;
  float* Vs = Ks + Bc * hdp;
  float* dKs = Vs + Bc * hdp;
  float* dVs = dKs + Bc * hdp;
  float* Qs = dVs + Bc * hdp;
  float* dOs = Qs + Br * hdp;
  float* Ps = dOs + Br * hdp;
  float* dSs = Ps + Br * kLdp;
  float* lseS = dSs + Br * kLdp;
  float* deltaS = lseS + 32;

  const int64_t kvh = blockIdx.y, b = blockIdx.z, G = d.Hq / d.Hkv;
  const attn::Seq s = attn::sequenceOf(d, b);
  const int64_t j0 = static_cast<int64_t>(blockIdx.x) * Bc;
  if (j0 >= s.S) return;
  const int keys = static_cast<int>(min64(Bc, s.S - j0));
  attn::loadTile(Ks, k + (s.k0 + j0) * d.ldk + kvh * d.hd, d.ldk, keys, Bc, hd);
  attn::loadTile(Vs, v + (s.k0 + j0) * d.ldv + kvh * d.hd, d.ldv, keys, Bc, hd);
  attn::zeroTile(dKs, Bc, hd);
  attn::zeroTile(dVs, Bc, hd);
  // Causal: query i sees key j0 only when qOffset + i >= j0; earlier query tiles are skipped.
  const int64_t iFirst = d.causal ? max64(0, j0 - s.qOffset) / Br * Br : 0;
  for (int64_t g = 0; g < G; g++) {
    const int64_t h = kvh * G + g;
    for (int64_t i0 = iFirst; i0 < s.T; i0 += Br) {
      const int rows = static_cast<int>(min64(Br, s.T - i0));
      __syncthreads();
      attn::loadTile(Qs, q + (s.q0 + i0) * d.ldq + h * d.hd, d.ldq, rows, Br, hd);
      attn::loadTile(dOs, dout + (s.q0 + i0) * d.ldo + h * d.hd, d.ldo, rows, Br, hd);
      if (threadIdx.x < Br) {
        const bool ok = threadIdx.x < rows;
        lseS[threadIdx.x] = ok ? lse[h * d.T + s.q0 + i0 + threadIdx.x] : 0.0f;
        deltaS[threadIdx.x] = ok ? delta[h * d.T + s.q0 + i0 + threadIdx.x] : 0.0f;
      }
      __syncthreads();
      attn::tileNT(Ps, Qs, Ks, hd, d.scale);
      attn::tileNT(dSs, dOs, Vs, hd, 1.0f);
      __syncthreads();
      probabilitiesAndScoreGrad(Ps, dSs, lseS, deltaS, s, d.causal, i0, rows, j0);
      __syncthreads();
      attn::tileTN(dVs, Ps, dOs, hd, 1.0f);     // dV += P^T dO
      attn::tileTN(dKs, dSs, Qs, hd, d.scale);  // dK += scale dS^T Q
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < keys * hd; idx += blockDim.x) {
    const int c = idx / hd, x = idx % hd;
    const int64_t kAt = (s.k0 + j0 + c) * d.ldk + kvh * d.hd + x, vAt = (s.k0 + j0 + c) * d.ldv + kvh * d.hd + x;
    dk[kAt] = fromF<T>(toF(dk[kAt]) + dKs[c * hdp + x]);
    dv[vAt] = fromF<T>(toF(dv[vAt]) + dVs[c * hdp + x]);
  }
}

}  // namespace

size_t attention_backward_workspace_bytes(const AttentionDims& d) { return static_cast<size_t>(d.Hq * d.T) * sizeof(float); }

Status attention_backward(void* dq, void* dk, void* dv, const void* dout, const void* q, const void* k, const void* v,
                          const void* out, const float* lse, void* work, AttentionDims d, DType dt, cudaStream_t stream) {
  STIC_RETURN_IF_ERROR(attention_check(d, "attention_backward"));
  STIC_CHECK_ARG(d.maxS <= 65535LL * Bc && d.Hkv <= 65535, "cuda attention_backward: grid limits exceeded (maxS=", d.maxS,
                 ", Hkv=", d.Hkv, ")");
  if (d.T == 0) return Status::ok();
  auto* delta = static_cast<float*>(work);  // [Hq, T]
  const size_t smemDq = attn::tileSmemBytes(d.hd, 5, 2, 2);
  const size_t smemDkv = attn::tileSmemBytes(d.hd, 6, 2, 2);
  return dispatchFloat(dt, "attention_backward", [&](auto tag) {
    using S = decltype(tag);
    const int64_t warps = d.T * d.Hq;
    attentionDeltaKernel<S><<<static_cast<unsigned>((warps * 32 + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
        delta, static_cast<const S*>(dout), static_cast<const S*>(out), d);
    STIC_RETURN_IF_ERROR(launchStatus("attention_backward (delta)"));

    auto dqKernel = attentionDqKernel<S>;
    STIC_RETURN_IF_ERROR(attn::setTileSmem(reinterpret_cast<const void*>(dqKernel), smemDq, d.hd, "attention_backward (dq)"));
    const dim3 gridQ(static_cast<unsigned>((d.maxT + Br - 1) / Br), static_cast<unsigned>(d.Hq), static_cast<unsigned>(d.B));
    dqKernel<<<gridQ, kAttnThreads, smemDq, stream>>>(static_cast<S*>(dq), static_cast<const S*>(dout),
                                                      static_cast<const S*>(q), static_cast<const S*>(k),
                                                      static_cast<const S*>(v), lse, delta, d);
    STIC_RETURN_IF_ERROR(launchStatus("attention_backward (dq)"));

    auto dkvKernel = attentionDkDvKernel<S>;
    STIC_RETURN_IF_ERROR(attn::setTileSmem(reinterpret_cast<const void*>(dkvKernel), smemDkv, d.hd, "attention_backward (dk/dv)"));
    const dim3 gridK(static_cast<unsigned>((d.maxS + Bc - 1) / Bc), static_cast<unsigned>(d.Hkv), static_cast<unsigned>(d.B));
    dkvKernel<<<gridK, kAttnThreads, smemDkv, stream>>>(static_cast<S*>(dk), static_cast<S*>(dv), static_cast<const S*>(dout),
                                                        static_cast<const S*>(q), static_cast<const S*>(k),
                                                        static_cast<const S*>(v), lse, delta, d);
    return launchStatus("attention_backward (dk/dv)");
  });
}

}  // namespace stic::cuda
