// The fused head's composites (head.cuh): the chunk and vocabulary-block loops of the CPU twin
// (native/cpu/fused_head.cpp), with the GEMMs on a Gemm (cuBLASLt, or the reference kernel) and
// the rest in head.cu's kernels. Host code only: it enqueues, never waits.
// Legend: head.cuh. Workspace, carved in this order with 256-byte alignment:
//   stats[c] (HeadRowStats) | logits[c,b] fp32 | probs or G [c,b] (dt) | rows[c,D] (dt) | acc[c,D] fp32
#include <algorithm>

#include "cuda/cuda_status.h"
#include "cuda/head.cuh"

namespace stic::cuda {
namespace {

size_t align256(size_t x) { return (x + 255) & ~static_cast<size_t>(255); }

int64_t rowsPerChunk(const HeadDims& d) { return std::max<int64_t>(1, std::min(d.chunk, d.T)); }
int64_t vocabPerBlock(const HeadDims& d) { return std::max<int64_t>(1, std::min(d.vocabChunk, d.V)); }

struct Work {
  HeadRowStats* stats;
  float* logits;
  void* probs;
  void* rows;
  float* acc;
};

Work carve(void* work, const HeadDims& d, DType dt) {
  const size_t c = rowsPerChunk(d), b = vocabPerBlock(d), D = d.D, es = dtypeSize(dt);
  auto* p = static_cast<char*>(work);
  Work w;
  w.stats = reinterpret_cast<HeadRowStats*>(p);
  p += align256(c * sizeof(HeadRowStats));
  w.logits = reinterpret_cast<float*>(p);
  p += align256(c * b * sizeof(float));
  w.probs = p;
  p += align256(c * b * es);
  w.rows = p;
  p += align256(c * D * es);
  w.acc = reinterpret_cast<float*>(p);
  return w;
}

const void* rowOf(const void* base, int64_t row, int64_t D, DType dt) {
  return static_cast<const char*>(base) + static_cast<size_t>(row * D) * dtypeSize(dt);
}

Status checkDims(const HeadDims& d, DType dt, const char* op) {
  STIC_CHECK_ARG(d.T >= 0 && d.D >= 1 && d.V >= 1 && d.chunk >= 1 && d.vocabChunk >= 1, "cuda ", op,
                 ": expected T >= 0 and positive D, V, chunk, vocabChunk but received T=", d.T, ", D=", d.D, ", V=", d.V,
                 ", chunk=", d.chunk, ", vocabChunk=", d.vocabChunk);
  STIC_CHECK_ARG(dt == DType::F32 || dt == DType::BF16, "cuda ", op, ": expected F32 or BF16 storage but received ",
                 dtypeName(dt));
  return Status::ok();
}

// logits[c,b] = rows[c,D] @ W[v0:v0+b, D]^T
Status blockLogits(const Gemm& gemm, const Work& w, const void* W, int64_t v0, int64_t c, int64_t b, const HeadDims& d,
                   DType dt, cudaStream_t stream) {
  GemmArgs g;
  g.transB = true;
  g.M = c, g.N = b, g.K = d.D;
  g.A = w.rows, g.lda = d.D;
  g.B = rowOf(W, v0, d.D, dt), g.ldb = d.D;
  g.C = w.logits, g.ldc = b;
  g.ab = dt;
  return gemm.run(g, stream);
}

// acc[c,D] += probs[c,b] @ W[v0:v0+b, D]   (beta 0 when `overwrite`)
Status blockAccumulate(const Gemm& gemm, const Work& w, const void* W, int64_t v0, int64_t c, int64_t b, const HeadDims& d,
                       DType dt, bool overwrite, cudaStream_t stream) {
  GemmArgs g;
  g.M = c, g.N = d.D, g.K = b;
  g.A = w.probs, g.lda = b;
  g.B = rowOf(W, v0, d.D, dt), g.ldb = d.D;
  g.beta = overwrite ? 0.0f : 1.0f;
  g.C = w.acc, g.ldc = d.D;
  g.ab = dt;
  return gemm.run(g, stream);
}

// dW[v0:v0+b, D] (fp32) += G[c,b]^T @ rows[c,D]   (G in w.probs)
Status blockWeightGrad(const Gemm& gemm, const Work& w, float* dW, int64_t v0, int64_t c, int64_t b, const HeadDims& d, DType dt,
                       cudaStream_t stream) {
  GemmArgs g;
  g.transA = true;
  g.M = b, g.N = d.D, g.K = c;
  g.A = w.probs, g.lda = b;
  g.B = w.rows, g.ldb = d.D;
  g.beta = 1.0f;
  g.C = dW + v0 * d.D, g.ldc = d.D;
  g.ab = dt;
  return gemm.run(g, stream);
}

}  // namespace

size_t fused_head_workspace_bytes(const HeadDims& d, DType dt) {
  const size_t c = rowsPerChunk(d), b = vocabPerBlock(d), D = d.D, es = dtypeSize(dt);
  return align256(c * sizeof(HeadRowStats)) + align256(c * b * sizeof(float)) + align256(c * b * es) + align256(c * D * es) +
         align256(c * D * sizeof(float));
}

Status fused_head_forward(float* logp, int64_t* gathered, float* lse, void* jac, void* work, const void* h, const void* W,
                          const int64_t* targets, const int64_t* active, int64_t nActive, const HeadDims& d,
                          GatherMode mode, DType dt, const Gemm& gemm, cudaStream_t stream) {
  STIC_RETURN_IF_ERROR(checkDims(d, dt, "fused_head_forward"));
  STIC_RETURN_IF_ERROR(head_init_outputs(logp, gathered, lse, jac, targets, d.T, d.D, dt, stream));
  const Work w = carve(work, d, dt);
  const int64_t chunk = rowsPerChunk(d), B = vocabPerBlock(d);
  for (int64_t start = 0; start < nActive; start += chunk) {
    const int64_t c = std::min(chunk, nActive - start);
    const int64_t* index = active + start;
    STIC_RETURN_IF_ERROR(head_gather_rows(w.rows, h, index, c, d.D, dt, stream));
    STIC_RETURN_IF_ERROR(head_init_stats(w.stats, c, stream));
    for (int64_t v0 = 0; v0 < d.V; v0 += B) {
      const int64_t b = std::min(B, d.V - v0);
      STIC_RETURN_IF_ERROR(blockLogits(gemm, w, W, v0, c, b, d, dt, stream));
      STIC_RETURN_IF_ERROR(head_fold_block(w.stats, jac ? w.probs : nullptr, w.logits, v0, b, index, targets, c, mode, dt, stream));
      if (!jac) continue;
      // U *= exp(m_old - m_new) before this block's exp(x - m_new) W_blk is added.
      STIC_RETURN_IF_ERROR(head_rescale_rows(w.acc, w.stats, c, d.D, v0 == 0, stream));
      STIC_RETURN_IF_ERROR(blockAccumulate(gemm, w, W, v0, c, b, d, dt, false, stream));
    }
    STIC_RETURN_IF_ERROR(head_finish(logp, gathered, lse, jac, w.stats, w.acc, W, index, targets, c, d.D, mode, dt, stream));
  }
  return Status::ok();
}

Status fused_head_backward(void* dh, float* dW, void* work, const float* dlogp, const void* h, const void* W, const int64_t* gathered,
                           const float* lse, const int64_t* active, int64_t nActive, const HeadDims& d, DType dt,
                           const Gemm& gemm, cudaStream_t stream) {
  STIC_RETURN_IF_ERROR(checkDims(d, dt, "fused_head_backward"));
  STIC_RETURN_IF_ERROR(cudaStatus(cudaMemsetAsync(dh, 0, static_cast<size_t>(d.T * d.D) * dtypeSize(dt), stream),
                                  "fused_head_backward (zero dh)"));
  const Work w = carve(work, d, dt);
  const int64_t chunk = rowsPerChunk(d), B = vocabPerBlock(d);
  for (int64_t start = 0; start < nActive; start += chunk) {
    const int64_t c = std::min(chunk, nActive - start);
    const int64_t* index = active + start;
    STIC_RETURN_IF_ERROR(head_gather_rows(w.rows, h, index, c, d.D, dt, stream));
    for (int64_t v0 = 0; v0 < d.V; v0 += B) {
      const int64_t b = std::min(B, d.V - v0);
      STIC_RETURN_IF_ERROR(blockLogits(gemm, w, W, v0, c, b, d, dt, stream));
      STIC_RETURN_IF_ERROR(head_softmax_grad_block(w.probs, w.logits, v0, b, index, lse, gathered, dlogp, c, dt, stream));
      if (dW) STIC_RETURN_IF_ERROR(blockWeightGrad(gemm, w, dW, v0, c, b, d, dt, stream));
      STIC_RETURN_IF_ERROR(blockAccumulate(gemm, w, W, v0, c, b, d, dt, v0 == 0, stream));  // dH (+)= G W_blk
    }
    STIC_RETURN_IF_ERROR(head_scatter_rows(dh, w.acc, index, c, d.D, dt, stream));
  }
  return Status::ok();
}

}  // namespace stic::cuda
