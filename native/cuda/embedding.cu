// Token embedding lookup and its backward, and the log-softmax gather, on the GPU (see ops.cuh).
// Legend: T tokens, C channels, V vocab.
#include "cuda/common.cuh"
#include "cuda/ops.cuh"

namespace stic::cuda {
namespace {

// Grid (T, C / 256): one row per blockIdx.x, coalesced over channels.
template <typename T>
__global__ void embeddingKernel(T* __restrict__ out, const int64_t* __restrict__ ids, const T* __restrict__ table, int64_t C) {
  const int64_t c = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const int64_t t = blockIdx.x;
  out[t * C + c] = table[ids[t] * C + c];
}

// One thread per channel walks the tokens in order: a row id that appears several times sums its
// tokens in token order in fp32, the CPU twin's exact arithmetic, with no atomics. Only C threads:
// the embedding gradient is needed only when the embeddings train (full pretraining), where its
// cost is small next to the decoder's.
template <typename T>
__global__ void embeddingBackwardKernel(float* __restrict__ dtable, const T* __restrict__ dout, const int64_t* __restrict__ ids,
                                        int64_t T_, int64_t C) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  for (int64_t t = 0; t < T_; t++) dtable[ids[t] * C + c] += toF(dout[t * C + c]);
}

// One block per row: max, then sum of exp(x - max) with fp32 exps accumulated in fp64 (the CPU
// twin sums in fp64 too), then logp = (x[target] - max) - log(sum) in fp64.
template <typename T>
__global__ void logSoftmaxGatherKernel(float* __restrict__ logp, const T* __restrict__ logits,
                                       const int64_t* __restrict__ targets, int64_t V) {
  __shared__ float redF[32];
  __shared__ double redD[32];
  const int64_t t = blockIdx.x;
  const T* x = logits + t * V;
  float mx = -INFINITY;
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x) mx = fmaxf(mx, toF(x[v]));
  mx = blockMax(mx, redF);
  double s = 0.0;
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x) s += static_cast<double>(expf(toF(x[v]) - mx));
  s = blockSum(s, redD);
  if (threadIdx.x == 0) logp[t] = static_cast<float>(static_cast<double>(toF(x[targets[t]]) - mx) - log(s));
}

}  // namespace

Status embedding_forward(void* out, const int64_t* ids, const void* table, int64_t T, int64_t C, DType dt,
                         cudaStream_t stream) {
  if (T <= 0 || C <= 0) return Status::ok();
  return dispatchFloat(dt, "embedding_forward", [&](auto tag) {
    using S = decltype(tag);
    const dim3 grid(static_cast<unsigned>(T), static_cast<unsigned>((C + kThreads - 1) / kThreads));
    embeddingKernel<S><<<grid, kThreads, 0, stream>>>(static_cast<S*>(out), ids, static_cast<const S*>(table), C);
    return launchStatus("embedding_forward");
  });
}

Status embedding_backward(float* dtable, const void* dout, const int64_t* ids, int64_t T, int64_t C, DType dt,
                          cudaStream_t stream) {
  if (T <= 0 || C <= 0) return Status::ok();
  return dispatchFloat(dt, "embedding_backward", [&](auto tag) {
    using S = decltype(tag);
    embeddingBackwardKernel<S><<<static_cast<unsigned>((C + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
        dtable, static_cast<const S*>(dout), ids, T, C);
    return launchStatus("embedding_backward");
  });
}

Status log_softmax_gather(float* logp, const void* logits, const int64_t* targets, int64_t T, int64_t V, DType dt,
                          cudaStream_t stream) {
  if (T <= 0) return Status::ok();
  return dispatchFloat(dt, "log_softmax_gather", [&](auto tag) {
    using S = decltype(tag);
    logSoftmaxGatherKernel<S><<<static_cast<unsigned>(T), 512, 0, stream>>>(logp, static_cast<const S*>(logits), targets, V);
    return launchStatus("log_softmax_gather");
  });
}

}  // namespace stic::cuda
