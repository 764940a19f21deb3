// The image side of full-parameter pretraining: the CLIP tower (up to the selected hidden state)
// and the projector, forward with every activation the backward needs saved, and the backward
// into every weight (patch, class and position embeddings included). The forward is the
// inference tower's (vision_tower.h: embedPatches, encoderLayerForward) with a saved activation
// set per layer; the backward lives here.
// Saved per used layer: LN1 output, q|k|v, the attention output and its log-sum-exp, the
// mid-layer residual, LN2 output, fc1's output and its activation; layer inputs are the hidden
// states. Norms are not recomputed: the tower is small next to the decoder.
// Legend: N images, Tv = P+1 tokens per image (CLS first), Rv = N*Tv rows, Dv vision hidden,
// H heads, Iv vision MLP, Lu layers used (the selected hidden state's index), Ti feature rows per
// image, M = N*Ti, D decoder hidden, S image side.
#pragma once
#include <vector>

#include "core/arena.h"
#include "model/llava_config.h"
#include "model/pretrain_params.h"
#include "model/vision_tower.h"

namespace stic::model {

struct VisionActs {
  int64_t N = 0;
  float* embIn;                        // (Rv, Dv) [cls; patches] + positions: the pre-layernorm input
  std::vector<float*> hidden;          // Lu + 1 of (Rv, Dv): [0] after pre-layernorm, [l+1] after layer l
  std::vector<VisionLayerActs> layers;  // Lu
  float* sel;       // (M, Dv) the selected rows (CLS dropped for 'default')
  float* h1;        // (M, D) linear_1 output (mlp2x only)
  float* a1;        // (M, D) its activation (mlp2x only)
  float* features;  // (M, D) image features for the decoder
  // backward scratch
  float *dx, *dtmp, *dxn, *dattn;  // (Rv, Dv)
  float* dqkv;                     // (Rv, 3Dv)
  float* dh;                       // (Rv, Iv)
  float* dsel;                     // (M, Dv)
  float* dh1;                      // (M, D)
};

void planVisionActs(ArenaPlan& plan, const LlavaConfig& cfg, int64_t N, bool backward);
Result<VisionActs> allocVisionActs(Arena& arena, const LlavaConfig& cfg, int64_t N, bool backward);

// acts.features (M, D) from pixels (N, 3, S, S), saving the activations.
void visionTrainForward(const Ops& ops, VisionActs& acts, const float* pixels, const ModelPtrs& w, const LlavaConfig& cfg);

// Accumulates d loss / d every vision and projector weight into g from dfeatures (M, D).
// Overwrites the backward scratch of acts.
void visionTrainBackward(const Ops& ops, VisionActs& acts, const float* dfeatures, const float* pixels, const ModelPtrs& w,
                         const ModelPtrs& g, const LlavaConfig& cfg);

}  // namespace stic::model
