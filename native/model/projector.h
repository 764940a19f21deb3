// The LLaVA projector, written once for inference (llava.cpp), the LoRA trainer (trainer.cpp) and
// the full-parameter trainer (trainer.cpp again): the selection of the feature rows from the tower's hidden
// state, the forward, and the backward, over one activation struct planned and carved here.
//   sel = select(state)   ('default' drops each image's CLS row, 'full' keeps it)
//   features = linear_2(act(linear_1(sel)))   (mlp2x_gelu), or linear_1(sel) ('linear')
// Legend: N images, Tv tower rows per image (CLS + patches), Ti feature rows per image, M = N*Ti,
// Dv vision hidden, D decoder hidden.
#pragma once
#include <cstdint>

#include "core/arena.h"
#include "core/ops.h"
#include "model/llava_weights.h"

namespace stic::model {

struct ProjectorParams;  // train_params.h: a LoRA trainer's trainable copy
struct ProjectorPtrs;    // model_ptrs.h: the pretrainer's parameters or gradients

// Projector weights as raw float32 pointers (the model's, a trainer's trainable copy, the pretrainer's).
struct ProjectorView {
  const float* w1 = nullptr;  // (D, Dv)
  const float* b1 = nullptr;  // (D) or null
  const float* w2 = nullptr;  // (D, D), null for a linear projector
  const float* b2 = nullptr;  // (D) or null
};

ProjectorView projectorView(const ProjectorWeights& w);
ProjectorView projectorView(const ProjectorParams& p);
ProjectorView projectorView(const ProjectorPtrs& p);

// Where the backward accumulates each weight's gradient; null: that weight is not trained.
struct ProjectorGrads {
  float* w1 = nullptr;
  float* b1 = nullptr;
  float* w2 = nullptr;
  float* b2 = nullptr;
};

ProjectorGrads projectorGrads(const ProjectorParams& p);  // frozen tensors: null
ProjectorGrads projectorGrads(const ProjectorPtrs& p);

enum class ProjectorPass : uint8_t {
  Infer,     // no backward follows: sel and h1 (a1 = h1); the features are the caller's
  Save,      // sel, h1, a1 kept for a backward, and the features
  Backward,  // Save, plus dsel and the backward's scratch
};

struct ProjectorActs {
  float* sel = nullptr;       // (M, Dv) the selected tower rows (the input)
  float* h1 = nullptr;        // (M, D) linear_1 output (mlp2x only)
  float* a1 = nullptr;        // (M, D) its activation (mlp2x only); may be h1 (applied in place)
  float* features = nullptr;  // (M, D) the output (Save, Backward)
  float* dsel = nullptr;      // (M, Dv) d loss / d sel, or null: not wanted (a frozen tower)
  float* dh1 = nullptr;       // (M, D) the backward's scratch: d loss / d a1, then d loss / d h1
};

// One description of the buffers, for a plan (sizes) or a carve (pointers from the arena it sized).
void planProjectorActs(ArenaPlan& plan, const LlavaConfig& cfg, int64_t M, ProjectorPass pass);
Result<ProjectorActs> carveProjectorActs(Arena& arena, const LlavaConfig& cfg, int64_t M, ProjectorPass pass);

// sel (M, Dv) = the feature rows of state (N*Tv, Dv).
void selectFeatureRows(const Ops& ops, float* sel, const float* state, const VisionConfig& v, int64_t N);
// Its backward: dstate (N*Tv, Dv) = dsel (M, Dv) on the selected rows, 0 on the others.
void scatterFeatureRows(const Ops& ops, float* dstate, const float* dsel, const VisionConfig& v, int64_t N);

// features (M, D) from a.sel, writing a.h1 and a.a1 (unused by a linear projector).
void projectorForward(const Ops& ops, float* features, const ProjectorActs& a, const ProjectorView& w, const LlavaConfig& cfg,
                      int64_t M);

// From dfeatures (M, D) and a forward's a: accumulates the gradients g names, and writes a.dsel
// unless null. Overwrites a.dh1 (mlp2x).
void projectorBackward(const Ops& ops, const ProjectorActs& a, const ProjectorGrads& g, const float* dfeatures,
                       const ProjectorView& w, const LlavaConfig& cfg, int64_t M);

// Image features out (N*Ti, D) of the tower's state (N*Tv, Dv): selectFeatureRows into a.sel, then
// projectorForward.
void projectImageFeatures(const Ops& ops, float* out, const float* state, const ProjectorActs& a, const ProjectorWeights& w,
                          const LlavaConfig& cfg, int64_t N);

}  // namespace stic::model
