// CPU kernels (fp32, OpenMP, AVX2/FMA), the reference backend. Same operation names as the CUDA
// twins in native/cuda/. Argument order (after llm.c): outputs, inputs, weights, sizes.
// Layout: row-major, contiguous unless a leading dimension (ld*) says otherwise.
// Legend: T tokens (rows), C channels, K inner dim, N output features, V vocab, H heads (Hq query,
// Hkv key/value), hd head dim, S key length, P patches, p patch side.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace stic::cpu {

// C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C[M,N]. op(X) = X or X^T (transX).
// A is [M,K] (or [K,M] when transA) with row stride lda; likewise B, C.
void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// The same with B stored as f32, bf16 or f16 (bType; half types as uint16 bit patterns): a weight
// kept in its checkpoint dtype, widened to f32 as it is packed or streamed, so every product and
// sum is the f32 one of the widened values.
void gemm_typed_b(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const void* B, DType bType, int64_t ldb, float beta, float* C, int64_t ldc);
// `batch` independent sgemms; matrix i starts at A + i*strideA, B + i*strideB, C + i*strideC.
void sgemm_strided_batched(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                           int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB, float beta,
                           float* C, int64_t ldc, int64_t strideC, int64_t batch);

// The SGEMM register-tile kernels in use: "avx512", "avx2" or "scalar" (the best the CPU supports by
// default); attention's block products use AVX-512 exactly when "avx512" is in force. set_gemm_kernels
// selects one by name so tests and benchmarks can compare them ("" restores the default); it returns
// false when the name is unknown or this CPU cannot run it.
const char* gemm_kernels_name();
bool set_gemm_kernels(const char* name);
bool gemm_kernels_supported(const char* name);

// out[T,N] = inp[T,K] @ weight[N,K]^T + bias[N] (torch nn.Linear layout; bias may be null).
void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int64_t T, int64_t K, int64_t N);
// The same with the weight in its stored dtype (F32, BF16 or F16), see gemm_typed_b.
void linear_forward(float* out, const float* inp, const void* weight, DType wType, const float* bias, int64_t T, int64_t K,
                    int64_t N);

// out[T,C] = LayerNorm(inp[T,C]) * weight[C] + bias[C] (biased variance, eps inside the sqrt).
void layernorm_forward(float* out, const float* inp, const float* weight, const float* bias, int64_t T, int64_t C, float eps);
// out[T,C] = inp[T,C] * rsqrt(mean(inp^2) + eps) * weight[C]   (Llama RMSNorm, computed in fp32).
void rmsnorm_forward(float* out, const float* inp, const float* weight, int64_t T, int64_t C, float eps);

// Elementwise activations over n values; out may alias inp.
void quick_gelu_forward(float* out, const float* inp, int64_t n);  // x * sigmoid(1.702 x)
void gelu_forward(float* out, const float* inp, int64_t n);        // exact: 0.5 x (1 + erf(x / sqrt 2))
void gelu_tanh_forward(float* out, const float* inp, int64_t n);   // tanh approximation
void silu_forward(float* out, const float* inp, int64_t n);        // x * sigmoid(x)
void relu_forward(float* out, const float* inp, int64_t n);        // max(x, 0)
// out[n] = silu(gate[n]) * up[n]  (SwiGLU; out may alias gate)
void swiglu_forward(float* out, const float* gate, const float* up, int64_t n);

// In-place rotary embedding, HF "default" rope with rotate_half pairing (i, i + hd/2):
// x[T, H, hd] with row stride ldx (floats between consecutive tokens), positions[T].
void rope_forward(float* x, const int64_t* positions, int64_t T, int64_t H, int64_t hd, int64_t ldx, float theta);

// Scaled dot-product attention with a numerically stable softmax, fp32 throughout.
// q[T, Hq, hd] (token stride ldq), k/v[S, Hkv, hd] (token stride ldk / ldv), out[T, Hq, hd] (stride ldo).
// Query head h reads key/value head h / (Hq / Hkv) (grouped-query). causal: query t sees keys
// [0, qOffset + t]; qOffset is the number of cached keys before q's first token (0 for a prefill).
void attention_forward(float* out, int64_t ldo, const float* q, int64_t ldq, const float* k, int64_t ldk, const float* v,
                       int64_t ldv, int64_t T, int64_t S, int64_t Hq, int64_t Hkv, int64_t hd, bool causal, int64_t qOffset,
                       float scale);

// out[T, C] = table[ids[t], :]. Ids are validated by the caller.
void embedding_forward(float* out, const int64_t* ids, const float* table, int64_t T, int64_t C);

// logp[T] = log_softmax(logits[T, V])[t, targets[t]] (max-subtracted, fp32 with fp64 sum).
void log_softmax_gather(float* logp, const float* logits, const int64_t* targets, int64_t T, int64_t V);

// a[n] += b[n]
void add_inplace(float* a, const float* b, int64_t n);

// Buffer copies and fills (memory.cpp). dst[bytes] = src[bytes] (no overlap).
void copy_bytes(void* dst, const void* src, size_t bytes);
// dst[n] = value.
void fill(float* dst, float value, int64_t n);

}  // namespace stic::cpu
