// AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization") with exactly
// torch.optim.AdamW's arithmetic (amsgrad off, maximize off), fp32 parameters and states:
//   p <- p - lr wd p
//   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
//   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// Parameter groups carry their own lr and weight decay (LoRA vs projector). Global-norm gradient
// clipping as torch.nn.utils.clip_grad_norm_. Work is split into fixed blocks of elements and every
// reduction sums the blocks in order, so results are identical for any thread count.
// Legend: n elements of one parameter tensor.
#pragma once
#include <cstdint>

#include "core/ops_train.h"  // AdamWHyper, ParamGroup, ParamSlot
#include "core/status.h"

namespace stic::train {

// One update of every slot. step: this update's number, 1 for the first (bias correction).
// Fails (InvalidArgument) on a group index out of range or step < 1, before touching anything.
Status adamw_step(const ParamSlot* slots, int64_t count, const ParamGroup* groups, int64_t groupCount,
                  const AdamWHyper& hyper, int64_t step);

// sqrt(sum of every gradient element squared), accumulated in double.
double grad_global_norm(const ParamSlot* slots, int64_t count);

// torch.nn.utils.clip_grad_norm_: scales every gradient by min(1, maxNorm / (norm + 1e-6)) and
// returns the norm before clipping. A non-finite norm leaves the gradients untouched (the caller
// decides to skip the step) where torch would multiply them by NaN.
double clip_grad_norm(const ParamSlot* slots, int64_t count, double maxNorm);

}  // namespace stic::train
