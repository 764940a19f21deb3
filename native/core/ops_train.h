// The training operations of the ops table (core/ops.h) and their argument types: the fused
// linear + log-softmax head, the DPO-family and SFT losses, the LoRA low-rank path, AdamW with
// global-norm clipping. Semantics are those of the CPU kernels they are wired to (native/cpu/
// fused_head.h, losses.h, lora.h, adamw.h: read them for the exact contracts). The types live here,
// with the interface, so the model needs no kernel header; native/cpu and native/cuda include them.
// Legend: T rows, D hidden, V vocab, B pairs (or sequences), K/N LoRA input/output features, r rank,
// n elements of a parameter tensor.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

#include "core/counter_rng.h"
#include "core/dtype.h"
#include "core/status.h"

namespace stic::train {

// ---- fused head (cpu/fused_head.h) ----------------------------------------------------------------
// The gathered index j_t of a row: its target (Label) or the model's own top-1 token, top-2 where
// the top-1 equals the target (TopAlt, STIC's rejected log-prob).
enum class GatherMode { Label, TopAlt };

struct HeadDims {
  int64_t T = 0, D = 0, V = 0;
  int64_t chunk = 1024;      // rows per chunk (large: W is packed once per chunk)
  int64_t vocabChunk = 2048;  // vocabulary entries per block: the [chunk, vocabChunk] logits
  DType wType = DType::F32;   // W's stored dtype (F32, BF16 or F16; widened to f32 as it is read)
};

// ---- losses (cpu/losses.h) --------------------------------------------------------------------------
enum class PreferenceLoss { Sigmoid, Hinge, Ipo };
enum class SftNorm { Sum, Mean };

struct DpoOptions {
  PreferenceLoss loss = PreferenceLoss::Sigmoid;
  double beta = 0.1;               // STIC stage 1 (STIC.md)
  double sftWeight = 1.0 / 1024;   // alpha of the regulariser -alpha * logp_w (STIC's official code)
  SftNorm sftNorm = SftNorm::Sum;  // regularise the summed chosen log-prob, or its per-token mean
};

// One batch of pairs: summed response log-probs of the policy and of the reference.
struct DpoBatch {
  int64_t B = 0;
  const float* policyChosen = nullptr;    // [B]
  const float* policyRejected = nullptr;  // [B]
  const float* refChosen = nullptr;       // [B]
  const float* refRejected = nullptr;     // [B]
  const int64_t* chosenTokens = nullptr;  // [B] response token counts (read for SftNorm::Mean)
  // The loss is the mean over this many pairs: B for one batch; the global batch size when a step
  // accumulates several micro-batches, so their gradients add up to the full batch's.
  double meanOver = 0;  // 0: B
};

// Batch metrics, each averaged over the B pairs of the call (TRL's names in comments).
struct DpoMetrics {
  double loss = 0;            // preference loss + regulariser, mean over meanOver pairs
  double rewardChosen = 0;    // rewards/chosen: beta (logp_w - ref_w)
  double rewardRejected = 0;  // rewards/rejected: beta (logp_l - ref_l)
  double rewardAccuracy = 0;  // rewards/accuracies: fraction with reward chosen > rejected
  double rewardMargin = 0;    // rewards/margins: chosen - rejected
  double logpChosen = 0;      // logps/chosen (policy)
  double logpRejected = 0;    // logps/rejected (policy)
};

// ---- LoRA (cpu/lora.h) -----------------------------------------------------------------------------
struct LoraDims {
  int64_t T = 0, K = 0, N = 0, r = 0;
  float scale = 1.0f;    // alpha / r
  float dropout = 0.0f;  // probability of zeroing an input element, in [0, 1)
};

// ---- AdamW (cpu/adamw.h) ---------------------------------------------------------------------------
struct AdamWHyper {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // torch's defaults
};

struct ParamGroup {
  double lr = 1e-3;
  double weightDecay = 0.01;  // torch.optim.AdamW's default
};

// One trainable tensor: parameter, gradient and the two moment buffers, all [n], and its group.
struct ParamSlot {
  float* param = nullptr;
  float* grad = nullptr;
  float* m = nullptr;  // exp_avg, zero before the first step
  float* v = nullptr;  // exp_avg_sq, zero before the first step
  int64_t n = 0;
  int64_t group = 0;
};

}  // namespace stic::train

