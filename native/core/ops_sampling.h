// The sampling operation of the ops table (core/ops.h) and its argument types: next-token
// selection, greedy or temperature -> top-k -> top-p (cpu/sampling.h has the contract).
// Legend: V vocab.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace stic::model {

struct SamplingParams {
  float temperature = 0.0f;  // <= 0: greedy (argmax, lowest id on ties)
  int64_t topK = 0;          // <= 0: off; 1 is greedy
  float topP = 1.0f;         // >= 1: off; keeps the smallest prefix of the sorted distribution with mass >= topP
  uint64_t seed = 0;
};

// Reusable per-call scratch (V floats and ints), so sampling allocates nothing per token.
struct SamplerScratch {
  std::vector<double> prob;
  std::vector<int32_t> order;
};

}  // namespace stic::model

namespace stic {

struct SamplingOps {
  // The token of generation step `step` (0: the first new token) from logits[V]; an item's draws
  // depend only on its seed and step.
  std::function<int64_t(const float* logits, int64_t V, const model::SamplingParams& p, uint64_t step,
                        model::SamplerScratch& scratch)>
      sample_token;
};

}  // namespace stic
