// Rotary position embedding backward on the CPU. Legend: T tokens, H heads, hd head dim.
// The forward rotates each pair (a, b) = (x[i], x[i + hd/2]) by the angle pos * inv_freq[i]; its
// Jacobian is that rotation, so the gradient is the transposed (inverse) rotation of dout. The
// angles are computed with exactly the forward's fp32 expressions so the two rotations match.
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/ops_backward.h"

namespace stic::cpu {

void rope_backward(float* dx, const int64_t* positions, int64_t T, int64_t H, int64_t hd, int64_t ldx, float theta) {
  const int64_t half = hd / 2;
  std::vector<float> invFreq(half);  // [hd/2], as the forward: theta^(-2i/hd) in fp32
  for (int64_t i = 0; i < half; i++) invFreq[i] = 1.0f / std::pow(theta, static_cast<float>(2 * i) / hd);
#pragma omp parallel
  {
    std::vector<float> cs(half), sn(half);  // per thread, reused for every token
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; t++) {
      for (int64_t i = 0; i < half; i++) {
        const float ang = static_cast<float>(positions[t]) * invFreq[i];
        cs[i] = std::cos(ang);
        sn[i] = std::sin(ang);
      }
      for (int64_t h = 0; h < H; h++) {
        float* g = dx + t * ldx + h * hd;
        for (int64_t i = 0; i < half; i++) {
          // forward: a' = a c - b s, b' = b c + a s; transpose: a = a' c + b' s, b = b' c - a' s
          const float ga = g[i], gb = g[i + half];
          g[i] = ga * cs[i] + gb * sn[i];
          g[i + half] = gb * cs[i] - ga * sn[i];
        }
      }
    }
  }
}

}  // namespace stic::cpu
