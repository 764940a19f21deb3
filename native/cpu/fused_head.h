// The fused, chunked "linear + log-softmax + gather" head: per-token log-probs of the lm_head's
// softmax and their gradient w.r.t. the hidden states, without ever materialising the [T, V]
// logits (after Liger-Kernel's fused linear cross-entropy; on the CPU with flash-attention's
// online softmax over vocabulary blocks):
//   logits_t = W h_t,  lse_t = log sum_v exp(logits_t[v]),  logp_t = logits_t[j_t] - lse_t
//   d logp_t / d h_t = W[j_t] - softmax(logits_t) @ W
// Rows are taken `chunk` at a time and the vocabulary `vocabChunk` at a time: memory is
// O(chunk x vocabChunk + chunk x D), whatever T and V. The Jacobian's softmax @ W is accumulated
// block by block against a running max (rescaled when the max grows), so one sweep over W gives
// logp and d logp / d h together: two GEMMs' worth of flops, like the naive head, and every block
// of W is packed once per row chunk instead of once per row chunk *and* GEMM shape.
// j_t, the gathered index, is the target (label mode) or, in top-alt mode (the public STIC code's
// rejected log-prob, STIC.md stage 1b), the model's own top-1 token, or its top-2 where the top-1
// equals the target (ties: the lowest index): chosen from the logits, so no gradient flows through
// the choice.
// Rows whose target is negative (prompt, image and padding tokens; -100 in HF labels) are skipped:
// they cost nothing and get logp 0, gathered -1 and a zero gradient.
// Legend: T rows, D hidden, V vocab, c rows of a chunk, b vocabulary entries of a block.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "core/ops_train.h"  // GatherMode, HeadDims

namespace stic::train {

// Scratch bytes of the forward and of the backward, for c = min(chunk, T), b = min(vocabChunk, V):
// c*b logits + 2*c*D packed rows and their gradient (floats), and per row an id and 48 bytes of
// running statistics.
size_t fused_head_workspace_bytes(const HeadDims& d);

// h[T,D] hidden states (after the final norm), W[V,D] lm_head weight, targets[T].
// Outputs: logp[T], gathered[T] (j_t or -1), lse[T] (kept for the backward).
// jac[T,D] or null: when given, also d logp_t / d h_t, so that the backward is a per-row scale
// (fused_head_backward_saved) instead of recomputing the logits: 2 GEMMs in all instead of 3, for
// T*D more floats — the size of h itself.
void fused_head_forward(float* logp, int64_t* gathered, float* lse, float* jac, void* work, const float* h,
                        const void* W, const int64_t* targets, const HeadDims& d, GatherMode mode);

// dh[T,D] = dlogp[t] * (W[j_t] - softmax(logits_t) @ W), OVERWRITTEN (zero rows where gathered < 0
// or dlogp is 0), recomputing the logits block by block from h and the forward's lse.
// dW[V,D] (f32, whatever d.wType) or null: the lm_head weight gradient
// sum_t dlogp[t] (onehot(j_t) - softmax(logits_t))^T h_t, ACCUMULATED (for a trained head; the
// same G blocks as dh, so it costs one more GEMM per block and no scratch).
void fused_head_backward(float* dh, float* dW, void* work, const float* dlogp, const float* h, const void* W,
                         const int64_t* gathered, const float* lse, const HeadDims& d);

// dh[T,D] = dlogp[t] * jac[t,:], OVERWRITTEN (jac from fused_head_forward).
void fused_head_backward_saved(float* dh, const float* dlogp, const float* jac, int64_t T, int64_t D);

// The plain implementation the fused head replaces, for benchmarks: it materialises all [T, V]
// logits (work: naive_head_workspace_bytes) and keeps them from the forward to the backward, as an
// autograd graph would. Label mode, same kernels and threads as the fused path.
size_t naive_head_workspace_bytes(const HeadDims& d);
void naive_head_forward(float* logp, void* work, const float* h, const float* W, const int64_t* targets, const HeadDims& d);
void naive_head_backward(float* dh, void* work, const float* dlogp, const float* W, const int64_t* targets,
                         const HeadDims& d);

}  // namespace stic::train
