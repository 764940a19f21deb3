#include "cpu/sampling.h"

#include <algorithm>
#include <cmath>

#include "cpu/philox.h"

namespace stic::model {

void philox4x32(uint32_t out[4], uint64_t seed, uint64_t counter) {
  out[0] = static_cast<uint32_t>(counter);
  out[1] = static_cast<uint32_t>(counter >> 32);
  out[2] = 0;
  out[3] = 0;
  philox::philox4x32_10(out, philox::Key::fromSeed(seed));
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
