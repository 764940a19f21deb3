// Rotary position embedding (HF "default" rope, rotate_half pairing) on the CPU.
// Legend: T tokens, H heads, hd head dim (half = hd / 2 rotation pairs (i, i + half)).
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/ops.h"

namespace stic::cpu {

void rope_forward(float* x, const int64_t* positions, int64_t T, int64_t H, int64_t hd, int64_t ldx, float theta) {
  const int64_t half = hd / 2;
  // HF: inv_freq = 1 / theta^(arange(0, hd, 2).float() / hd) in fp32, angle = position * inv_freq in
  // fp32, then cos/sin of that fp32 angle. The same roundings here keep long positions (where one
  // fp32 ulp of the angle is ~1e-4) in step with the reference.
  std::vector<float> invFreq(half);
  for (int64_t i = 0; i < half; i++) {
    const float e = static_cast<float>(2 * i) / static_cast<float>(hd);
    invFreq[i] = 1.0f / static_cast<float>(std::pow(static_cast<double>(theta), static_cast<double>(e)));
  }
#pragma omp parallel if (T * H * hd >= (1 << 15))
  {
    std::vector<float> cs(half), sn(half);  // one pair per thread, reused for every token
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; t++) {
      for (int64_t i = 0; i < half; i++) {
        const float ang = static_cast<float>(positions[t]) * invFreq[i];
        cs[i] = std::cos(ang);
        sn[i] = std::sin(ang);
      }
      for (int64_t h = 0; h < H; h++) {
        float* a = x + t * ldx + h * hd;
        float* b = a + half;
        // a' = a cos - b sin, b' = b cos + a sin (rotate_half(x) = [-b, a]); vectorises over i.
        for (int64_t i = 0; i < half; i++) {
          const float ai = a[i], bi = b[i];
          a[i] = ai * cs[i] - bi * sn[i];
          b[i] = bi * cs[i] + ai * sn[i];
        }
      }
    }
  }
}

}  // namespace stic::cpu
