// LayerNorm (CLIP) and RMSNorm (Llama) forward on the CPU. Legend: T rows, C channels.
#include <cmath>
#include <cstdint>

#include "cpu/ops.h"

namespace stic::cpu {

void layernorm_forward(float* out, const float* inp, const float* weight, const float* bias, int64_t T, int64_t C, float eps) {
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; t++) {
    const float* x = inp + t * C;
    float* y = out + t * C;
    // Two passes (mean, then centred variance): the one-pass E[x^2]-E[x]^2 cancels badly.
    double sum = 0;
    for (int64_t c = 0; c < C; c++) sum += x[c];
    // The mean as two floats (hi + lo): x - hi is exact near the mean (Sterbenz), so centring keeps
    // full precision when |mean| >> std, which a single rounded fp32 mean would not.
    double meanD = sum / C;
    float hi = static_cast<float>(meanD), lo = static_cast<float>(meanD - hi);
    double var = 0;
    for (int64_t c = 0; c < C; c++) {
      double d = (x[c] - hi) - lo;
      var += d * d;
    }
    float rstd = static_cast<float>(1.0 / std::sqrt(var / C + eps));
    for (int64_t c = 0; c < C; c++) y[c] = ((x[c] - hi) - lo) * rstd * weight[c] + bias[c];
  }
}

void rmsnorm_forward(float* out, const float* inp, const float* weight, int64_t T, int64_t C, float eps) {
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; t++) {
    const float* x = inp + t * C;
    float* y = out + t * C;
    double ss = 0;
    for (int64_t c = 0; c < C; c++) ss += static_cast<double>(x[c]) * x[c];
    float rms = static_cast<float>(1.0 / std::sqrt(ss / C + eps));
    for (int64_t c = 0; c < C; c++) y[c] = x[c] * rms * weight[c];
  }
}

}  // namespace stic::cpu
