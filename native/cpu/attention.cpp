// Scaled dot-product attention on the CPU (fp32). Legend: T queries, S keys, Hq/Hkv heads, hd head dim.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "cpu/ops.h"

namespace stic::cpu {

void attention_forward(float* out, int64_t ldo, const float* q, int64_t ldq, const float* k, int64_t ldk, const float* v,
                       int64_t ldv, int64_t T, int64_t S, int64_t Hq, int64_t Hkv, int64_t hd, bool causal, int64_t qOffset,
                       float scale) {
  const int64_t group = Hq / Hkv;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t h = 0; h < Hq; h++) {
    for (int64_t t = 0; t < T; t++) {
      std::vector<float> scores(S);
      const int64_t kvh = h / group;
      const float* qv = q + t * ldq + h * hd;
      const int64_t last = causal ? std::min<int64_t>(S, qOffset + t + 1) : S;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t s = 0; s < last; s++) {
        const float* kv = k + s * ldk + kvh * hd;
        float d = 0;
        for (int64_t i = 0; i < hd; i++) d += qv[i] * kv[i];
        scores[s] = d * scale;
        mx = std::max(mx, scores[s]);
      }
      double sum = 0;
      for (int64_t s = 0; s < last; s++) {
        scores[s] = std::exp(scores[s] - mx);
        sum += scores[s];
      }
      float* o = out + t * ldo + h * hd;
      for (int64_t i = 0; i < hd; i++) o[i] = 0;
      for (int64_t s = 0; s < last; s++) {
        const float* vv = v + s * ldv + kvh * hd;
        float p = static_cast<float>(scores[s] / sum);
        for (int64_t i = 0; i < hd; i++) o[i] += p * vv[i];
      }
    }
  }
}

}  // namespace stic::cpu
