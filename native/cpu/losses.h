// Preference (DPO family) and supervised losses on per-sequence / per-token log-probs, with their
// gradients w.r.t. those log-probs — which the fused head (fused_head.h) turns into d hidden.
// All scalar math in double: these are O(pairs) or O(tokens), never the cost of a step.
// Legend: B pairs (or sequences), T tokens, h = (logp_w - logp_l) - (ref_w - ref_l) the log-ratio
// margin of a pair, w chosen (preferred), l rejected.
//
// One DPO step's head, with these pieces (rows of the chosen and rejected responses, targets -100
// elsewhere; seq[t] = the sequence of row t, chosen b and rejected B + b):
//   fused_head_forward(logp, gathered, lse, jac, ...)   label mode; for top-alt, one call per mode on
//                                                       views of the chosen and of the rejected rows
//   sum_by_sequence(sums, logp, seq)                    policy log-probs per response
//   dpo_loss(dChosen, dRejected, {sums[0..B), sums[B..2B), ref...})
//   sequence_grad_to_tokens(dlogp, [dChosen, dRejected], seq)
//   fused_head_backward_saved(dh, dlogp, jac)           (or fused_head_backward without jac)
// SFT is the same with sft_loss giving dlogp directly.
#pragma once
#include <cstdint>

#include "core/ops_train.h"  // DpoOptions, DpoBatch, DpoMetrics

namespace stic::train {

// The value and the derivative dL/dh of one pair's preference loss.
struct PairLoss {
  double loss;
  double dh;
};

// DPO (Rafailov et al. 2023, "Direct Preference Optimization", eq. 7): -log sigmoid(beta h).
PairLoss dpo_sigmoid(double h, double beta);
// Hinge (SLiC-HF, Zhao et al. 2023; RSO, Liu et al. 2023 "Statistical Rejection Sampling..."):
// max(0, 1 - beta h).
PairLoss dpo_hinge(double h, double beta);
// IPO (Azar et al. 2023, "A General Theoretical Paradigm to Understand Learning from Human
// Preferences", eq. 17): (h - 1/(2 beta))^2, beta playing the role of tau. The paper (and TRL)
// feed it length-averaged log-probs: pass those in when that is what you want.
PairLoss dpo_ipo(double h, double beta);

// L = (1/meanOver) sum_b [ loss(h_b) - alpha * n(logp_w,b) ], n = identity (Sum) or / tokens (Mean).
// dChosen[B], dRejected[B] = dL / d policy logp (overwritten).
DpoMetrics dpo_loss(float* dChosen, float* dRejected, const DpoBatch& batch, const DpoOptions& opt);

// Supervised fine-tuning: mean token cross-entropy over the tokens with targets[t] >= 0 (assistant
// tokens; -100 elsewhere, as HF labels): L = -(1/N) sum_t logp_t, N = the count of such tokens here,
// or meanOver when > 0 (the whole accumulated batch's count). dlogp[T] = dL/dlogp (overwritten).
// Returns L.
double sft_loss(float* dlogp, const float* logp, const int64_t* targets, int64_t T, double meanOver);

// sums[B] = sum of logp[t] over the tokens with seq[t] == b (seq[t] < 0: not a response token),
// accumulated in double in token order.
void sum_by_sequence(float* sums, const float* logp, const int64_t* seq, int64_t T, int64_t B);
// dlogp[t] = dseq[seq[t]] (0 where seq[t] < 0): a sequence's gradient reaches each of its tokens.
void sequence_grad_to_tokens(float* dlogp, const float* dseq, const int64_t* seq, int64_t T);

}  // namespace stic::train
