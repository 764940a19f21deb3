// CUDA twins of native/cpu/ops.h and ops_backward.h: the row-wise and elementwise operations of
// the inference and training engines. Same names, same argument order (outputs, inputs, weights,
// sizes), plus the storage type `dt` of the activation tensors and the stream. Every function only
// enqueues work on `stream` (no host synchronisation, no allocation) and returns the launch status.
//
// Storage: tensors named in a comment as "(dt)" are F32 or BF16 (DType dt); "(fp32)" are always
// float: row statistics, parameter gradients (accumulated in fp32 even for a bf16 model, the
// precision AdamW needs), log-probs. Math is fp32 throughout (common.cuh).
// Accumulation contract as on the CPU: parameter gradients (dweight, dbias, dtable) are ACCUMULATED
// (+=) and null means frozen; activation gradients (dinp, dgate, dup) are OVERWRITTEN.
// Legend: T tokens (rows), C channels, H heads, hd head dim, V vocab rows, n elements.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace stic::cuda {

// ---- norms (norms.cu) ---------------------------------------------------------------------------
// out[T,C] (dt) = LayerNorm(inp[T,C] (dt)) * weight[C] + bias[C] (dt), biased variance, eps inside the sqrt.
Status layernorm_forward(void* out, const void* inp, const void* weight, const void* bias, int64_t T, int64_t C,
                         float eps, DType dt, cudaStream_t stream);
// out[T,C] = inp * rsqrt(mean(inp^2) + eps) * weight   (Llama RMSNorm)
Status rmsnorm_forward(void* out, const void* inp, const void* weight, int64_t T, int64_t C, float eps, DType dt,
                       cudaStream_t stream);
// Fused residual add + norm (one read of each row): res[T,C] += inp[T,C] (stored, rounded to dt),
// then out = norm(res) of the value as stored. inp may be null (norm only, res untouched).
Status add_layernorm_forward(void* out, void* res, const void* inp, const void* weight, const void* bias, int64_t T,
                             int64_t C, float eps, DType dt, cudaStream_t stream);
Status add_rmsnorm_forward(void* out, void* res, const void* inp, const void* weight, int64_t T, int64_t C, float eps,
                           DType dt, cudaStream_t stream);

// Scratch of the norm backwards (fp32 row statistics and per-row-group dweight partials).
size_t norm_backward_workspace_bytes(int64_t T, int64_t C);
// dinp[T,C] (dt, may alias dout) overwritten; dweight[C] (fp32) += sum_t dout inp rstd (null: frozen).
Status rmsnorm_backward(void* dinp, float* dweight, const void* dout, const void* inp, const void* weight, int64_t T,
                        int64_t C, float eps, void* work, DType dt, cudaStream_t stream);
// dinp overwritten; dweight[C], dbias[C] (fp32) accumulated (null: frozen).
Status layernorm_backward(void* dinp, float* dweight, float* dbias, const void* dout, const void* inp, const void* weight,
                          int64_t T, int64_t C, float eps, void* work, DType dt, cudaStream_t stream);

// ---- activations (activations.cu) ---------------------------------------------------------------
// Elementwise over n values (dt); out may alias inp.
Status quick_gelu_forward(void* out, const void* inp, int64_t n, DType dt, cudaStream_t stream);  // x sigmoid(1.702 x)
Status gelu_forward(void* out, const void* inp, int64_t n, DType dt, cudaStream_t stream);        // exact erf GELU
Status gelu_tanh_forward(void* out, const void* inp, int64_t n, DType dt, cudaStream_t stream);   // tanh approximation
Status silu_forward(void* out, const void* inp, int64_t n, DType dt, cudaStream_t stream);        // x sigmoid(x)
Status relu_forward(void* out, const void* inp, int64_t n, DType dt, cudaStream_t stream);        // max(x, 0)
// out[n] = silu(gate[n]) * up[n]; out may alias gate.
Status swiglu_forward(void* out, const void* gate, const void* up, int64_t n, DType dt, cudaStream_t stream);
// a[n] += b[n]
Status add_inplace(void* a, const void* b, int64_t n, DType dt, cudaStream_t stream);

// dinp[n] = dout[n] * f'(inp[n]) (dinp may alias dout, not inp).
Status gelu_backward(void* dinp, const void* dout, const void* inp, int64_t n, DType dt, cudaStream_t stream);
Status gelu_tanh_backward(void* dinp, const void* dout, const void* inp, int64_t n, DType dt, cudaStream_t stream);
Status quick_gelu_backward(void* dinp, const void* dout, const void* inp, int64_t n, DType dt, cudaStream_t stream);
Status silu_backward(void* dinp, const void* dout, const void* inp, int64_t n, DType dt, cudaStream_t stream);
Status relu_backward(void* dinp, const void* dout, const void* inp, int64_t n, DType dt, cudaStream_t stream);
// Forward out = silu(gate) * up: dgate[n], dup[n] overwritten (each may alias dout).
Status swiglu_backward(void* dgate, void* dup, const void* dout, const void* gate, const void* up, int64_t n, DType dt,
                       cudaStream_t stream);

// ---- buffer copies and fills (memory.cu) ---------------------------------------------------------
// dst[bytes] = src[bytes] (no overlap), either side host or device (the runtime infers the direction
// from the unified address space). A pageable host source is staged before this returns, so it may be
// released at once; a host destination is written when the stream reaches the copy.
Status copy_bytes(void* dst, const void* src, size_t bytes, cudaStream_t stream);
// dst[n] (fp32, device) = value.
Status fill(float* dst, float value, int64_t n, cudaStream_t stream);

// ---- rotary embedding (rope.cu) -----------------------------------------------------------------
// In place on x[T,H,hd] (dt, token stride ldx elements), positions[T] (int64, device): HF "default"
// rope with rotate_half pairs (i, i + hd/2), inv_freq = theta^(-2i/hd), angles in fp32 like HF.
Status rope_forward(void* x, const int64_t* positions, int64_t T, int64_t H, int64_t hd, int64_t ldx, float theta,
                    DType dt, cudaStream_t stream);
// In place: dx holds d(rotated) on entry, d(unrotated) on return (the transposed rotation).
Status rope_backward(void* dx, const int64_t* positions, int64_t T, int64_t H, int64_t hd, int64_t ldx, float theta,
                     DType dt, cudaStream_t stream);

// ---- embeddings and the log-softmax gather (embedding.cu) ----------------------------------------
// out[T,C] (dt) = table[ids[t], :] (dt); ids (int64, device) validated by the caller.
Status embedding_forward(void* out, const int64_t* ids, const void* table, int64_t T, int64_t C, DType dt,
                         cudaStream_t stream);
// dtable[V,C] (fp32) += scatter of dout[T,C] (dt) rows, each column summed in token order: the CPU
// twin's exact fp32 result, deterministic without atomics.
Status embedding_backward(float* dtable, const void* dout, const int64_t* ids, int64_t T, int64_t C, DType dt,
                          cudaStream_t stream);
// logp[T] (fp32) = log_softmax(logits[T,V] (dt))[t, targets[t]] (max-subtracted, fp64 sum).
Status log_softmax_gather(float* logp, const void* logits, const int64_t* targets, int64_t T, int64_t V, DType dt,
                          cudaStream_t stream);

}  // namespace stic::cuda
