// RMSNorm (Llama) and LayerNorm (CLIP) backward on the CPU. Legend: T rows, C channels.
// Each runs three passes inside one parallel region: per-row statistics (recomputed exactly as the
// forward computes them), the weight/bias gradients (threads own channel blocks and walk rows in
// order: deterministic for any thread count), then dinp row by row — last, so dinp may alias dout.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/ops_backward.h"

namespace stic::cpu {
namespace {

constexpr int64_t kChannelBlock = 64;  // columns per task of the dweight pass (a cache line x 4)

// Per-call row statistics; thread_local so a steady-state training step reuses its capacity.
float* rowScratch(int64_t n) {
  static thread_local std::vector<float> buf;
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(n);
  return buf.data();
}

// The forward's rstd: 1 / sqrt(mean(x^2) + eps) from a double sum of squares.
float rmsRstd(const float* x, int64_t C, float eps) {
  double ss = 0;
  for (int64_t c = 0; c < C; c++) ss += static_cast<double>(x[c]) * x[c];
  return static_cast<float>(1.0 / std::sqrt(ss / C + eps));
}

}  // namespace

void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight, int64_t T,
                      int64_t C, float eps) {
  float* rstd = rowScratch(T);  // [T]
  const int64_t blocks = (C + kChannelBlock - 1) / kChannelBlock;
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; t++) rstd[t] = rmsRstd(inp + t * C, C, eps);
    if (dweight) {
      // dweight[c] += sum_t dout[t,c] * inp[t,c] * rstd[t]
#pragma omp for schedule(static)
      for (int64_t b = 0; b < blocks; b++) {
        const int64_t c0 = b * kChannelBlock, c1 = std::min(C, c0 + kChannelBlock);
        float acc[kChannelBlock] = {};
        for (int64_t t = 0; t < T; t++) {
          const float *g = dout + t * C, *x = inp + t * C;
          const float r = rstd[t];
          for (int64_t c = c0; c < c1; c++) acc[c - c0] += g[c] * x[c] * r;
        }
        for (int64_t c = c0; c < c1; c++) dweight[c] += acc[c - c0];
      }
    }
    // y = x r w with r = (mean(x^2) + eps)^-1/2 and dr/dx_c = -r^3 x_c / C, so
    // dx_c = r (g_c w_c - x_c r^2 mean_j(g_j w_j x_j)).
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; t++) {
      const float *g = dout + t * C, *x = inp + t * C;
      float* dx = dinp + t * C;
      const float r = rstd[t];
      double dot = 0;
      for (int64_t c = 0; c < C; c++) dot += static_cast<double>(g[c] * weight[c]) * x[c];
      const float k = static_cast<float>(dot / C) * r * r;
      for (int64_t c = 0; c < C; c++) dx[c] = r * (g[c] * weight[c] - x[c] * k);
    }
  }
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, int64_t T, int64_t C, float eps) {
  float* stats = rowScratch(3 * T);  // [T, 3]: mean as two floats (hi, lo), rstd
  const int64_t blocks = (C + kChannelBlock - 1) / kChannelBlock;
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; t++) {
      // Two-pass mean and centred variance, as the forward does; the mean is kept as hi + lo so
      // that (x - hi) - lo centres without cancellation when |mean| >> std.
      const float* x = inp + t * C;
      double sum = 0;
      for (int64_t c = 0; c < C; c++) sum += x[c];
      const double mean = sum / C;
      const float hi = static_cast<float>(mean), lo = static_cast<float>(mean - hi);
      double var = 0;
      for (int64_t c = 0; c < C; c++) {
        const double d = (x[c] - hi) - lo;
        var += d * d;
      }
      stats[3 * t] = hi;
      stats[3 * t + 1] = lo;
      stats[3 * t + 2] = static_cast<float>(1.0 / std::sqrt(var / C + eps));
    }
    if (dweight || dbias) {
      // dweight[c] += sum_t dout[t,c] * xhat[t,c]; dbias[c] += sum_t dout[t,c]
#pragma omp for schedule(static)
      for (int64_t b = 0; b < blocks; b++) {
        const int64_t c0 = b * kChannelBlock, c1 = std::min(C, c0 + kChannelBlock);
        float accW[kChannelBlock] = {}, accB[kChannelBlock] = {};
        for (int64_t t = 0; t < T; t++) {
          const float *g = dout + t * C, *x = inp + t * C;
          const float hi = stats[3 * t], lo = stats[3 * t + 1], r = stats[3 * t + 2];
          for (int64_t c = c0; c < c1; c++) {
            accW[c - c0] += g[c] * (((x[c] - hi) - lo) * r);
            accB[c - c0] += g[c];
          }
        }
        for (int64_t c = c0; c < c1; c++) {
          if (dweight) dweight[c] += accW[c - c0];
          if (dbias) dbias[c] += accB[c - c0];
        }
      }
    }
    // With xhat = (x - mean) rstd and dxhat = g w: dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)).
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; t++) {
      const float *g = dout + t * C, *x = inp + t * C;
      float* dx = dinp + t * C;
      const float hi = stats[3 * t], lo = stats[3 * t + 1], r = stats[3 * t + 2];
      double sumD = 0, sumDX = 0;
      for (int64_t c = 0; c < C; c++) {
        const float d = g[c] * weight[c];
        sumD += d;
        sumDX += static_cast<double>(d) * (((x[c] - hi) - lo) * r);
      }
      const float mD = static_cast<float>(sumD / C), mDX = static_cast<float>(sumDX / C);
      for (int64_t c = 0; c < C; c++) dx[c] = r * (g[c] * weight[c] - mD - ((x[c] - hi) - lo) * r * mDX);
    }
  }
}

}  // namespace stic::cpu
