// Flash-style scaled dot-product attention on the GPU, forward and backward: the CUDA twins of
// attention_forward / attention_forward_lse / attention_backward (native/cpu/ops*.h), extended to a
// variable-length batch. Legend: B sequences, T query rows (all sequences, packed), S key rows,
// Hq query heads, Hkv key/value heads (grouped-query: query head h reads kv head h / (Hq / Hkv)),
// hd head dim, T_b / S_b one sequence's query / key count.
//
// Layout: q[T, Hq, hd] (token stride ldq), k/v[S, Hkv, hd] (strides ldk/ldv), out[T, Hq, hd]
// (stride ldo), all (dt) F32 or BF16; lse[Hq, T] fp32 (natural log of the sum of exp of the scaled
// scores of each query row). Gradients use their forward twin's layout and stride.
// Masking: causal query i of sequence b sees keys [0, qOffset_b + i]; bidirectional sees all S_b.
// Every sequence must have S_b >= 1 (a query row with no visible key is undefined, as on the CPU).
//
// Only enqueues work on the stream; no allocation (the backward takes a caller workspace).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace stic::cuda {

struct AttentionDims {
  // Variable-length batch: B sequences packed along the token axis without padding.
  // cuQ == nullptr: one sequence of T queries and S keys with `qOffset` cached keys before the
  // first query (the CPU twin's call; B must be 1).
  int64_t B = 1;
  const int32_t* cuQ = nullptr;       // [B+1] device: first query row of each sequence, cuQ[B] = T
  const int32_t* cuK = nullptr;       // [B+1] device: first key row, cuK[B] = S
  const int32_t* qOffsets = nullptr;  // [B] device: keys cached before each sequence's first query;
                                      // null: S_b - T_b (queries are the last T_b positions)
  int64_t T = 0, S = 0;               // total query / key rows
  int64_t maxT = 0, maxS = 0;         // longest T_b / S_b (grid sizes); 0: T / S
  int64_t qOffset = 0;                // single sequence only
  int64_t Hq = 1, Hkv = 1, hd = 0;    // hd <= kAttentionMaxHeadDim
  int64_t ldq = 0, ldk = 0, ldv = 0, ldo = 0;  // 0: packed (Hq * hd or Hkv * hd)
  bool causal = true;
  float scale = 0.0f;  // 0: 1 / sqrt(hd)
};

constexpr int64_t kAttentionMaxHeadDim = 256;

// Validates the host-side fields (device arrays cannot be read here) and fills the defaults.
Status attention_check(AttentionDims& d, const char* op);

// out, and lse[Hq, T] when lse != null.
Status attention_forward(void* out, float* lse, const void* q, const void* k, const void* v, AttentionDims d, DType dt,
                         cudaStream_t stream);

// Scratch of the backward: delta[Hq, T] = rowsum(dout * out) in fp32.
size_t attention_backward_workspace_bytes(const AttentionDims& d);

// dq OVERWRITTEN; dk, dv ACCUMULATED (+=, summed over the query heads of each kv head and over
// calls: zero them before the first). out and lse are the forward's. dq must not overlap q, k, v.
// Deterministic: dq and dk/dv are computed by separate kernels (one per query tile, one per key
// tile) instead of float atomics, at the price of recomputing the scores twice.
Status attention_backward(void* dq, void* dk, void* dv, const void* dout, const void* q, const void* k, const void* v,
                          const void* out, const float* lse, void* work, AttentionDims d, DType dt, cudaStream_t stream);

}  // namespace stic::cuda
