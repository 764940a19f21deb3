// CLIP vision tower (as LLaVA uses it) and the multimodal projector, CPU fp32.
// Legend: N images, S image side, P patches, R = N*(P+1) packed rows, Dv vision hidden, Iv vision
// MLP, Ti feature rows per image (P, or P+1 with the CLS row), D decoder hidden.
#pragma once
#include <vector>

#include "core/arena.h"
#include "model/llava_config.h"
#include "model/llava_weights.h"

namespace stic::model {

// Scratch bytes visionForward needs for N images (hidden states and output not included).
void planVision(ArenaPlan& plan, const VisionConfig& cfg, int64_t N);

// Runs the tower on pixels (N, 3, S, S) (already normalised) up to hidden state `lastIndex`
// (0 = embeddings after pre-layernorm, numLayers = last layer) and leaves that state in
// `state` (R, Dv). When `hidden` is given, hidden state k is copied to (*hidden)[k] (N, P+1, Dv),
// for k = 0..lastIndex. Only the layers needed are computed.
Status visionForward(float* state, std::vector<float*>* hidden, const float* pixels, const VisionWeights& w,
                     const VisionConfig& cfg, int64_t N, int64_t lastIndex, Arena& scratch);

// Image features: the selected rows of state (R, Dv) through the projector -> out (N*Ti, D).
// `scratch` must hold planProjector's bytes.
void planProjector(ArenaPlan& plan, const LlavaConfig& cfg, int64_t N);
Status projectImageFeatures(float* out, const float* state, const ProjectorWeights& w, const LlavaConfig& cfg, int64_t N,
                            Arena& scratch);

}  // namespace stic::model
