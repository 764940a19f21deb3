// The fused head's kernels between the GEMMs (see head.cuh for the pipeline). Legend: head.cuh.
// Row kernels use one block per chunk row; every reduction is a fixed tree, so a row's statistics
// do not depend on scheduling. Sums of exp are fp32 exps accumulated in fp64, as the CPU twin.
#include <cmath>

#include "cuda/common.cuh"
#include "cuda/head.cuh"

namespace stic::cuda {
namespace {

constexpr int kRowThreads = 256;

// The two largest (value, index) pairs, ordered by value descending then index ascending; index
// -1 marks an empty slot. This is the order the CPU twin's strict-'>' insertion in increasing index
// order produces.
struct Top2 {
  float v1, v2;
  int32_t i1, i2;
};

__device__ __forceinline__ bool better(float va, int32_t ia, float vb, int32_t ib) {
  if (ia < 0) return false;
  if (ib < 0) return true;
  return va > vb || (va == vb && ia < ib);
}

__device__ __forceinline__ Top2 mergeTop2(const Top2& a, const Top2& b) {
  Top2 r;
  if (better(a.v1, a.i1, b.v1, b.i1)) {
    r.v1 = a.v1, r.i1 = a.i1;
    if (better(a.v2, a.i2, b.v1, b.i1)) r.v2 = a.v2, r.i2 = a.i2;
    else r.v2 = b.v1, r.i2 = b.i1;
  } else {
    r.v1 = b.v1, r.i1 = b.i1;
    if (better(a.v1, a.i1, b.v2, b.i2)) r.v2 = a.v1, r.i2 = a.i1;
    else r.v2 = b.v2, r.i2 = b.i2;
  }
  return r;
}

__device__ Top2 blockTop2(Top2 t, Top2* smem) {
  for (int o = 16; o > 0; o >>= 1) {
    Top2 other;
    other.v1 = __shfl_xor_sync(kFullMask, t.v1, o);
    other.v2 = __shfl_xor_sync(kFullMask, t.v2, o);
    other.i1 = __shfl_xor_sync(kFullMask, t.i1, o);
    other.i2 = __shfl_xor_sync(kFullMask, t.i2, o);
    t = mergeTop2(t, other);  // symmetric in its result: every lane ends with the same pair
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) smem[warp] = t;
  __syncthreads();
  Top2 r = smem[0];
  for (int w = 1; w < warps; w++) r = mergeTop2(r, smem[w]);
  return r;
}

template <typename T>
__global__ void gatherRowsKernel(T* __restrict__ rows, const T* __restrict__ h, const int64_t* __restrict__ index, int64_t D) {
  const int64_t i = blockIdx.x;
  const T* src = h + index[i] * D;
  for (int64_t k = threadIdx.x; k < D; k += blockDim.x) rows[i * D + k] = src[k];
}

__global__ void initStatsKernel(HeadRowStats* stats, int64_t c) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < c) stats[i] = {0.0, -INFINITY, 0.0f, 0.0f, -INFINITY, -INFINITY, -1, -1, 0};
}

template <typename T>
__global__ void foldBlockKernel(HeadRowStats* stats, T* probs, const float* __restrict__ logits, int64_t v0, int64_t b,
                                const int64_t* __restrict__ index, const int64_t* __restrict__ targets, bool topAlt) {
  __shared__ float redF[32];
  __shared__ double redD[32];
  __shared__ Top2 redT[32];
  const int64_t i = blockIdx.x;
  const float* x = logits + i * b;
  const int64_t target = targets[index[i]];
  float bm = -INFINITY;
  Top2 top = {-INFINITY, -INFINITY, -1, -1};
  for (int64_t v = threadIdx.x; v < b; v += blockDim.x) {
    const float val = x[v];
    bm = fmaxf(bm, val);
    if (topAlt) top = mergeTop2(top, Top2{val, -INFINITY, static_cast<int32_t>(v0 + v), -1});
  }
  bm = blockMax(bm, redF);
  if (topAlt) top = blockTop2(top, redT);
  const HeadRowStats old = stats[i];
  const float m = fmaxf(old.max, bm);
  double s = 0.0;
  for (int64_t v = threadIdx.x; v < b; v += blockDim.x) {
    const float e = expf(x[v] - m);
    s += static_cast<double>(e);
    if (probs) probs[i * b + v] = fromF<T>(e);
  }
  s = blockSum(s, redD);
  if (threadIdx.x == 0) {
    HeadRowStats st = old;
    if (target >= v0 && target < v0 + b) st.labelLogit = x[target - v0];
    if (topAlt) {
      const Top2 merged = mergeTop2(Top2{old.v1, old.v2, old.i1, old.i2}, top);
      st.v1 = merged.v1, st.v2 = merged.v2, st.i1 = merged.i1, st.i2 = merged.i2;
    }
    st.rescale = old.max == -INFINITY ? 0.0f : expf(old.max - m);
    st.sum = old.sum * static_cast<double>(st.rescale) + s;
    st.max = m;
    stats[i] = st;
  }
}

