// LayerNorm (CLIP) and RMSNorm (Llama) forward, fused residual add + norm, and backward on the GPU
// (see ops.cuh). Legend: T rows, C channels, R row groups of the weight-gradient partials.
//
// Forward: one block per row; the row is read once into the statistics and once more (from L1/L2)
// for the output. The variance is two-pass (mean first, then the centred sum of squares) like the
// CPU twin, so |mean| >> std loses nothing.
// Backward: the weight gradient is a column sum over T rows. Instead of float atomics (whose order
// changes from run to run), R row groups write partial sums [R, C] and a second kernel adds them in
// group order: deterministic, and the work stays spread over R x C/256 blocks.
// Kernel order in a backward: statistics, dweight partials (they read dout), their sum, then dinp —
// last, so dinp may alias dout.
#include "cuda/common.cuh"
#include "cuda/ops.cuh"

namespace stic::cuda {
namespace {

constexpr int kRowGroups = 32;  // R
constexpr int kNormThreads = 256;

// One row's forward. kLayer: LayerNorm (else RMSNorm). res != null: res += inp first (stored in T
// and normalised as stored).
template <typename T, bool kLayer>
__global__ void normForwardKernel(T* __restrict__ out, T* res, const T* inp, const T* __restrict__ weight,
                                  const T* __restrict__ bias, int64_t C, float eps) {
  __shared__ float red[32];
  const int64_t row = blockIdx.x;
  const T* x = (res ? res : inp) + row * C;
  float s = 0.0f;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    float v;
    if (res && inp) {
      v = roundTrip<T>(toF(res[row * C + c]) + toF(inp[row * C + c]));
      res[row * C + c] = fromF<T>(v);  // the same thread re-reads it below: no barrier needed
    } else {
      v = toF(x[c]);
    }
    s += kLayer ? v : v * v;
  }
  const float total = blockSum(s, red);
  float mean = 0.0f, rstd;
  if (kLayer) {
    mean = total / static_cast<float>(C);
    float ss = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      const float d = toF(x[c]) - mean;
      ss += d * d;
    }
    rstd = 1.0f / sqrtf(blockSum(ss, red) / static_cast<float>(C) + eps);
  } else {
    rstd = 1.0f / sqrtf(total / static_cast<float>(C) + eps);
  }
  T* y = out + row * C;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const float n = (toF(x[c]) - mean) * rstd * toF(weight[c]);
    y[c] = fromF<T>(kLayer ? n + toF(bias[c]) : n);
  }
}

// stats[2t] = mean (0 for RMSNorm), stats[2t+1] = rstd, exactly as the forward computes them.
template <typename T, bool kLayer>
__global__ void normStatsKernel(float* __restrict__ stats, const T* __restrict__ inp, int64_t C, float eps) {
  __shared__ float red[32];
  const T* x = inp + static_cast<int64_t>(blockIdx.x) * C;
  float s = 0.0f;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const float v = toF(x[c]);
    s += kLayer ? v : v * v;
  }
  const float total = blockSum(s, red);
  float mean = 0.0f, rstd;
  if (kLayer) {
    mean = total / static_cast<float>(C);
    float ss = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      const float d = toF(x[c]) - mean;
      ss += d * d;
    }
    rstd = 1.0f / sqrtf(blockSum(ss, red) / static_cast<float>(C) + eps);
  } else {
    rstd = 1.0f / sqrtf(total / static_cast<float>(C) + eps);
  }
  if (threadIdx.x == 0) {
    stats[2 * blockIdx.x] = mean;
    stats[2 * blockIdx.x + 1] = rstd;
  }
}

// partial[g, 0, c] = sum over group g's rows of dout * xhat; partial[g, 1, c] = sum of dout.
// Grid (C / 256, R); rows of a group are contiguous and summed in order.
template <typename T>
__global__ void normWeightPartialKernel(float* __restrict__ partial, const T* __restrict__ dout, const T* __restrict__ inp,
                                        const float* __restrict__ stats, int64_t T_, int64_t C, int groups) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const int g = blockIdx.y;
  const int64_t r0 = T_ * g / groups, r1 = T_ * (g + 1) / groups;
  float accW = 0.0f, accB = 0.0f;
  for (int64_t t = r0; t < r1; t++) {
    const float gv = toF(dout[t * C + c]);
    accW += gv * ((toF(inp[t * C + c]) - stats[2 * t]) * stats[2 * t + 1]);
    accB += gv;
  }
  partial[(static_cast<int64_t>(g) * 2) * C + c] = accW;
  partial[(static_cast<int64_t>(g) * 2 + 1) * C + c] = accB;
}

// dweight[c] += sum_g partial[g, 0, c]; dbias[c] += sum_g partial[g, 1, c] (null: frozen).
__global__ void normWeightReduceKernel(float* dweight, float* dbias, const float* __restrict__ partial, int64_t C, int groups) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float w = 0.0f, b = 0.0f;
  for (int g = 0; g < groups; g++) {
    w += partial[(static_cast<int64_t>(g) * 2) * C + c];
    b += partial[(static_cast<int64_t>(g) * 2 + 1) * C + c];
  }
  if (dweight) dweight[c] += w;
  if (dbias) dbias[c] += b;
}

