// Next-token selection: greedy, or temperature -> top-k -> top-p sampling (the order of the
// Hugging Face logits warpers), with a counter-based RNG keyed by (seed, step) so an item's draws
// depend only on its own seed and how many tokens it has generated, never on its batch.
// Legend: V vocab.
#pragma once
#include <cstdint>
#include <vector>

#include "core/ops_sampling.h"  // SamplingParams, SamplerScratch

namespace stic::model {

// Philox4x32-10 (cpu/philox.h) with key = seed and counter = (counter lo, counter hi, 0, 0): four
// 32-bit words.
void philox4x32(uint32_t out[4], uint64_t seed, uint64_t counter);
// A uniform double in [0, 1) with 53 random bits, from the first two Philox words of (seed, counter).
double counterUniform(uint64_t seed, uint64_t counter);

// The token for generation step `step` (0 = first new token) from logits (V).
int64_t sampleToken(const float* logits, int64_t V, const SamplingParams& p, uint64_t step, SamplerScratch& scratch);

}  // namespace stic::model