__global__ void rescaleRowsKernel(float* acc, const HeadRowStats* __restrict__ stats, int64_t D, bool first) {
  const int64_t i = blockIdx.x;
  const float r = stats[i].rescale;
  for (int64_t k = threadIdx.x; k < D; k += blockDim.x) acc[i * D + k] = first ? 0.0f : acc[i * D + k] * r;
}

template <typename T>
__global__ void initOutputsKernel(float* logp, int64_t* gathered, float* lse, T* jac, const int64_t* __restrict__ targets,
                                  int64_t T_, int64_t D) {
  const int64_t t = blockIdx.x;
  if (threadIdx.x == 0) {
    logp[t] = 0.0f;
    lse[t] = 0.0f;
    gathered[t] = -1;
  }
  if (jac && targets[t] < 0) {
    for (int64_t k = threadIdx.x; k < D; k += blockDim.x) jac[t * D + k] = fromF<T>(0.0f);
  }
}

// The gathered index of a finished row, and its logit (fused_head.cpp's gatheredIndex).
__device__ __forceinline__ int64_t gatheredOf(const HeadRowStats& st, int64_t target, bool topAlt, float* logit) {
  if (!topAlt || st.i1 < 0) {
    *logit = st.labelLogit;
    return target;
  }
  const bool alt = st.i1 == target && st.i2 >= 0;
  *logit = alt ? st.v2 : st.v1;
  return alt ? st.i2 : st.i1;
}

template <typename T>
__global__ void finishKernel(float* logp, int64_t* gathered, float* lse, T* jac, const HeadRowStats* __restrict__ stats,
                             const float* __restrict__ acc, const T* __restrict__ W, const int64_t* __restrict__ index,
                             const int64_t* __restrict__ targets, int64_t D, bool topAlt) {
  const int64_t i = blockIdx.x, t = index[i];
  const HeadRowStats st = stats[i];
  float logit = 0.0f;
  const int64_t j = gatheredOf(st, targets[t], topAlt, &logit);
  const float l = st.max + static_cast<float>(log(st.sum));
  if (threadIdx.x == 0) {
    lse[t] = l;
    logp[t] = logit - l;
    gathered[t] = j;
  }
  if (!jac) return;
  const float inv = static_cast<float>(1.0 / st.sum);
  for (int64_t k = threadIdx.x; k < D; k += blockDim.x) jac[t * D + k] = fromF<T>(toF(W[j * D + k]) - acc[i * D + k] * inv);
}

template <typename T>
__global__ void softmaxGradKernel(T* grad, const float* __restrict__ logits, int64_t v0, int64_t b,
                                  const int64_t* __restrict__ index, const float* __restrict__ lse,
                                  const int64_t* __restrict__ gathered, const float* __restrict__ dlogp) {
  const int64_t i = blockIdx.x, t = index[i];
  const float g = dlogp[t], l = lse[t];
  const int64_t j = gathered[t];
  for (int64_t v = threadIdx.x; v < b; v += blockDim.x) {
    float val = expf(logits[i * b + v] - l) * -g;
    if (v0 + v == j) val += g;
    grad[i * b + v] = fromF<T>(val);
  }
}

template <typename T>
__global__ void scatterRowsKernel(T* dh, const float* __restrict__ acc, const int64_t* __restrict__ index, int64_t D) {
  const int64_t i = blockIdx.x;
  T* dst = dh + index[i] * D;
  for (int64_t k = threadIdx.x; k < D; k += blockDim.x) dst[k] = fromF<T>(acc[i * D + k]);
}

template <typename T>
__global__ void backwardSavedKernel(T* dh, const float* __restrict__ dlogp, const T* __restrict__ jac, int64_t D) {
  const int64_t t = blockIdx.x;
  const float g = dlogp[t];
  for (int64_t k = threadIdx.x; k < D; k += blockDim.x) dh[t * D + k] = fromF<T>(g * toF(jac[t * D + k]));
}

Status rowsCheck(int64_t c, const char* op) {
  STIC_CHECK_ARG(c <= 2147483647LL, "cuda ", op, ": expected at most 2^31 - 1 rows but received ", c);
  return Status::ok();
}

}  // namespace

Status head_gather_rows(void* rows, const void* h, const int64_t* index, int64_t c, int64_t D, DType dt, cudaStream_t stream) {
  if (c <= 0) return Status::ok();
  STIC_RETURN_IF_ERROR(rowsCheck(c, "head_gather_rows"));
  return dispatchFloat(dt, "head_gather_rows", [&](auto tag) {
    using S = decltype(tag);
    gatherRowsKernel<S><<<static_cast<unsigned>(c), kRowThreads, 0, stream>>>(static_cast<S*>(rows), static_cast<const S*>(h), index, D);
    return launchStatus("head_gather_rows");
  });
}

Status head_init_stats(HeadRowStats* stats, int64_t c, cudaStream_t stream) {
  if (c <= 0) return Status::ok();
  initStatsKernel<<<blocksFor(c), kThreads, 0, stream>>>(stats, c);
  return launchStatus("head_init_stats");
}

