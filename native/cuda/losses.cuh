// Device twins of native/cpu/losses.h: the DPO-family and SFT losses on per-sequence / per-token
// log-probs and their gradients, plus the per-sequence sums that feed them. Same structs (DpoBatch
// and DpoOptions, with *device* pointers in the batch), same formulas, scalar math in fp64.
// Results stay on the device (metrics, loss), so a training step never waits for them; the host
// copies them back when it logs. Legend: B pairs (or sequences), T tokens.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/status.h"
#include "cpu/losses.h"

namespace stic::cuda {

// dChosen[B], dRejected[B] (fp32) = dL / d policy logp, overwritten; *metrics (device) written.
// One block: B is the number of pairs of a micro-batch (tens), not of tokens.
Status dpo_loss(float* dChosen, float* dRejected, train::DpoMetrics* metrics, const train::DpoBatch& batch,
                const train::DpoOptions& opt, cudaStream_t stream);

// Mean token cross-entropy over targets[t] >= 0 (or over meanOver when > 0): dlogp[T] overwritten,
// *loss (device fp64) written.
Status sft_loss(float* dlogp, double* loss, const float* logp, const int64_t* targets, int64_t T, double meanOver,
                cudaStream_t stream);

// sums[B] = sum of logp[t] over seq[t] == b, in fp64 (seq < 0: no sequence). One block per sequence.
Status sum_by_sequence(float* sums, const float* logp, const int64_t* seq, int64_t T, int64_t B, cudaStream_t stream);
// dlogp[t] = dseq[seq[t]] (0 where seq[t] < 0).
Status sequence_grad_to_tokens(float* dlogp, const float* dseq, const int64_t* seq, int64_t T, cudaStream_t stream);

}  // namespace stic::cuda
