// The trainable state of full-parameter pretraining (stic toy pretrain): every weight of the CLIP
// tower, the projector and the decoder, with its gradient and AdamW moments, fp32 on the CPU.
// LoRA training (train_params.h) freezes the base weights; pretraining trains all of them, so this
// state is the whole model four times over (parameter, gradient, exp_avg, exp_avg_sq).
// Storage: one ParamStore (param_store.h), a tensor at the same offset of its four flat buffers.
// Tensors the engine stores fused (q|k|v, gate|up; llava_weights.h) are placed adjacently,
// so each fused projection is one contiguous (rows, K) matrix and one GEMM.
// Names are the engine's (llavaTensorSpecs: the llava-hf checkpoint names), so exported weights
// load in lib/engine unchanged.
// Legend: Dv vision hidden, Iv vision MLP, p patch side, P patches, D decoder hidden, F decoder MLP,
// Nqkv = (Hq + 2 Hkv) hd, V vocab, n elements of a tensor.
#pragma once
#include <memory>
#include <vector>

#include "model/llava_config.h"
#include "model/param_store.h"

namespace stic::model {

// Matrices (rank >= 2: linears, embeddings, patch and position embeddings) take weight decay;
// vectors (norm weights, biases, the class embedding) do not, as in GPT-2 / llm.c practice:
// decaying a norm gain towards 0 fights the normalisation it exists for.
constexpr int64_t kDecayGroup = 0;
constexpr int64_t kNoDecayGroup = 1;

// Raw pointers of one kind (parameters or gradients) shaped like LlavaWeights; null where the
// config has no such tensor. Fused tensors point at their first part (q, gate).
struct VisionLayerPtrs {
  float *ln1W, *ln1B;  // (Dv)
  float *qkvW;         // (3Dv, Dv)
  float *qkvB;         // (3Dv)
  float *outW, *outB;  // (Dv, Dv), (Dv)
  float *ln2W, *ln2B;  // (Dv)
  float *fc1W, *fc1B;  // (Iv, Dv), (Iv)
  float *fc2W, *fc2B;  // (Dv, Iv), (Dv)
};
struct VisionPtrs {
  float* patchW;          // (Dv, 3, p, p)
  float* classEmbed;      // (Dv)
  float* posEmbed;        // (P+1, Dv)
  float *preLnW, *preLnB;  // (Dv)
  std::vector<VisionLayerPtrs> layers;
};
struct ProjectorPtrs {
  float *w1, *b1;  // (D, Dv), (D) or null
  float *w2, *b2;  // (D, D), (D) or null; null for a 'linear' projector
};
struct DecoderLayerPtrs {
  float* attnNorm;         // (D)
  float *qkvW, *qkvB;      // (Nqkv, D), (Nqkv) or null
  float *oW, *oB;          // (D, Hq*hd), (D) or null
  float* mlpNorm;          // (D)
  float *gateUpW, *gateUpB;  // (2F, D), (2F) or null
  float *downW, *downB;    // (D, F), (D) or null
};
struct DecoderPtrs {
  float* embed;  // (V, D)
  std::vector<DecoderLayerPtrs> layers;
  float* norm;    // (D)
  float* lmHead;  // (V, D); == embed when the embeddings are tied
};
struct ModelPtrs {
  VisionPtrs vision;
  ProjectorPtrs projector;
  DecoderPtrs decoder;
};

// The store of every weight of `cfg` (param_store.h), all zero (the caller loads or sets the
// parameters): tensors in llavaTensorSpecs order (the engine's load order), fused tensors adjacent
// in storage, groups by rank.
Result<std::unique_ptr<ParamStore>> createPretrainStore(const LlavaConfig& cfg);
// Structured pointers into the parameters or the gradients of a store from createPretrainStore.
ModelPtrs modelPtrs(const ParamStore& store, const LlavaConfig& cfg, ParamKind kind);

}  // namespace stic::model