// One row's input gradient. RMSNorm: dx = r (g w - x r^2 mean(g w x)); LayerNorm with
// xhat = (x - mean) r: dx = r (g w - mean(g w) - xhat mean(g w xhat)).
template <typename T, bool kLayer>
__global__ void normInputGradKernel(T* dinp, const T* dout, const T* __restrict__ inp, const T* __restrict__ weight,
                                    const float* __restrict__ stats, int64_t C) {
  __shared__ float red[32];
  const int64_t row = blockIdx.x;
  const T* g = dout + row * C;
  const T* x = inp + row * C;
  const float mean = stats[2 * row], r = stats[2 * row + 1];
  float sumD = 0.0f, sumDX = 0.0f;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const float d = toF(g[c]) * toF(weight[c]);
    sumD += d;
    sumDX += d * (kLayer ? (toF(x[c]) - mean) * r : toF(x[c]));
  }
  const float mDX = blockSum(sumDX, red) / static_cast<float>(C);
  const float mD = kLayer ? blockSum(sumD, red) / static_cast<float>(C) : 0.0f;
  T* dx = dinp + row * C;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const float d = toF(g[c]) * toF(weight[c]);
    const float xv = toF(x[c]);
    const float v = kLayer ? r * (d - mD - (xv - mean) * r * mDX) : r * (d - xv * (mDX * r * r));
    dx[c] = fromF<T>(v);  // after this thread's last read of g[c]: dinp may alias dout
  }
}

template <bool kLayer>
Status forward(void* out, void* res, const void* inp, const void* weight, const void* bias, int64_t T, int64_t C,
               float eps, DType dt, cudaStream_t stream, const char* op) {
  if (T <= 0 || C <= 0) return Status::ok();
  return dispatchFloat(dt, op, [&](auto tag) {
    using S = decltype(tag);
    normForwardKernel<S, kLayer><<<static_cast<unsigned>(T), kNormThreads, 0, stream>>>(
        static_cast<S*>(out), static_cast<S*>(res), static_cast<const S*>(inp), static_cast<const S*>(weight),
        static_cast<const S*>(bias), C, eps);
    return launchStatus(op);
  });
}

template <bool kLayer>
Status backward(void* dinp, float* dweight, float* dbias, const void* dout, const void* inp, const void* weight, int64_t T,
                int64_t C, float eps, void* work, DType dt, cudaStream_t stream, const char* op) {
  if (T <= 0 || C <= 0) return Status::ok();
  auto* stats = static_cast<float*>(work);  // [T, 2]
  float* partial = stats + 2 * T;           // [R, 2, C]
  const int groups = static_cast<int>(T < kRowGroups ? T : kRowGroups);
  return dispatchFloat(dt, op, [&](auto tag) {
    using S = decltype(tag);
    normStatsKernel<S, kLayer><<<static_cast<unsigned>(T), kNormThreads, 0, stream>>>(stats, static_cast<const S*>(inp), C, eps);
    STIC_RETURN_IF_ERROR(launchStatus(op));
    if (dweight || dbias) {
      const dim3 grid(static_cast<unsigned>((C + kThreads - 1) / kThreads), static_cast<unsigned>(groups));
      normWeightPartialKernel<S><<<grid, kThreads, 0, stream>>>(partial, static_cast<const S*>(dout),
                                                                static_cast<const S*>(inp), stats, T, C, groups);
      STIC_RETURN_IF_ERROR(launchStatus(op));
      normWeightReduceKernel<<<static_cast<unsigned>((C + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
          dweight, kLayer ? dbias : nullptr, partial, C, groups);
      STIC_RETURN_IF_ERROR(launchStatus(op));
    }
    normInputGradKernel<S, kLayer><<<static_cast<unsigned>(T), kNormThreads, 0, stream>>>(
        static_cast<S*>(dinp), static_cast<const S*>(dout), static_cast<const S*>(inp), static_cast<const S*>(weight), stats, C);
    return launchStatus(op);
  });
}

}  // namespace

Status layernorm_forward(void* out, const void* inp, const void* weight, const void* bias, int64_t T, int64_t C,
                         float eps, DType dt, cudaStream_t stream) {
  return forward<true>(out, nullptr, inp, weight, bias, T, C, eps, dt, stream, "layernorm_forward");
}
Status rmsnorm_forward(void* out, const void* inp, const void* weight, int64_t T, int64_t C, float eps, DType dt,
                       cudaStream_t stream) {
  return forward<false>(out, nullptr, inp, weight, nullptr, T, C, eps, dt, stream, "rmsnorm_forward");
}
Status add_layernorm_forward(void* out, void* res, const void* inp, const void* weight, const void* bias, int64_t T,
                             int64_t C, float eps, DType dt, cudaStream_t stream) {
  return forward<true>(out, res, inp, weight, bias, T, C, eps, dt, stream, "add_layernorm_forward");
}
Status add_rmsnorm_forward(void* out, void* res, const void* inp, const void* weight, int64_t T, int64_t C, float eps,
                           DType dt, cudaStream_t stream) {
  return forward<false>(out, res, inp, weight, nullptr, T, C, eps, dt, stream, "add_rmsnorm_forward");
}

size_t norm_backward_workspace_bytes(int64_t T, int64_t C) {
  return static_cast<size_t>(2 * T + 2 * static_cast<int64_t>(kRowGroups) * C) * sizeof(float);
}

Status rmsnorm_backward(void* dinp, float* dweight, const void* dout, const void* inp, const void* weight, int64_t T,
                        int64_t C, float eps, void* work, DType dt, cudaStream_t stream) {
  return backward<false>(dinp, dweight, nullptr, dout, inp, weight, T, C, eps, work, dt, stream, "rmsnorm_backward");
}
Status layernorm_backward(void* dinp, float* dweight, float* dbias, const void* dout, const void* inp, const void* weight,
                          int64_t T, int64_t C, float eps, void* work, DType dt, cudaStream_t stream) {
  return backward<true>(dinp, dweight, dbias, dout, inp, weight, T, C, eps, work, dt, stream, "layernorm_backward");
}

}  // namespace stic::cuda
