// Raw pointers of one kind (parameters or gradients) into a store that holds every weight of a
// LLaVA model (full_params.h), shaped like LlavaWeights: what the vision tower, the projector and
// the decoder read as f32 weights, and where their backwards accumulate every weight's gradient.
// Null where the config has no such tensor. Fused tensors point at their first part (q, gate):
// the store lays the parts out adjacently, so the pointer covers the whole fused matrix.
// Legend: Dv vision hidden, Iv vision MLP, p patch side, P patches, D decoder hidden, F decoder MLP,
// Nqkv = (Hq + 2 Hkv) hd, V vocab.
#pragma once
#include <vector>

#include "model/llava_config.h"
#include "model/param_store.h"

namespace stic::model {

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
  float* imageNewline;  // (D) or null
};

// Structured pointers into the `kind` data of a store that names the model's tensors by their
// engine names (llavaTensorSpecs); a name the store lacks gives null.
ModelPtrs modelPtrs(const ParamStore& store, const LlavaConfig& cfg, ParamKind kind);

}  // namespace stic::model
