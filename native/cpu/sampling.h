// Next-token selection: greedy, or temperature -> top-k -> top-p sampling (the order of the
// Hugging Face logits warpers), with a counter-based RNG keyed by (seed, step) so an item's draws
// depend only on its own seed and how many tokens it has generated, never on its batch.
// Legend: V vocab.
#pragma once
#include <cstdint>
#include <vector>

namespace stic::model {

struct SamplingParams {
  float temperature = 0.0f;  // <= 0: greedy (argmax, lowest id on ties)
  int64_t topK = 0;          // <= 0: off; 1 is greedy
  float topP = 1.0f;         // >= 1: off; keeps the smallest prefix of the sorted distribution with mass >= topP
  uint64_t seed = 0;
};

// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011) with
// key = seed and counter = (counter, 0): four 32-bit words.
void philox4x32(uint32_t out[4], uint64_t seed, uint64_t counter);
// A uniform double in [0, 1) with 53 random bits, from the first two Philox words of (seed, counter).
double counterUniform(uint64_t seed, uint64_t counter);

// Reusable per-call scratch (V floats and ints), so sampling allocates nothing per token.
struct SamplerScratch {
  std::vector<double> prob;
  std::vector<int32_t> order;
};

// The token for generation step `step` (0 = first new token) from logits (V).
int64_t sampleToken(const float* logits, int64_t V, const SamplingParams& p, uint64_t step, SamplerScratch& scratch);

}  // namespace stic::model
