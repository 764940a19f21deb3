#include "cpu/sampling.h"

#include <algorithm>
#include <cmath>

namespace stic::model {

void philox4x32(uint32_t out[4], uint64_t seed, uint64_t counter) {
  // Multipliers and Weyl key increments from the paper (Random123's philox4x32 defaults).
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = static_cast<uint64_t>(M0) * c0;
    uint64_t p1 = static_cast<uint64_t>(M1) * c2;
    uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += W0;
    k1 += W1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

double counterUniform(uint64_t seed, uint64_t counter) {
  uint32_t w[4];
  philox4x32(w, seed, counter);
  uint64_t bits = (static_cast<uint64_t>(w[0] >> 5) << 26) | (w[1] >> 6);  // 27 + 26 = 53 bits
  return static_cast<double>(bits) * (1.0 / 9007199254740992.0);
}

namespace {

int64_t argmax(const float* x, int64_t V) {
  int64_t best = 0;
  for (int64_t i = 1; i < V; i++) {
    if (x[i] > x[best]) best = i;
  }
  return best;
}

}  // namespace

int64_t sampleToken(const float* logits, int64_t V, const SamplingParams& p, uint64_t step, SamplerScratch& s) {
  if (p.temperature <= 0.0f || p.topK == 1) return argmax(logits, V);
  s.prob.resize(V);
  s.order.resize(V);
  for (int64_t i = 0; i < V; i++) s.order[i] = static_cast<int32_t>(i);
  // Candidates, best first (ties: lower id first, so the order is fully determined).
  auto better = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  int64_t n = V;
  if (p.topK > 0 && p.topK < V) {
    n = p.topK;
    std::nth_element(s.order.begin(), s.order.begin() + (n - 1), s.order.end(), better);
  }
  const bool nucleus = p.topP < 1.0f;
  if (nucleus || n < V) std::sort(s.order.begin(), s.order.begin() + n, better);

  // Softmax of logits / temperature over the candidates (max-subtracted, in double).
  double mx = -INFINITY;
  for (int64_t j = 0; j < n; j++) mx = std::max(mx, static_cast<double>(logits[s.order[j]]));
  const double invT = 1.0 / static_cast<double>(p.temperature);
  double total = 0;
  for (int64_t j = 0; j < n; j++) {
    s.prob[j] = std::exp((static_cast<double>(logits[s.order[j]]) - mx) * invT);
    total += s.prob[j];
  }
  if (nucleus) {  // keep token j while the mass strictly before it is < topP (always keeps the first)
    double before = 0;
    int64_t keep = 0;
    while (keep < n && before < p.topP * total) before += s.prob[keep++];
    n = keep;
    total = before;
  }
  const double target = counterUniform(p.seed, step) * total;
  double cum = 0;
  for (int64_t j = 0; j < n; j++) {
    cum += s.prob[j];
    if (target < cum) return s.order[j];
  }
  return s.order[n - 1];  // target == total after rounding
}

}  // namespace stic::model
