// The fused, chunked "linear + log-softmax + gather" head on the GPU: the CUDA twin of
// native/cpu/fused_head.h (read it first: same formulas, same gather modes, same skipped rows).
// The two GEMMs per vocabulary block go through the Gemm interface (cuBLASLt in production);
// everything between them is one of the small kernels below, so the [T, V] logits never exist:
// only one [c, b] block of fp32 logits and its [c, b] probabilities (dt) at a time.
//
// One row chunk (c active rows, their indices in `index`) in the forward:
//   head_gather_rows            rows[c,D] = h[index]
//   head_init_stats             running max -inf, sum 0, top-2 empty
//   for each vocabulary block v0 (b entries):
//     GEMM                      logits[c,b] = rows @ W[v0:v0+b]^T                  (fp32 out)
//     head_fold_block           stats <- block (max, sum, label logit, top-2); probs = exp(logits - max)
//     head_rescale_rows         U[c,D] *= exp(old max - new max)   (zero on the first block)
//     GEMM                      U += probs @ W[v0:v0+b]                             (only with jac)
//   head_finish                 logp, gathered, lse; jac = W[j] - U / sum
// The backward recomputes the logits block by block:
//     GEMM                      logits = rows @ W_blk^T
//     head_softmax_grad_block   G = dlogp (onehot(j) - exp(logits - lse))          (dt)
//     GEMM                      dH[c,D] (+)= G @ W_blk
//     GEMM                      dW[v0:v0+b] += G^T @ rows                          (only with dW)
//   head_scatter_rows           dh[index] = dH
// Active rows (targets >= 0) are listed on the host, where the targets come from, and uploaded with
// the batch: chunk sizes are then host values and no step needs a device-to-host copy.
// Legend: T rows, D hidden, V vocab, c rows of a chunk, b vocabulary entries of a block,
// j_t the gathered index.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "cuda/gemm.cuh"
#include "cpu/fused_head.h"

namespace stic::cuda {

using train::GatherMode;
using train::HeadDims;

// One row's running statistics over the vocabulary blocks folded so far (device memory).
struct HeadRowStats {
  double sum;        // sum of exp(logit - max)
  float max;         // running max
  float rescale;     // exp(previous max - max) of the last block (0 on the first)
  float labelLogit;  // logits[target]
  float v1, v2;      // the two largest logits (top-alt mode)
  int32_t i1, i2;    // their indices (-1: none yet; lowest index on ties)
  int32_t pad;
};

// ---- pieces -----------------------------------------------------------------------------------
// rows[c,D] (dt) = h[index[i], :] (dt).
Status head_gather_rows(void* rows, const void* h, const int64_t* index, int64_t c, int64_t D, DType dt, cudaStream_t stream);
Status head_init_stats(HeadRowStats* stats, int64_t c, cudaStream_t stream);
// Folds logits[c,b] (fp32, vocabulary offset v0) into stats; probs[c,b] (dt) = exp(logits - new max)
// when probs != null. targets[T] indexed through index[c].
Status head_fold_block(HeadRowStats* stats, void* probs, const float* logits, int64_t v0, int64_t b, const int64_t* index,
                       const int64_t* targets, int64_t c, GatherMode mode, DType dt, cudaStream_t stream);
// acc[c,D] (fp32) *= stats[i].rescale, or = 0 when first.
Status head_rescale_rows(float* acc, const HeadRowStats* stats, int64_t c, int64_t D, bool first, cudaStream_t stream);
// Every row t: logp 0, gathered -1, lse 0, and jac[t] = 0 where targets[t] < 0 (active rows are
// overwritten by head_finish): the CPU twin's outputs for skipped rows.
Status head_init_outputs(float* logp, int64_t* gathered, float* lse, void* jac, const int64_t* targets, int64_t T, int64_t D,
                         DType dt, cudaStream_t stream);
// logp, gathered, lse of the chunk's rows; jac[t,D] (dt) = W[j_t] - acc[i] / sum when jac != null.
Status head_finish(float* logp, int64_t* gathered, float* lse, void* jac, const HeadRowStats* stats, const float* acc,
                   const void* W, const int64_t* index, const int64_t* targets, int64_t c, int64_t D, GatherMode mode,
                   DType dt, cudaStream_t stream);
// grad[c,b] (dt) = dlogp[t] (onehot(gathered[t] - v0) - exp(logits - lse[t])), t = index[i].
Status head_softmax_grad_block(void* grad, const float* logits, int64_t v0, int64_t b, const int64_t* index,
                               const float* lse, const int64_t* gathered, const float* dlogp, int64_t c, DType dt,
                               cudaStream_t stream);
// dh[index[i], :] (dt) = acc[i, :] (fp32).
Status head_scatter_rows(void* dh, const float* acc, const int64_t* index, int64_t c, int64_t D, DType dt, cudaStream_t stream);
// dh[T,D] (dt) = dlogp[t] * jac[t,:] (dt), OVERWRITTEN.
Status fused_head_backward_saved(void* dh, const float* dlogp, const void* jac, int64_t T, int64_t D, DType dt,
                                 cudaStream_t stream);

// ---- composites (fused_head.cu) -----------------------------------------------------------------
// Workspace of the composites for c = min(chunk, T), b = min(vocabChunk, V).
size_t fused_head_workspace_bytes(const HeadDims& d, DType dt);

// The CPU twin's fused_head_forward. h[T,D], W[V,D] (dt); targets[T] (int64, device);
// active[nActive] (device): the rows with targets >= 0, increasing. Outputs logp[T], gathered[T],
// lse[T] (fp32 / int64), jac[T,D] (dt) or null.
Status fused_head_forward(float* logp, int64_t* gathered, float* lse, void* jac, void* work, const void* h, const void* W,
                          const int64_t* targets, const int64_t* active, int64_t nActive, const HeadDims& d,
                          GatherMode mode, DType dt, const Gemm& gemm, cudaStream_t stream);
// The CPU twin's fused_head_backward: dh[T,D] (dt) overwritten, rows not in `active` zero;
// dW[V,D] (fp32) += G^T rows block by block when not null (a trained lm_head).
Status fused_head_backward(void* dh, float* dW, void* work, const float* dlogp, const void* h, const void* W, const int64_t* gathered,
                           const float* lse, const int64_t* active, int64_t nActive, const HeadDims& d, DType dt,
                           const Gemm& gemm, cudaStream_t stream);

}  // namespace stic::cuda
