// Backward twins of the CPU kernels in ops.h (fp32, OpenMP), same names with _backward.
// Argument order (after llm.c): input gradients first (dinp, dweight, dbias), then the upstream
// gradient dout, then the forward inputs and weights, then sizes.
// Accumulation contract, so that gradient accumulation over micro-batches (and over the two
// branches of a shared-prefix pair) needs no extra buffers:
//   - parameter gradients (dweight, dbias, dtable) are ACCUMULATED: dweight += ...;
//   - activation gradients (dinp) are OVERWRITTEN, unless a function says otherwise.
// A null parameter gradient means "frozen": it is neither read nor written (nor computed).
// Every reduction runs in a fixed order that does not depend on the thread count, so results are
// bit-identical across runs and thread settings.
// Legend: T tokens (rows), C channels, K inner dim, N output features, V vocab rows of a table,
// Hq/Hkv query/key-value heads, hd head dim, S key length, n elements.
#pragma once
#include <cstdint>

namespace stic::cpu {

// Forward: out[T,N] = inp[T,K] @ weight[N,K]^T + bias[N].
// dinp[T,K] = dout[T,N] @ weight[N,K] (overwritten; null: not needed, e.g. the first layer).
// dweight[N,K] += dout^T @ inp; dbias[N] += sum_t dout[t,:] (null: frozen / no bias).
void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight,
                     int64_t T, int64_t K, int64_t N);

// Forward: out = inp * rsqrt(mean(inp^2) + eps) * weight (Llama RMSNorm). The per-row rsqrt is
// recomputed here (one pass over the row) instead of being saved by the forward.
// dinp[T,C] overwritten (may alias dout); dweight[C] += sum_t dout * inp * rstd (null: frozen).
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight, int64_t T,
                      int64_t C, float eps);

// Forward: out = (inp - mean) * rstd * weight + bias (biased variance). Mean and rstd recomputed.
// dinp[T,C] overwritten (may alias dout); dweight[C], dbias[C] accumulated (null: frozen).
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, int64_t T, int64_t C, float eps);

// Elementwise: dinp[n] = dout[n] * f'(inp[n]), overwritten; dinp may alias dout (not inp).
void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n);        // exact erf GELU
void gelu_tanh_backward(float* dinp, const float* dout, const float* inp, int64_t n);   // tanh approximation
void quick_gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n);  // x * sigmoid(1.702 x)
void silu_backward(float* dinp, const float* dout, const float* inp, int64_t n);        // x * sigmoid(x)
void relu_backward(float* dinp, const float* dout, const float* inp, int64_t n);        // max(x, 0): dout where x > 0
// Forward: out = silu(gate) * up. dgate[n], dup[n] overwritten; each may alias dout.
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n);

// In place, like the forward: dx[T,H,hd] (row stride ldx) holds d(rotated) on entry and
// d(unrotated) on return — the inverse (transposed) rotation with exactly the forward's angles.
void rope_backward(float* dx, const int64_t* positions, int64_t T, int64_t H, int64_t hd, int64_t ldx, float theta);

// attention_forward (ops.h) that also returns lse[Hq,T], the log-sum-exp of each query row's scaled
// scores, which the backward uses to recompute the softmax flash-style instead of saving [Hq,T,S].
void attention_forward_lse(float* out, int64_t ldo, float* lse, const float* q, int64_t ldq, const float* k, int64_t ldk,
                           const float* v, int64_t ldv, int64_t T, int64_t S, int64_t Hq, int64_t Hkv, int64_t hd,
                           bool causal, int64_t qOffset, float scale);

// Backward of attention_forward_lse. Each gradient has the layout (token stride) of its forward
// twin: dq[T,Hq,hd] stride ldq, dk/dv[S,Hkv,hd] strides ldk/ldv, dout[T,Hq,hd] stride ldo — so dq,
// dk and dv can be views into one fused dQKV buffer laid out like the QKV projection.
// dq is OVERWRITTEN. dk and dv are ACCUMULATED (+=): keys shared by several query sets (a KV cache
// prefix seen by the chosen and the rejected branch) collect the gradient of every set without a
// separate sum; zero them before the first call. dK/dV of a KV head sum over the Hq/Hkv query heads
// that read it. Causal masking and qOffset as in the forward; keys past the last query's reach get
// no gradient. out and lse are the forward's outputs. dq must not overlap q, k or v.
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, int64_t ldq, const float* k,
                        int64_t ldk, const float* v, int64_t ldv, const float* out, int64_t ldo, const float* lse, int64_t T,
                        int64_t S, int64_t Hq, int64_t Hkv, int64_t hd, bool causal, int64_t qOffset, float scale);

// Forward: out[T,C] = table[ids[t], :]. dtable[V,C] += scatter-add of dout rows (deterministic: a
// row that appears several times sums its tokens in token order).
void embedding_backward(float* dtable, const float* dout, const int64_t* ids, int64_t T, int64_t C);

}  // namespace stic::cpu
