// Attention forward on the GPU, flash-style (Dao et al. 2022, "FlashAttention"): one block per
// (query tile, query head, sequence) walks the visible key tiles with an online softmax — running
// max m, running sum l, output rescaled by exp(m_old - m_new) — and never forms the [T, S] scores.
// Legend: see attention.cuh and attention_tiles.cuh (Br query rows, Bc keys per tile).
#include <cmath>

#include "cuda/attention.cuh"
#include "cuda/attention_tiles.cuh"
#include "cuda/common.cuh"

namespace stic::cuda {

using attn::Bc;
using attn::Br;
using attn::kAttnThreads;
using attn::kLdp;

Status attention_check(AttentionDims& d, const char* op) {
  STIC_CHECK_ARG(d.hd >= 1 && d.hd <= kAttentionMaxHeadDim, "cuda ", op, ": expected a head dim in [1, ",
                 kAttentionMaxHeadDim, "] but received ", d.hd);
  STIC_CHECK_ARG(d.Hq >= 1 && d.Hkv >= 1 && d.Hq % d.Hkv == 0, "cuda ", op,
                 ": expected query heads a multiple of key/value heads but received Hq=", d.Hq, ", Hkv=", d.Hkv);
  STIC_CHECK_ARG(d.B >= 1 && (d.cuQ != nullptr || d.B == 1), "cuda ", op,
                 ": expected B = 1 without cumulative sequence offsets but received B=", d.B);
  STIC_CHECK_ARG((d.cuQ == nullptr) == (d.cuK == nullptr), "cuda ", op,
                 ": expected both cumulative query and key offsets or neither");
  STIC_CHECK_ARG(d.T >= 0 && d.S >= 1 && d.qOffset >= 0, "cuda ", op, ": expected T >= 0, S >= 1, qOffset >= 0 but received T=",
                 d.T, ", S=", d.S, ", qOffset=", d.qOffset);
  if (d.maxT <= 0) d.maxT = d.T;
  if (d.maxS <= 0) d.maxS = d.S;
  if (d.ldq <= 0) d.ldq = d.Hq * d.hd;
  if (d.ldk <= 0) d.ldk = d.Hkv * d.hd;
  if (d.ldv <= 0) d.ldv = d.Hkv * d.hd;
  if (d.ldo <= 0) d.ldo = d.Hq * d.hd;
  STIC_CHECK_ARG(d.ldq >= d.Hq * d.hd && d.ldo >= d.Hq * d.hd && d.ldk >= d.Hkv * d.hd && d.ldv >= d.Hkv * d.hd,
                 "cuda ", op, ": expected token strides of at least a token's heads (", d.Hq * d.hd, " / ", d.Hkv * d.hd,
                 ") but received ldq=", d.ldq, ", ldk=", d.ldk, ", ldv=", d.ldv, ", ldo=", d.ldo);
  STIC_CHECK_ARG(d.maxT <= 65535LL * Br && d.Hq <= 65535 && d.B <= 65535, "cuda ", op,
                 ": grid limits exceeded (maxT=", d.maxT, ", Hq=", d.Hq, ", B=", d.B, ")");
  if (d.scale == 0.0f) d.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.hd)));
  return Status::ok();
}

Status attn::setTileSmem(const void* kernel, size_t bytes, int64_t hd, const char* op) {
  int device = 0, optin = 0;
  STIC_RETURN_IF_ERROR(cudaStatus(cudaGetDevice(&device), op));
  STIC_RETURN_IF_ERROR(cudaStatus(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device), op));
  if (bytes > static_cast<size_t>(optin)) {
    return error(Code::Unsupported, "cuda ", op, ": head dim ", hd, " needs ", bytes,
                 " bytes of shared memory per block but this device allows ", optin);
  }
  return cudaStatus(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)), op);
}

