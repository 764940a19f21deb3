// The CUDA ops table (ops_table.cuh): the wiring of this folder's kernels into core/ops.h, one
// function per family. Only adaptation here: the stream, the f32 storage type, the workspaces and
// device staging the CUDA kernels take, and GEMM compositions for nn.Linear (its bias is a rank-1
// product with a ones vector, its gradient a product with the ones row). No kernel code.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "cuda/adamw.cuh"
#include "cuda/attention.cuh"
#include "cuda/convert.cuh"
#include "cuda/cuda_status.h"
#include "cuda/head.cuh"
#include "cuda/lora.cuh"
#include "cuda/losses.cuh"
#include "cuda/ops.cuh"
#include "cuda/ops_table.cuh"
#include "cuda/patch_embed.cuh"
#include "cuda/sampling.cuh"

namespace stic::cuda {

// A device buffer that grows to the largest request (freed and reallocated: cudaFree waits for the
// work that used the old one).
struct Scratch {
  void* ptr = nullptr;
  size_t bytes = 0;
  Status reserve(size_t want, const char* what) {
    if (want <= bytes) return Status::ok();
    if (ptr) STIC_RETURN_IF_ERROR(cudaStatus(cudaFree(ptr), what));
    ptr = nullptr;
    bytes = 0;
    STIC_RETURN_IF_ERROR(cudaStatus(cudaMalloc(&ptr, want), what));
    bytes = want;
    return Status::ok();
  }
  ~Scratch() {
    if (ptr) cudaFree(ptr);
  }
};

struct OpsTable::State {
  cudaStream_t stream = nullptr;
  const Gemm* gemm = nullptr;
  Status first;           // the first failure since the last check()
  Scratch work;           // a kernel's workspace (norm / attention backward, patch im2col, norms of AdamW, sampler)
  Scratch ones;           // ones[n] (fp32) for the bias products
  Scratch staging;        // small host-built arrays: head row list, AdamW tensors and blocks, sampler item
  Scratch result;         // device-side results copied back: loss, metrics, norm, token
  int64_t onesCount = 0;

  void keep(const Status& s) {
    if (first.isOk() && !s.isOk()) first = s;
  }
  // ones[0..n) on the device.
  const float* onesOf(int64_t n) {
    if (n <= onesCount) return static_cast<const float*>(ones.ptr);
    keep(ones.reserve(n * sizeof(float), "ops table: ones vector"));
    if (!first.isOk()) return nullptr;
    std::vector<float> host(n, 1.0f);
    keep(cudaStatus(cudaMemcpyAsync(ones.ptr, host.data(), n * sizeof(float), cudaMemcpyHostToDevice, stream),
                    "ops table: ones vector"));
    keep(cudaStatus(cudaStreamSynchronize(stream), "ops table: ones vector"));  // `host` dies here
    onesCount = n;
    return static_cast<const float*>(ones.ptr);
  }
  void* workOf(size_t bytes, const char* what) {
    keep(work.reserve(std::max<size_t>(bytes, 1), what));
    return work.ptr;
  }
  // Copies `bytes` of host data into the staging buffer at `offset` and waits (the host data is temporary).
  void* stage(const void* host, size_t bytes, size_t offset, const char* what) {
    auto* dst = static_cast<char*>(staging.ptr) + offset;
    keep(cudaStatus(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, stream), what));
    keep(cudaStatus(cudaStreamSynchronize(stream), what));
    return dst;
  }
  // Waits for the stream and copies `bytes` of a device result to the host.
  void fetch(void* host, const void* device, size_t bytes, const char* what) {
    keep(cudaStatus(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream), what));
    keep(cudaStatus(cudaStreamSynchronize(stream), what));
  }
  void gemmRun(const GemmArgs& g) { keep(gemm->run(g, stream)); }
  bool requireF32(DType t, const char* op) {
    if (t == DType::F32) return true;
    keep(error(Code::Unsupported, "cuda ", op, ": the weight is ", dtypeName(t),
               " but the CUDA Gemm takes A and B in one dtype and the activations are F32 (gemm.cuh)"));
    return false;
  }
};

