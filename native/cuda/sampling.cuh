// Next-token selection on the GPU: the CUDA twin of native/cpu/sampling.h (greedy, or
// temperature -> top-k -> top-p in the Hugging Face warper order) with the same counter-based RNG:
// item b's draw for generation step s is Philox4x32-10 keyed by (seed_b, s), so the token depends
// only on the item's own seed and step, never on its batch slot — a continuous-batching slot refill
// changes nothing. Legend: B items, V vocab.
//
// Without sorting: the candidates are ranked by a 64-bit key (the logit's order-preserving bits,
// then the inverted token id: ties go to the lower id, the CPU twin's order) and every question
// the CPU answers by walking its sorted list — "the k-th best", "where does the cumulative mass
// reach p", "where does it pass the target" — is a most-significant-digit-first radix selection
// over those keys, 4 bits per pass, with per-digit counts or probability masses.
// Probabilities are fp64 like the CPU's; only the summation order differs (fixed tree here,
// sorted order there), so a token can differ from the CPU's only when the uniform draw lands
// within a few ulps of a boundary between two tokens' cumulative masses.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace stic::cuda {

// One item's sampling parameters (device array), as model::SamplingParams plus the step.
struct SampleItem {
  float temperature;  // <= 0: greedy
  int32_t topK;       // <= 0 or >= V: off; 1: greedy
  float topP;         // >= 1: off
  int32_t pad;
  uint64_t seed;
  uint64_t step;      // generation step of this item (0 = its first new token)
};

// Scratch: one fp64 probability per logit.
size_t sample_tokens_workspace_bytes(int64_t B, int64_t V);

// tokens[B] (int32, device) from logits[B, V] (dt, row stride ld) and items[B] (device).
Status sample_tokens(int32_t* tokens, const void* logits, int64_t ld, const SampleItem* items, int64_t B, int64_t V,
                     void* work, DType dt, cudaStream_t stream);

}  // namespace stic::cuda
