// Rotary position embedding (HF "default" rope, rotate_half pairing) on the CPU.
// Legend: T tokens, H heads, hd head dim.
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/ops.h"

namespace stic::cpu {

void rope_forward(float* x, const int64_t* positions, int64_t T, int64_t H, int64_t hd, int64_t ldx, float theta) {
  const int64_t half = hd / 2;
  // inv_freq[i] = theta^(-2i/hd), computed in fp32 like HF's `1.0 / (base ** (arange(0, dim, 2).float() / dim))`.
  std::vector<float> invFreq(half);
  for (int64_t i = 0; i < half; i++) invFreq[i] = 1.0f / std::pow(theta, static_cast<float>(2 * i) / hd);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; t++) {
    std::vector<float> cs(half), sn(half);
    for (int64_t i = 0; i < half; i++) {
      float ang = static_cast<float>(positions[t]) * invFreq[i];
      cs[i] = std::cos(ang);
      sn[i] = std::sin(ang);
    }
    for (int64_t h = 0; h < H; h++) {
      float* v = x + t * ldx + h * hd;
      for (int64_t i = 0; i < half; i++) {
        float a = v[i], b = v[i + half];
        v[i] = a * cs[i] - b * sn[i];
        v[i + half] = b * cs[i] + a * sn[i];
      }
    }
  }
}

}  // namespace stic::cpu