namespace {

// Shared memory: Q, K, V, O tiles [32, hd+1], scores/probabilities [Br, Bc+1], m, l, corr [Br].
template <typename T>
__global__ void __launch_bounds__(kAttnThreads) attentionForwardKernel(T* __restrict__ out, float* __restrict__ lse,
                                                                       const T* __restrict__ q, const T* __restrict__ k,
                                                                       const T* __restrict__ v, AttentionDims d) {
  extern __shared__ float smem[];
  const int hd = static_cast<int>(d.hd), hdp = hd + 1;
  float* Qs = smem;
  float* Ks = Qs + Br * hdp;
  float* Vs = Ks + Bc * hdp;
  float* Os = Vs + Bc * hdp;
  float* Ps = Os + Br * hdp;
  float* mS = Ps + Br * kLdp;
  float* lS = mS + 32;
  float* corrS = lS + 32;

  const int64_t h = blockIdx.y, b = blockIdx.z, kvh = h / (d.Hq / d.Hkv);
  const attn::Seq s = attn::sequenceOf(d, b);
  const int64_t i0 = static_cast<int64_t>(blockIdx.x) * Br;  // first query of the tile, within the sequence
  if (i0 >= s.T) return;
  const int rows = static_cast<int>(min64(Br, s.T - i0));

  attn::loadTile(Qs, q + (s.q0 + i0) * d.ldq + h * d.hd, d.ldq, rows, Br, hd);
  attn::zeroTile(Os, Br, hd);
  if (threadIdx.x < Br) {
    mS[threadIdx.x] = -INFINITY;
    lS[threadIdx.x] = 0.0f;
  }
  // Keys past the last row's reach are never visible: stop there.
  const int64_t kEnd = d.causal ? min64(s.S, s.qOffset + i0 + rows) : s.S;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int64_t j0 = 0; j0 < kEnd; j0 += Bc) {
    const int keys = static_cast<int>(min64(Bc, s.S - j0));
    __syncthreads();  // previous iteration done with K, V, P
    attn::loadTile(Ks, k + (s.k0 + j0) * d.ldk + kvh * d.hd, d.ldk, keys, Bc, hd);
    attn::loadTile(Vs, v + (s.k0 + j0) * d.ldv + kvh * d.hd, d.ldv, keys, Bc, hd);
    __syncthreads();
    attn::tileNT(Ps, Qs, Ks, hd, d.scale);
    __syncthreads();
    // Online softmax: warp w owns rows w, w + 4, ...; lane = key column.
    for (int r = warp; r < Br; r += kAttnThreads / 32) {
      const bool ok = r < rows && attn::visible(s, d.causal, i0 + r, j0 + lane);
      const float sc = ok ? Ps[r * kLdp + lane] : -INFINITY;
      const float mOld = mS[r];
      const float mNew = fmaxf(mOld, warpMax(sc));
      const float p = ok ? expf(sc - mNew) : 0.0f;
      const float rowSum = warpSum(p);
      Ps[r * kLdp + lane] = p;
      if (lane == 0) {
        const float corr = mNew == -INFINITY ? 1.0f : expf(mOld - mNew);
        corrS[r] = corr;
        lS[r] = lS[r] * corr + rowSum;
        mS[r] = mNew;
      }
    }
    __syncthreads();
    attn::tileNN(Os, corrS, Ps, Vs, hd, 1.0f);  // O = O corr + P V
  }
  __syncthreads();
  const int64_t Ttot = d.T;
  for (int idx = threadIdx.x; idx < rows * hd; idx += blockDim.x) {
    const int r = idx / hd, x = idx % hd;
    const float l = lS[r];
    out[(s.q0 + i0 + r) * d.ldo + h * d.hd + x] = fromF<T>(l > 0.0f ? Os[r * hdp + x] / l : 0.0f);
  }
  if (lse && threadIdx.x < rows) {
    const float l = lS[threadIdx.x];
    lse[h * Ttot + s.q0 + i0 + threadIdx.x] = l > 0.0f ? mS[threadIdx.x] + logf(l) : -INFINITY;
  }
}

}  // namespace

Status attention_forward(void* out, float* lse, const void* q, const void* k, const void* v, AttentionDims d, DType dt,
                         cudaStream_t stream) {
  STIC_RETURN_IF_ERROR(attention_check(d, "attention_forward"));
  if (d.T == 0) return Status::ok();
  const size_t smem = attn::tileSmemBytes(d.hd, 4, 1, 3);
  const dim3 grid(static_cast<unsigned>((d.maxT + Br - 1) / Br), static_cast<unsigned>(d.Hq), static_cast<unsigned>(d.B));
  return dispatchFloat(dt, "attention_forward", [&](auto tag) {
    using S = decltype(tag);
    auto kernel = attentionForwardKernel<S>;
    STIC_RETURN_IF_ERROR(attn::setTileSmem(reinterpret_cast<const void*>(kernel), smem, d.hd, "attention_forward"));
    kernel<<<grid, kAttnThreads, smem, stream>>>(static_cast<S*>(out), lse, static_cast<const S*>(q),
                                                 static_cast<const S*>(k), static_cast<const S*>(v), d);
    return launchStatus("attention_forward");
  });
}

}  // namespace stic::cuda
