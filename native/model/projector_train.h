// The image side of a training step: the frozen CLIP tower run once per distinct image of the
// call (its selected rows are shared by chosen, rejected, policy and reference), and the projector
// forward with saved activations and its backward when the projector is trainable.
// Legend: N images, Ti feature rows per image, M = N*Ti rows, Dv vision hidden, D decoder hidden.
#pragma once
#include "core/arena.h"
#include "model/llava.h"
#include "model/train_params.h"

namespace stic::model {

// sel (M, Dv): the selected vision hidden rows of pixels (N, 3, S, S) (the projector's input).
// Allocates its own scratch for a few images at a time.
Status visionSelectedRows(float* sel, const LlavaModel& model, const float* pixels, int64_t N);

// Projector weights as raw pointers: the model's frozen ones or a trainer's trainable copy.
struct ProjectorView {
  const float* w1 = nullptr;  // (D, Dv)
  const float* b1 = nullptr;  // (D) or null
  const float* w2 = nullptr;  // (D, D) or null for a linear projector
  const float* b2 = nullptr;  // (D) or null
};
ProjectorView projectorView(const ProjectorWeights& w);
ProjectorView projectorView(const ProjectorParams& p);

// features (M, D) = linear_2(act(linear_1(sel))). h1, a1 (M, D): the pre-activation and the
// activation, kept for the backward (unused for a linear projector; may be the same scratch when
// no backward follows).
void projectorTrainForward(float* features, float* h1, float* a1, const float* sel, const ProjectorView& w,
                           const LlavaConfig& cfg, int64_t M);

// Accumulates d loss / d (w1, b1, w2, b2) into p's gradients from dfeatures (M, D).
// scratch (M, D) receives the gradient of the activation.
void projectorTrainBackward(const ProjectorParams& p, float* scratch, const float* dfeatures, const float* sel,
                            const float* h1, const float* a1, const LlavaConfig& cfg, int64_t M);

}  // namespace stic::model