Status head_fold_block(HeadRowStats* stats, void* probs, const float* logits, int64_t v0, int64_t b, const int64_t* index,
                       const int64_t* targets, int64_t c, GatherMode mode, DType dt, cudaStream_t stream) {
  if (c <= 0) return Status::ok();
  STIC_RETURN_IF_ERROR(rowsCheck(c, "head_fold_block"));
  return dispatchFloat(dt, "head_fold_block", [&](auto tag) {
    using S = decltype(tag);
    foldBlockKernel<S><<<static_cast<unsigned>(c), kRowThreads, 0, stream>>>(stats, static_cast<S*>(probs), logits, v0, b, index,
                                                                            targets, mode == GatherMode::TopAlt);
    return launchStatus("head_fold_block");
  });
}

Status head_rescale_rows(float* acc, const HeadRowStats* stats, int64_t c, int64_t D, bool first, cudaStream_t stream) {
  if (c <= 0) return Status::ok();
  STIC_RETURN_IF_ERROR(rowsCheck(c, "head_rescale_rows"));
  rescaleRowsKernel<<<static_cast<unsigned>(c), kRowThreads, 0, stream>>>(acc, stats, D, first);
  return launchStatus("head_rescale_rows");
}

Status head_init_outputs(float* logp, int64_t* gathered, float* lse, void* jac, const int64_t* targets, int64_t T, int64_t D,
                         DType dt, cudaStream_t stream) {
  if (T <= 0) return Status::ok();
  STIC_RETURN_IF_ERROR(rowsCheck(T, "head_init_outputs"));
  return dispatchFloat(dt, "head_init_outputs", [&](auto tag) {
    using S = decltype(tag);
    initOutputsKernel<S><<<static_cast<unsigned>(T), kRowThreads, 0, stream>>>(logp, gathered, lse, static_cast<S*>(jac), targets, T, D);
    return launchStatus("head_init_outputs");
  });
}

Status head_finish(float* logp, int64_t* gathered, float* lse, void* jac, const HeadRowStats* stats, const float* acc,
                   const void* W, const int64_t* index, const int64_t* targets, int64_t c, int64_t D, GatherMode mode,
                   DType dt, cudaStream_t stream) {
  if (c <= 0) return Status::ok();
  STIC_RETURN_IF_ERROR(rowsCheck(c, "head_finish"));
  return dispatchFloat(dt, "head_finish", [&](auto tag) {
    using S = decltype(tag);
    finishKernel<S><<<static_cast<unsigned>(c), kRowThreads, 0, stream>>>(logp, gathered, lse, static_cast<S*>(jac), stats, acc,
                                                                          static_cast<const S*>(W), index, targets, D,
                                                                          mode == GatherMode::TopAlt);
    return launchStatus("head_finish");
  });
}

Status head_softmax_grad_block(void* grad, const float* logits, int64_t v0, int64_t b, const int64_t* index,
                               const float* lse, const int64_t* gathered, const float* dlogp, int64_t c, DType dt,
                               cudaStream_t stream) {
  if (c <= 0) return Status::ok();
  STIC_RETURN_IF_ERROR(rowsCheck(c, "head_softmax_grad_block"));
  return dispatchFloat(dt, "head_softmax_grad_block", [&](auto tag) {
    using S = decltype(tag);
    softmaxGradKernel<S><<<static_cast<unsigned>(c), kRowThreads, 0, stream>>>(static_cast<S*>(grad), logits, v0, b, index, lse,
                                                                               gathered, dlogp);
    return launchStatus("head_softmax_grad_block");
  });
}

Status head_scatter_rows(void* dh, const float* acc, const int64_t* index, int64_t c, int64_t D, DType dt, cudaStream_t stream) {
  if (c <= 0) return Status::ok();
  STIC_RETURN_IF_ERROR(rowsCheck(c, "head_scatter_rows"));
  return dispatchFloat(dt, "head_scatter_rows", [&](auto tag) {
    using S = decltype(tag);
    scatterRowsKernel<S><<<static_cast<unsigned>(c), kRowThreads, 0, stream>>>(static_cast<S*>(dh), acc, index, D);
    return launchStatus("head_scatter_rows");
  });
}

Status fused_head_backward_saved(void* dh, const float* dlogp, const void* jac, int64_t T, int64_t D, DType dt,
                                 cudaStream_t stream) {
  if (T <= 0) return Status::ok();
  STIC_RETURN_IF_ERROR(rowsCheck(T, "fused_head_backward_saved"));
  return dispatchFloat(dt, "fused_head_backward_saved", [&](auto tag) {
    using S = decltype(tag);
    backwardSavedKernel<S><<<static_cast<unsigned>(T), kRowThreads, 0, stream>>>(static_cast<S*>(dh), dlogp,
                                                                                 static_cast<const S*>(jac), D);
    return launchStatus("fused_head_backward_saved");
  });
}

}  // namespace stic::cuda
