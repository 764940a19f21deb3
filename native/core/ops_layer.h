// The layer operations of the ops table (core/ops.h): products, norms, elementwise ops, rotary
// embedding, attention, embeddings, buffer copies and fills, and dtype conversion, each with its
// backward beside it.
// Semantics are those of the CPU kernels they are wired to (native/cpu/ops.h, ops_backward.h,
// patch_embed.h, convert.h: read them for the exact contracts), in short:
//   - argument order (after llm.c): outputs, inputs, weights, sizes;
//   - parameter gradients (dweight, dbias, dtable) ACCUMULATE, activation gradients (dinp, dq...)
//     are OVERWRITTEN unless an entry says otherwise; a null parameter gradient means frozen;
//   - activations and gradients are f32; a weight read as stored carries its dtype (wType, bType:
//     F32, BF16 or F16), so bf16/f16 checkpoints are used without a widened copy.
// Legend: T tokens (rows), C channels, K inner dim, N output features, M/N/K matrix sizes, V vocab,
// Hq/Hkv query/key-value heads, hd head dim, S key length, n elements, p patch side, Hs/Ws image
// side, P patches, D hidden.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

#include "core/dtype.h"
#include "core/status.h"

namespace stic {

struct LinearOps {
  // C[M,N] = alpha op(A)[M,K] op(B)[K,N] + beta C; op = transpose when trans*. A [M,K] (or [K,M])
  // row stride lda; likewise B, C. Every matrix f32.
  std::function<void(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                     const float* B, int64_t ldb, float beta, float* C, int64_t ldc)>
      sgemm;
  // The same with B in bType (a weight as stored), widened to f32 as it is read.
  std::function<void(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                     const void* B, DType bType, int64_t ldb, float beta, float* C, int64_t ldc)>
      gemm_typed_b;
  // out[T,N] = inp[T,K] @ weight[N,K]^T + bias[N] (nn.Linear; weight in wType, bias f32 or null).
  std::function<void(float* out, const float* inp, const void* weight, DType wType, const float* bias, int64_t T, int64_t K,
                     int64_t N)>
      linear_forward;
  // dinp[T,K] = dout[T,N] @ weight[N,K] (null: not needed); dweight[N,K] += dout^T inp;
  // dbias[N] += sum_t dout (null: frozen / no bias).
  std::function<void(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight,
                     int64_t T, int64_t K, int64_t N)>
      linear_backward;
};

struct NormOps {
  // out[T,C] = (inp - mean) rstd * weight[C] + bias[C] (biased variance, eps inside the sqrt).
  std::function<void(float* out, const float* inp, const float* weight, const float* bias, int64_t T, int64_t C, float eps)>
      layernorm_forward;
  // dinp[T,C] (may alias dout); dweight[C], dbias[C] accumulated (null: frozen).
  std::function<void(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight,
                     int64_t T, int64_t C, float eps)>
      layernorm_backward;
  // out[T,C] = inp rsqrt(mean(inp^2) + eps) * weight[C] (Llama RMSNorm).
  std::function<void(float* out, const float* inp, const float* weight, int64_t T, int64_t C, float eps)> rmsnorm_forward;
  // dinp[T,C] (may alias dout); dweight[C] accumulated (null: frozen).
  std::function<void(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight, int64_t T,
                     int64_t C, float eps)>
      rmsnorm_backward;
};

// Elementwise over n values: forwards out[n] = f(inp[n]) (out may alias inp); backwards
// dinp[n] = dout[n] f'(inp[n]) (dinp may alias dout, not inp).
struct ElementwiseOps {
  using Forward = std::function<void(float* out, const float* inp, int64_t n)>;
  using Backward = std::function<void(float* dinp, const float* dout, const float* inp, int64_t n)>;
  Forward quick_gelu_forward;  // x sigmoid(1.702 x)
  Backward quick_gelu_backward;
  Forward gelu_forward;  // exact: 0.5 x (1 + erf(x / sqrt 2))
  Backward gelu_backward;
  Forward gelu_tanh_forward;  // tanh approximation
  Backward gelu_tanh_backward;
  Forward silu_forward;  // x sigmoid(x)
  Backward silu_backward;
  Forward relu_forward;  // max(x, 0)
  Backward relu_backward;  // dout where x > 0, else 0
  // out[n] = silu(gate[n]) * up[n] (out may alias gate).
  std::function<void(float* out, const float* gate, const float* up, int64_t n)> swiglu_forward;
  // dgate[n], dup[n] overwritten (each may alias dout).
  std::function<void(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n)>
      swiglu_backward;
  // a[n] += b[n]
  std::function<void(float* a, const float* b, int64_t n)> add_inplace;
};

struct RopeOps {
  // In place on x[T,H,hd] (token stride ldx), positions[T]: HF "default" rope, rotate_half pairs.
  std::function<void(float* x, const int64_t* positions, int64_t T, int64_t H, int64_t hd, int64_t ldx, float theta)>
      rope_forward;
  // In place: dx holds d(rotated) on entry, d(unrotated) on return.
  std::function<void(float* dx, const int64_t* positions, int64_t T, int64_t H, int64_t hd, int64_t ldx, float theta)>
      rope_backward;
};

struct AttentionOps {
  // out[T,Hq,hd] (stride ldo) = softmax(scale q k^T) v; q[T,Hq,hd] (stride ldq), k/v[S,Hkv,hd]
  // (strides ldk/ldv); query head h reads KV head h / (Hq/Hkv). causal: query t sees keys
  // [0, qOffset + t].
  std::function<void(float* out, int64_t ldo, const float* q, int64_t ldq, const float* k, int64_t ldk, const float* v,
                      int64_t ldv, int64_t T, int64_t S, int64_t Hq, int64_t Hkv, int64_t hd, bool causal, int64_t qOffset,
                      float scale)>
      attention_forward;
  // The same, also writing lse[Hq,T] (each query row's log-sum-exp) for the backward.
  std::function<void(float* out, int64_t ldo, float* lse, const float* q, int64_t ldq, const float* k, int64_t ldk,
                     const float* v, int64_t ldv, int64_t T, int64_t S, int64_t Hq, int64_t Hkv, int64_t hd, bool causal,
                     int64_t qOffset, float scale)>
      attention_forward_lse;
  // dq[T,Hq,hd] OVERWRITTEN; dk, dv[S,Hkv,hd] ACCUMULATED (keys shared by several query sets);
  // each gradient has its forward twin's stride. out, lse: the forward's.
  std::function<void(float* dq, float* dk, float* dv, const float* dout, const float* q, int64_t ldq, const float* k,
                     int64_t ldk, const float* v, int64_t ldv, const float* out, int64_t ldo, const float* lse, int64_t T,
                     int64_t S, int64_t Hq, int64_t Hkv, int64_t hd, bool causal, int64_t qOffset, float scale)>
      attention_backward;
};

struct EmbeddingOps {
  // out[T,C] = table[ids[t], :] (ids validated by the caller).
  std::function<void(float* out, const int64_t* ids, const float* table, int64_t T, int64_t C)> embedding_forward;
  // dtable[V,C] += scatter-add of dout[T,C] rows, in token order.
  std::function<void(float* dtable, const float* dout, const int64_t* ids, int64_t T, int64_t C)> embedding_backward;
  // CLIP patch embedding: img[3,Hs,Ws], weight[D,3,p,p] -> out[P,D] (conv, kernel = stride = p).
  std::function<void(float* out, const float* img, const float* weight, int64_t Hs, int64_t Ws, int64_t p, int64_t D)>
      patch_embed_forward;
  // dweight[D,3,p,p] += over N images: dout[N,P,D], img[N,3,Hs,Ws].
  std::function<void(float* dweight, const float* dout, const float* img, int64_t N, int64_t Hs, int64_t Ws, int64_t p,
                     int64_t D)>
      patch_embed_backward;
};

// The model's copies and fills of its own buffers, so that a device backend runs them in order
// with its kernels (on the CPU: memcpy, fill).
struct MemoryOps {
  // dst[bytes] = src[bytes] (no overlap). Either side may be host memory or this backend's (the
  // CUDA table lets the runtime infer the direction); a host source may be released on return.
  std::function<void(void* dst, const void* src, size_t bytes)> copy;
  // dst[n] = value.
  std::function<void(float* dst, float value, int64_t n)> fill;
};

struct ConvertOps {
  // dst[n] (dstType) = src[n] (srcType), round-to-nearest-even; integer <-> float is refused.
  std::function<Status(void* dst, DType dstType, const void* src, DType srcType, size_t n)> convert;
};

}  // namespace stic