namespace {

using State = OpsTable::State;

GemmArgs gemmArgs(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const void* A, int64_t lda,
                  const void* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  GemmArgs g;
  g.transA = transA;
  g.transB = transB;
  g.M = M;
  g.N = N;
  g.K = K;
  g.alpha = alpha;
  g.A = A;
  g.lda = lda;
  g.B = B;
  g.ldb = ldb;
  g.beta = beta;
  g.C = C;
  g.ldc = ldc;
  return g;
}

void wireLinear(Ops& t, State* s) {
  t.linear.sgemm = [s](bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                       const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    s->gemmRun(gemmArgs(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc));
  };
  t.linear.gemm_typed_b = [s](bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                              const void* B, DType bType, int64_t ldb, float beta, float* C, int64_t ldc) {
    if (s->requireF32(bType, "gemm_typed_b")) s->gemmRun(gemmArgs(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc));
  };
  // out[T,N] = inp[T,K] W[N,K]^T, then += ones[T,1] bias[1,N].
  t.linear.linear_forward = [s](float* out, const float* inp, const void* W, DType wType, const float* bias, int64_t T,
                                int64_t K, int64_t N) {
    if (!s->requireF32(wType, "linear_forward")) return;
    s->gemmRun(gemmArgs(false, true, T, N, K, 1.0f, inp, K, W, K, 0.0f, out, N));
    if (bias) s->gemmRun(gemmArgs(false, false, T, N, 1, 1.0f, s->onesOf(T), 1, bias, N, 1.0f, out, N));
  };
  // dinp = dout W; dW += dout^T inp; dbias += ones[1,T] dout.
  t.linear.linear_backward = [s](float* dinp, float* dW, float* dbias, const float* dout, const float* inp, const float* W,
                                 int64_t T, int64_t K, int64_t N) {
    if (dinp) s->gemmRun(gemmArgs(false, false, T, K, N, 1.0f, dout, N, W, K, 0.0f, dinp, K));
    if (dW) s->gemmRun(gemmArgs(true, false, N, K, T, 1.0f, dout, N, inp, K, 1.0f, dW, K));
    if (dbias) s->gemmRun(gemmArgs(false, false, 1, N, T, 1.0f, s->onesOf(T), T, dout, N, 1.0f, dbias, N));
  };
}

void wireNorms(Ops& t, State* s) {
  t.norm.layernorm_forward = [s](float* out, const float* inp, const float* w, const float* b, int64_t T, int64_t C,
                                 float eps) { s->keep(layernorm_forward(out, inp, w, b, T, C, eps, DType::F32, s->stream)); };
  t.norm.rmsnorm_forward = [s](float* out, const float* inp, const float* w, int64_t T, int64_t C, float eps) {
    s->keep(rmsnorm_forward(out, inp, w, T, C, eps, DType::F32, s->stream));
  };
  t.norm.layernorm_backward = [s](float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                                  int64_t T, int64_t C, float eps) {
    void* work = s->workOf(norm_backward_workspace_bytes(T, C), "layernorm_backward workspace");
    s->keep(layernorm_backward(dinp, dw, db, dout, inp, w, T, C, eps, work, DType::F32, s->stream));
  };
  t.norm.rmsnorm_backward = [s](float* dinp, float* dw, const float* dout, const float* inp, const float* w, int64_t T,
                                int64_t C, float eps) {
    void* work = s->workOf(norm_backward_workspace_bytes(T, C), "rmsnorm_backward workspace");
    s->keep(rmsnorm_backward(dinp, dw, dout, inp, w, T, C, eps, work, DType::F32, s->stream));
  };
}

using ForwardKernel = Status (*)(void*, const void*, int64_t, DType, cudaStream_t);
using BackwardKernel = Status (*)(void*, const void*, const void*, int64_t, DType, cudaStream_t);

ElementwiseOps::Forward forwardOf(State* s, ForwardKernel k) {
  return [s, k](float* out, const float* inp, int64_t n) { s->keep(k(out, inp, n, DType::F32, s->stream)); };
}
ElementwiseOps::Backward backwardOf(State* s, BackwardKernel k) {
  return [s, k](float* dinp, const float* dout, const float* inp, int64_t n) {
    s->keep(k(dinp, dout, inp, n, DType::F32, s->stream));
  };
}

void wireElementwise(Ops& t, State* s) {
  t.elementwise.quick_gelu_forward = forwardOf(s, quick_gelu_forward);
  t.elementwise.quick_gelu_backward = backwardOf(s, quick_gelu_backward);
  t.elementwise.gelu_forward = forwardOf(s, gelu_forward);
  t.elementwise.gelu_backward = backwardOf(s, gelu_backward);
  t.elementwise.gelu_tanh_forward = forwardOf(s, gelu_tanh_forward);
  t.elementwise.gelu_tanh_backward = backwardOf(s, gelu_tanh_backward);
  t.elementwise.silu_forward = forwardOf(s, silu_forward);
  t.elementwise.silu_backward = backwardOf(s, silu_backward);
  t.elementwise.relu_forward = forwardOf(s, relu_forward);
  t.elementwise.relu_backward = backwardOf(s, relu_backward);
  t.elementwise.swiglu_forward = [s](float* out, const float* gate, const float* up, int64_t n) {
    s->keep(swiglu_forward(out, gate, up, n, DType::F32, s->stream));
  };
  t.elementwise.swiglu_backward = [s](float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n) {
    s->keep(swiglu_backward(dgate, dup, dout, gate, up, n, DType::F32, s->stream));
  };
  t.elementwise.add_inplace = [s](float* a, const float* b, int64_t n) {
    s->keep(add_inplace(a, b, n, DType::F32, s->stream));
  };
}

void wireMemory(Ops& t, State* s) {
  t.memory.copy = [s](void* dst, const void* src, size_t bytes) { s->keep(copy_bytes(dst, src, bytes, s->stream)); };
  t.memory.fill = [s](float* dst, float value, int64_t n) { s->keep(fill(dst, value, n, s->stream)); };
}

void wireRope(Ops& t, State* s) {
  t.rope.rope_forward = [s](float* x, const int64_t* pos, int64_t T, int64_t H, int64_t hd, int64_t ldx, float theta) {
    s->keep(rope_forward(x, pos, T, H, hd, ldx, theta, DType::F32, s->stream));
  };
  t.rope.rope_backward = [s](float* dx, const int64_t* pos, int64_t T, int64_t H, int64_t hd, int64_t ldx, float theta) {
    s->keep(rope_backward(dx, pos, T, H, hd, ldx, theta, DType::F32, s->stream));
  };
}

// The CPU twin's single-sequence call: T queries after qOffset cached keys, S keys.
AttentionDims attentionDims(int64_t ldo, int64_t ldq, int64_t ldk, int64_t ldv, int64_t T, int64_t S, int64_t Hq,
                            int64_t Hkv, int64_t hd, bool causal, int64_t qOffset, float scale) {
  AttentionDims d;
  d.T = T;
  d.S = S;
  d.qOffset = qOffset;
  d.Hq = Hq;
  d.Hkv = Hkv;
  d.hd = hd;
  d.ldq = ldq;
  d.ldk = ldk;
  d.ldv = ldv;
  d.ldo = ldo;
  d.causal = causal;
  d.scale = scale;
  return d;
}

void wireAttention(Ops& t, State* s) {
  t.attention.attention_forward = [s](float* out, int64_t ldo, const float* q, int64_t ldq, const float* k, int64_t ldk,
                                      const float* v, int64_t ldv, int64_t T, int64_t S, int64_t Hq, int64_t Hkv, int64_t hd,
                                      bool causal, int64_t qOffset, float scale) {
    const AttentionDims d = attentionDims(ldo, ldq, ldk, ldv, T, S, Hq, Hkv, hd, causal, qOffset, scale);
    s->keep(attention_forward(out, nullptr, q, k, v, d, DType::F32, s->stream));
  };
  t.attention.attention_forward_lse = [s](float* out, int64_t ldo, float* lse, const float* q, int64_t ldq, const float* k,
                                          int64_t ldk, const float* v, int64_t ldv, int64_t T, int64_t S, int64_t Hq,
                                          int64_t Hkv, int64_t hd, bool causal, int64_t qOffset, float scale) {
    const AttentionDims d = attentionDims(ldo, ldq, ldk, ldv, T, S, Hq, Hkv, hd, causal, qOffset, scale);
    s->keep(attention_forward(out, lse, q, k, v, d, DType::F32, s->stream));
  };
  t.attention.attention_backward = [s](float* dq, float* dk, float* dv, const float* dout, const float* q, int64_t ldq,
                                       const float* k, int64_t ldk, const float* v, int64_t ldv, const float* out, int64_t ldo,
                                       const float* lse, int64_t T, int64_t S, int64_t Hq, int64_t Hkv, int64_t hd,
                                       bool causal, int64_t qOffset, float scale) {
    AttentionDims d = attentionDims(ldo, ldq, ldk, ldv, T, S, Hq, Hkv, hd, causal, qOffset, scale);
    s->keep(attention_check(d, "attention_backward"));
    void* work = s->workOf(attention_backward_workspace_bytes(d), "attention_backward workspace");
    s->keep(attention_backward(dq, dk, dv, dout, q, k, v, out, lse, work, d, DType::F32, s->stream));
  };
}

void wireEmbedding(Ops& t, State* s) {
  t.embedding.embedding_forward = [s](float* out, const int64_t* ids, const float* table, int64_t T, int64_t C) {
    s->keep(embedding_forward(out, ids, table, T, C, DType::F32, s->stream));
  };
  t.embedding.embedding_backward = [s](float* dtable, const float* dout, const int64_t* ids, int64_t T, int64_t C) {
    s->keep(embedding_backward(dtable, dout, ids, T, C, DType::F32, s->stream));
  };
  t.embedding.patch_embed_forward = [s](float* out, const float* img, const float* weight, int64_t Hs, int64_t Ws, int64_t p,
                                        int64_t D) {
    void* work = s->workOf(patch_embed_workspace_bytes(1, Hs, Ws, p), "patch_embed_forward workspace");
    if (work) s->keep(patch_embed_forward(out, img, weight, Hs, Ws, p, D, work, *s->gemm, s->stream));
  };
  t.embedding.patch_embed_backward = [s](float* dweight, const float* dout, const float* img, int64_t N, int64_t Hs,
                                         int64_t Ws, int64_t p, int64_t D) {
    void* work = s->workOf(patch_embed_workspace_bytes(N, Hs, Ws, p), "patch_embed_backward workspace");
    if (work) s->keep(patch_embed_backward(dweight, dout, img, N, Hs, Ws, p, D, work, *s->gemm, s->stream));
  };
  t.convert.convert = [s](void* dst, DType dstType, const void* src, DType srcType, size_t n) {
    return convert(dst, dstType, src, srcType, n, s->stream);
  };
}

// The rows of `sel` (device, [T]) that are >= 0, increasing, staged on the device: the row list
// the CUDA head composites take (the CPU twin finds the rows itself). Waits for the stream.
// Null when a step failed (kept in s->first).
const int64_t* activeRows(State* s, const int64_t* sel, int64_t T, const char* who, int64_t* count) {
  std::vector<int64_t> host(T), active;
  s->fetch(host.data(), sel, T * sizeof(int64_t), who);
  for (int64_t i = 0; i < T; i++) {
    if (host[i] >= 0) active.push_back(i);
  }
  s->keep(s->staging.reserve(std::max<size_t>(active.size(), 1) * sizeof(int64_t), who));
  if (!s->first.isOk()) return nullptr;
  *count = static_cast<int64_t>(active.size());
  return static_cast<const int64_t*>(s->stage(active.data(), active.size() * sizeof(int64_t), 0, who));
}

void wireHead(Ops& t, State* s) {
  t.head.fused_head_workspace_bytes = [](const train::HeadDims& d) { return fused_head_workspace_bytes(d, DType::F32); };
  t.head.fused_head_forward = [s](float* logp, int64_t* gathered, float* lse, float* jac, void* work, const float* h,
                                  const void* W, const int64_t* targets, const train::HeadDims& d, train::GatherMode mode) {
    if (!s->requireF32(d.wType, "fused_head_forward")) return;
    int64_t n = 0;
    const int64_t* list = activeRows(s, targets, d.T, "fused_head_forward: targets", &n);
    if (!list) return;
    s->keep(fused_head_forward(logp, gathered, lse, jac, work, h, W, targets, list, n, d, mode, DType::F32, *s->gemm, s->stream));
  };
  t.head.fused_head_backward = [s](float* dh, float* dW, void* work, const float* dlogp, const float* h, const void* W,
                                   const int64_t* gathered, const float* lse, const train::HeadDims& d) {
    if (!s->requireF32(d.wType, "fused_head_backward")) return;
    int64_t n = 0;
    const int64_t* list = activeRows(s, gathered, d.T, "fused_head_backward: gathered", &n);
    if (!list) return;
    s->keep(fused_head_backward(dh, dW, work, dlogp, h, W, gathered, lse, list, n, d, DType::F32, *s->gemm, s->stream));
  };
  t.head.fused_head_backward_saved = [s](float* dh, const float* dlogp, const float* jac, int64_t T, int64_t D) {
    s->keep(fused_head_backward_saved(dh, dlogp, jac, T, D, DType::F32, s->stream));
  };
  t.head.log_softmax_gather = [s](float* logp, const float* logits, const int64_t* targets, int64_t T, int64_t V) {
    s->keep(log_softmax_gather(logp, logits, targets, T, V, DType::F32, s->stream));
  };
}

void wireLosses(Ops& t, State* s) {
  t.loss.dpo_loss = [s](float* dChosen, float* dRejected, const train::DpoBatch& batch, const train::DpoOptions& opt) {
    train::DpoMetrics metrics;
    s->keep(s->result.reserve(sizeof(train::DpoMetrics), "dpo_loss: metrics"));
    if (!s->first.isOk()) return metrics;
    s->keep(dpo_loss(dChosen, dRejected, static_cast<train::DpoMetrics*>(s->result.ptr), batch, opt, s->stream));
    s->fetch(&metrics, s->result.ptr, sizeof(metrics), "dpo_loss: metrics");
    return metrics;
  };
  t.loss.sft_loss = [s](float* dlogp, const float* logp, const int64_t* targets, int64_t T, double meanOver) {
    double loss = 0;
    s->keep(s->result.reserve(sizeof(double), "sft_loss: loss"));
    if (!s->first.isOk()) return loss;
    s->keep(sft_loss(dlogp, static_cast<double*>(s->result.ptr), logp, targets, T, meanOver, s->stream));
    s->fetch(&loss, s->result.ptr, sizeof(loss), "sft_loss: loss");
    return loss;
  };
  t.loss.sum_by_sequence = [s](float* sums, const float* logp, const int64_t* seq, int64_t T, int64_t B) {
    s->keep(sum_by_sequence(sums, logp, seq, T, B, s->stream));
  };
  t.loss.sequence_grad_to_tokens = [s](float* dlogp, const float* dseq, const int64_t* seq, int64_t T) {
    s->keep(sequence_grad_to_tokens(dlogp, dseq, seq, T, s->stream));
  };
}

// The caller's workspace (lora_workspace_floats(d) floats, the CPU twin's) is the composite's.
void wireLora(Ops& t, State* s) {
  t.lora.lora_delta_forward = [s](float* out, int64_t ldo, float* xa, float* work, const float* x, const float* A,
                                  const float* B, const train::LoraDims& d, const train::DropoutKey& key) {
    s->keep(lora_delta_forward(out, ldo, xa, work, x, A, B, d, key, *s->gemm, s->stream));
  };
  t.lora.lora_delta_backward = [s](float* dx, float* dA, float* dB, float* work, const float* dout, int64_t ldd,
                                   const float* x, const float* xa, const float* A, const float* B, const train::LoraDims& d,
                                   const train::DropoutKey& key) {
    s->keep(lora_delta_backward(dx, dA, dB, work, dout, ldd, x, xa, A, B, d, key, *s->gemm, s->stream));
  };
}

// The slots as the CUDA AdamW's device tensor and block lists, staged (tensors first, then blocks).
struct AdamWLists {
  const AdamWTensor* tensors = nullptr;
  const AdamWBlock* blocks = nullptr;
  int64_t nb = 0;
};

AdamWLists stageAdamW(State* s, const train::ParamSlot* slots, int64_t count) {
  std::vector<AdamWTensor> tensors(count);
  for (int64_t i = 0; i < count; i++) {
    tensors[i] = {slots[i].param, slots[i].grad, slots[i].m, slots[i].v, nullptr, slots[i].n,
                  static_cast<int32_t>(slots[i].group)};
  }
  const std::vector<AdamWBlock> blocks = adamw_blocks(tensors.data(), count);
  const size_t tBytes = (tensors.size() * sizeof(AdamWTensor) + 255) / 256 * 256, bBytes = blocks.size() * sizeof(AdamWBlock);
  AdamWLists out;
  s->keep(s->staging.reserve(tBytes + std::max<size_t>(bBytes, 1), "AdamW tensor list"));
  if (!s->first.isOk()) return out;
  out.tensors = static_cast<const AdamWTensor*>(s->stage(tensors.data(), tensors.size() * sizeof(AdamWTensor), 0, "AdamW tensors"));
  out.blocks = static_cast<const AdamWBlock*>(s->stage(blocks.data(), bBytes, tBytes, "AdamW blocks"));
  out.nb = static_cast<int64_t>(blocks.size());
  return out;
}

void wireOptimizer(Ops& t, State* s) {
  t.optimizer.adamw_step = [s](const train::ParamSlot* slots, int64_t count, const train::ParamGroup* groups,
                               int64_t groupCount, const train::AdamWHyper& hyper, int64_t step) -> Status {
    auto c = adamw_constants(groups, groupCount, hyper, step);
    if (!c.isOk()) return c.status();
    const AdamWLists l = stageAdamW(s, slots, count);
    STIC_RETURN_IF_ERROR(s->first);
    return adamw_step(l.tensors, l.blocks, l.nb, c.value(), nullptr, s->stream);
  };
  t.optimizer.grad_global_norm = [s](const train::ParamSlot* slots, int64_t count) {
    double norm = 0;
    const AdamWLists l = stageAdamW(s, slots, count);
    s->keep(s->result.reserve(sizeof(double), "grad_global_norm"));
    void* work = s->workOf(grad_norm_workspace_bytes(l.nb), "grad_global_norm workspace");
    if (!s->first.isOk()) return norm;
    s->keep(grad_global_norm(static_cast<double*>(s->result.ptr), work, l.tensors, l.blocks, l.nb, s->stream));
    s->fetch(&norm, s->result.ptr, sizeof(norm), "grad_global_norm");
    return norm;
  };
  t.optimizer.clip_grad_norm = [s](const train::ParamSlot* slots, int64_t count, double maxNorm) {
    double norm = 0;
    const AdamWLists l = stageAdamW(s, slots, count);
    s->keep(s->result.reserve(sizeof(double) + sizeof(int32_t), "clip_grad_norm"));
    void* work = s->workOf(grad_norm_workspace_bytes(l.nb), "clip_grad_norm workspace");
    if (!s->first.isOk()) return norm;
    auto* dNorm = static_cast<double*>(s->result.ptr);
    auto* skip = reinterpret_cast<int32_t*>(dNorm + 1);
    s->keep(clip_grad_norm(dNorm, skip, work, l.tensors, l.blocks, l.nb, maxNorm, s->stream));
    s->fetch(&norm, dNorm, sizeof(norm), "clip_grad_norm");
    return norm;
  };
}

void wireSampling(Ops& t, State* s) {
  t.sampling.sample_token = [s](const float* logits, int64_t V, const model::SamplingParams& p, uint64_t step,
                                model::SamplerScratch&) -> int64_t {
    const SampleItem item{p.temperature, static_cast<int32_t>(std::clamp<int64_t>(p.topK, -1, INT32_MAX)), p.topP, 0, p.seed,
                          step};
    int32_t token = -1;
    s->keep(s->staging.reserve(sizeof(SampleItem), "sample_token: item"));
    s->keep(s->result.reserve(sizeof(int32_t), "sample_token: token"));
    void* work = s->workOf(sample_tokens_workspace_bytes(1, V), "sample_token workspace");
    if (!s->first.isOk()) return token;
    auto* dItem = static_cast<const SampleItem*>(s->stage(&item, sizeof(item), 0, "sample_token: item"));
    s->keep(sample_tokens(static_cast<int32_t*>(s->result.ptr), logits, V, dItem, 1, V, work, DType::F32, s->stream));
    s->fetch(&token, s->result.ptr, sizeof(token), "sample_token: token");
    return token;
  };
}

}  // namespace

Result<std::unique_ptr<OpsTable>> OpsTable::create(cudaStream_t stream, const Gemm& gemm) {
  std::unique_ptr<OpsTable> table(new OpsTable());
  table->state_ = std::make_unique<State>();
  State* s = table->state_.get();
  s->stream = stream;
  s->gemm = &gemm;
  Ops& t = table->ops_;
  t.backend = "cuda";
  wireLinear(t, s);
  wireNorms(t, s);
  wireElementwise(t, s);
  wireMemory(t, s);
  wireRope(t, s);
  wireAttention(t, s);
  wireEmbedding(t, s);
  wireHead(t, s);
  wireLosses(t, s);
  wireLora(t, s);
  wireOptimizer(t, s);
  wireSampling(t, s);
  t.firstError = [s]() {
    Status out;  // ok: the table starts clean again
    std::swap(out, s->first);
    return out;
  };
  return Result<std::unique_ptr<OpsTable>>(std::move(table));
}

OpsTable::~OpsTable() = default;

}  // namespace stic::cuda
