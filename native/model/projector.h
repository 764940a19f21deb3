// The LLaVA projector, written once for inference (vision_tower.cpp), the LoRA trainer
// (projector_train.cpp, trainer.cpp) and the toy pretrainer (pretrain_vision.cpp): the selection of
// the feature rows from the tower's hidden state, the forward, and the backward.
//   sel = select(state)   ('default' drops each image's CLS row, 'full' keeps it)
//   features = linear_2(act(linear_1(sel)))   (mlp2x_gelu), or linear_1(sel) ('linear')
// Legend: N images, T tower rows per image (CLS + patches), Ti feature rows per image, M = N*Ti,
// Dv vision hidden, D decoder hidden.
#pragma once
#include <cstdint>

#include "core/ops.h"
#include "model/llava_weights.h"

namespace stic::model {

// Projector weights as raw float32 pointers (the model's, a trainer's trainable copy, the pretrainer's).
struct ProjectorView {
  const float* w1 = nullptr;  // (D, Dv)
  const float* b1 = nullptr;  // (D) or null
  const float* w2 = nullptr;  // (D, D), null for a linear projector
  const float* b2 = nullptr;  // (D) or null
};

ProjectorView projectorView(const ProjectorWeights& w);

// Where the backward accumulates each weight's gradient; null: that weight is not trained.
struct ProjectorGrads {
  float* w1 = nullptr;
  float* b1 = nullptr;
  float* w2 = nullptr;
  float* b2 = nullptr;
};

// sel (M, Dv) = the feature rows of state (N*T, Dv).
void selectFeatureRows(float* sel, const float* state, const VisionConfig& v, int64_t N);
// Its backward: dstate (N*T, Dv) = dsel (M, Dv) on the selected rows, 0 on the others.
void scatterFeatureRows(float* dstate, const float* dsel, const VisionConfig& v, int64_t N);

// features (M, D) from sel (M, Dv). h1, a1 (M, D): linear_1's output and its activation, kept for
// the backward (unused by a linear projector; the same scratch when no backward follows).
void projectorForward(const Ops& ops, float* features, float* h1, float* a1, const float* sel, const ProjectorView& w,
                      const LlavaConfig& cfg, int64_t M);

// From dfeatures (M, D): accumulates the gradients g names, and writes dsel (M, Dv) unless null.
// scratch (M, D) receives the gradient of the activation (mlp2x only).
void projectorBackward(const Ops& ops, float* dsel, const ProjectorGrads& g, float* scratch, const float* dfeatures,
                       const float* sel, const float* h1,
                       const float* a1, const ProjectorView& w, const LlavaConfig& cfg, int64_t M);

}  // namespace stic::model