namespace stic {

struct HeadOps {
  // Scratch bytes of fused_head_forward for these dims.
  std::function<size_t(const train::HeadDims& d)> fused_head_workspace_bytes;
  // h[T,D] (after the final norm), W[V,D] (d.wType), targets[T] (< 0: skipped) ->
  // logp[T], gathered[T] (j_t or -1), lse[T]; jac[T,D] = d logp_t / d h_t when not null.
  std::function<void(float* logp, int64_t* gathered, float* lse, float* jac, void* work, const float* h, const void* W,
                     const int64_t* targets, const train::HeadDims& d, train::GatherMode mode)>
      fused_head_forward;
  // The backward from the forward's gathered[T] and lse[T], recomputing the logits: dh[T,D]
  // OVERWRITTEN; dW[V,D] (f32) = d loss / d W ACCUMULATED when not null (a trained lm_head).
  std::function<void(float* dh, float* dW, void* work, const float* dlogp, const float* h, const void* W,
                     const int64_t* gathered, const float* lse, const train::HeadDims& d)>
      fused_head_backward;
  // dh[T,D] = dlogp[t] * jac[t,:], OVERWRITTEN.
  std::function<void(float* dh, const float* dlogp, const float* jac, int64_t T, int64_t D)> fused_head_backward_saved;
  // The unfused head's gather: logp[T] = log_softmax(logits[T,V])[t, targets[t]].
  std::function<void(float* logp, const float* logits, const int64_t* targets, int64_t T, int64_t V)> log_softmax_gather;
};

struct LossOps {
  // dChosen[B], dRejected[B] = dL / d policy logp (overwritten); returns the batch metrics.
  std::function<train::DpoMetrics(float* dChosen, float* dRejected, const train::DpoBatch& batch,
                                  const train::DpoOptions& opt)>
      dpo_loss;
  // Mean token cross-entropy over targets[t] >= 0 (over meanOver when > 0); dlogp[T] overwritten.
  std::function<double(float* dlogp, const float* logp, const int64_t* targets, int64_t T, double meanOver)> sft_loss;
  // sums[B] = sum of logp[t] over seq[t] == b, in token order.
  std::function<void(float* sums, const float* logp, const int64_t* seq, int64_t T, int64_t B)> sum_by_sequence;
  // dlogp[t] = dseq[seq[t]] (0 where seq[t] < 0).
  std::function<void(float* dlogp, const float* dseq, const int64_t* seq, int64_t T)> sequence_grad_to_tokens;
};

struct LoraOps {
  // out[T,N] (row stride ldo) += scale (dropout(x) A^T) B^T; xa[T,r] written for the backward.
  // x[T,K], A[r,K], B[N,r]; work: cpu/lora.h's lora_workspace_floats(d) floats.
  std::function<void(float* out, int64_t ldo, float* xa, float* work, const float* x, const float* A, const float* B,
                     const train::LoraDims& d, const train::DropoutKey& key)>
      lora_delta_forward;
  // dA[r,K], dB[N,r] ACCUMULATED (null: frozen); dx[T,K] ACCUMULATED (null: not needed);
  // dout[T,N] row stride ldd; the forward's key redraws the dropout mask.
  std::function<void(float* dx, float* dA, float* dB, float* work, const float* dout, int64_t ldd, const float* x,
                     const float* xa, const float* A, const float* B, const train::LoraDims& d,
                     const train::DropoutKey& key)>
      lora_delta_backward;
};

struct OptimizerOps {
  // One AdamW update of every slot (step: 1 for the first); InvalidArgument before touching anything
  // on a bad group index or step.
  std::function<Status(const train::ParamSlot* slots, int64_t count, const train::ParamGroup* groups, int64_t groupCount,
                       const train::AdamWHyper& hyper, int64_t step)>
      adamw_step;
  // sqrt(sum of every gradient element squared).
  std::function<double(const train::ParamSlot* slots, int64_t count)> grad_global_norm;
  // Scales every gradient by min(1, maxNorm / (norm + 1e-6)); returns the norm before clipping.
  std::function<double(const train::ParamSlot* slots, int64_t count, double maxNorm)> clip_grad_norm;
};

}  // namespace stic
