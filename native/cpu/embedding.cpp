// Patch embedding, token embedding lookup and log-softmax/gather on the CPU.
// Legend: P patches, p patch side, D hidden, T tokens, C channels, V vocab.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/ops.h"

namespace stic::cpu {

void patch_embed_forward(float* out, const float* img, const float* weight, int64_t Hs, int64_t Ws, int64_t p, int64_t D) {
  const int64_t gw = Ws / p, gh = Hs / p, P = gh * gw, K = 3 * p * p;
#pragma omp parallel for schedule(static)
  for (int64_t pi = 0; pi < P; pi++) {
    const int64_t py = pi / gw, px = pi % gw;
    for (int64_t d = 0; d < D; d++) {
      const float* w = weight + d * K;
      float s = 0;
      for (int64_t c = 0; c < 3; c++)
        for (int64_t y = 0; y < p; y++)
          for (int64_t x = 0; x < p; x++) s += w[(c * p + y) * p + x] * img[(c * Hs + py * p + y) * Ws + px * p + x];
      out[pi * D + d] = s;
    }
  }
}

void embedding_forward(float* out, const int64_t* ids, const float* table, int64_t T, int64_t C) {
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; t++) std::memcpy(out + t * C, table + ids[t] * C, C * sizeof(float));
}

void log_softmax_gather(float* logp, const float* logits, const int64_t* targets, int64_t T, int64_t V) {
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; t++) {
    const float* x = logits + t * V;
    float mx = x[0];
    for (int64_t i = 1; i < V; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0;
    for (int64_t i = 0; i < V; i++) sum += std::exp(static_cast<double>(x[i] - mx));
    logp[t] = static_cast<float>(static_cast<double>(x[targets[t]] - mx) - std::log(sum));
  }
}

}  // namespace stic::cpu
