// The store of a full-parameter trainer (stic toy pretrain): every weight of the CLIP tower, the
// projector and the decoder, with its gradient and AdamW moments, fp32 on the backend it is given.
// LoRA training (train_params.h) freezes the base weights; full-parameter training trains all of
// them, so this state is the whole model four times over (parameter, gradient, exp_avg, exp_avg_sq).
// Storage: one ParamStore (param_store.h), a tensor at the same offset of its four flat buffers.
// Tensors the engine stores fused (q|k|v, gate|up; llava_weights.h) are placed adjacently,
// so each fused projection is one contiguous (rows, K) matrix and one GEMM (model_ptrs.h points
// at them). Names are the engine's (llavaTensorSpecs: the llava-hf checkpoint names), so exported
// weights load in lib/engine unchanged.
#pragma once
#include <memory>

#include "model/llava_config.h"
#include "model/param_store.h"

namespace stic::model {

// Matrices (rank >= 2: linears, embeddings, patch and position embeddings) take weight decay;
// vectors (norm weights, biases, the class embedding) do not, as in GPT-2 / llm.c practice:
// decaying a norm gain towards 0 fights the normalisation it exists for.
constexpr int64_t kDecayGroup = 0;
constexpr int64_t kNoDecayGroup = 1;

// The store of every weight of `cfg` on `backend`, all zero (the caller loads or sets the
// parameters): tensors in llavaTensorSpecs order (the engine's load order), fused tensors adjacent
// in storage, groups by rank.
Result<std::unique_ptr<ParamStore>> createFullParamStore(Backend& backend, const LlavaConfig& cfg);

}  // namespace stic::model
