// The image side of a training step: the frozen CLIP tower run once per distinct image of the
// call (its selected rows are shared by chosen, rejected, policy and reference); the projector
// itself, forward and backward, is model/projector.h.
// Legend: N images, Ti feature rows per image, M = N*Ti rows, Dv vision hidden, D decoder hidden.
#pragma once
#include "core/arena.h"
#include "model/llava.h"
#include "model/projector.h"
#include "model/train_params.h"

namespace stic::model {

// sel (M, Dv): the selected vision hidden rows of pixels (N, 3, S, S) (the projector's input).
// Allocates its own scratch for a few images at a time.
Status visionSelectedRows(float* sel, const LlavaModel& model, const float* pixels, int64_t N);

// A trainer's projector weights (its trainable copy).
ProjectorView projectorView(const ProjectorParams& p);

// projectorBackward into p's gradients (frozen ones: none); no input gradient (the tower is frozen).
void projectorTrainBackward(const Ops& ops, const ProjectorParams& p, float* scratch, const float* dfeatures, const float* sel,
                            const float* h1, const float* a1, const LlavaConfig& cfg, int64_t M);

}  // namespace stic::model
