// The fused chunked linear + log-softmax + gather head on the CPU (see fused_head.h), and the naive
// materialise-all-logits twin it is benchmarked against. Legend: T rows, D hidden, V vocab, c rows
// of a chunk, b entries of a vocabulary block, j_t the gathered index, g_t = d loss / d logp_t,
// m_t / s_t the running max and sum of exp(logit - m_t) of row t, U_t = sum_v exp(logit_v - m_t) W[v].
#include "cpu/fused_head.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "cpu/ops.h"
#include "cpu/vec_math.h"

namespace stic::train {
namespace {

using cpu::rowMax;  // cpu/vec_math.h
using cpu::rowSumExp;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// One row's running statistics over the vocabulary blocks seen so far.
struct RowStats {
  double sum;        // s_t, relative to max
  float max;         // m_t
  float rescale;     // exp(previous m_t - m_t) of the last block: how much U_t shrinks
  float labelLogit;  // logits_t[target]
  float v1, v2;      // the two largest logits (top-alt)
  int32_t pad;
  int64_t i1, i2;  // their indices (lowest index on ties)
};
static_assert(sizeof(RowStats) == 48, "fused_head.h documents 48 bytes of statistics per row");

// The workspace, carved: row ids and statistics first (8-byte aligned), then the floats.
struct Work {
  int64_t* index;   // [c]    the rows of h in this chunk
  RowStats* stats;  // [c]
  float* rows;      // [c, D] those rows of h, packed
  float* acc;       // [c, D] U_t (forward) or d loss / d h_t (backward)
  float* logits;    // [c, b] one vocabulary block of logits, then exp or d loss / d logits
};

int64_t rowsPerChunk(const HeadDims& d) { return std::max<int64_t>(1, std::min(d.chunk, d.T)); }
int64_t vocabPerBlock(const HeadDims& d) { return std::max<int64_t>(1, std::min(d.vocabChunk, d.V)); }

Work carve(void* work, const HeadDims& d) {
  const int64_t c = rowsPerChunk(d);
  auto* index = static_cast<int64_t*>(work);
  auto* stats = reinterpret_cast<RowStats*>(index + c);
  auto* f = reinterpret_cast<float*>(stats + c);
  return {index, stats, f, f + c * d.D, f + 2 * c * d.D};
}

// Collects in index[] the next (up to chunk) active rows at or after `from`: sel[t] >= 0 and, when
// g is given, g[t] != 0. Returns how many; `from` moves past the last one examined.
int64_t nextChunk(int64_t* index, int64_t& from, const int64_t* sel, const float* g, const HeadDims& d) {
  const int64_t chunk = rowsPerChunk(d);
  int64_t c = 0;
  for (; from < d.T && c < chunk; from++) {
    if (sel[from] >= 0 && (!g || g[from] != 0.0f)) index[c++] = from;
  }
  return c;
}

void gatherRows(float* dst, const float* src, const int64_t* index, int64_t c, int64_t D) {
#pragma omp parallel for schedule(static) if (c * D > (1 << 16))
  for (int64_t i = 0; i < c; i++) std::memcpy(dst + i * D, src + index[i] * D, D * sizeof(float));
}

// Top-2 insertion over one block (values x[0..b) at vocabulary offset v0), strict '>' so that the
// lowest index wins ties: blocks and entries are visited in increasing index order.
void trackTop2(RowStats& st, const float* x, int64_t b, int64_t v0) {
  for (int64_t i = 0; i < b; i++) {
    const float v = x[i];
    if (v > st.v1) {
      st.v2 = st.v1, st.i2 = st.i1;
      st.v1 = v, st.i1 = v0 + i;
    } else if (v > st.v2) {
      st.v2 = v, st.i2 = v0 + i;
    }
  }
}

// Folds one block of logits x[0..b) (vocabulary offset v0) into row t's statistics; with keepExp,
// x becomes exp(x - new max), ready for the U_t update.
void foldBlock(RowStats& st, float* x, int64_t b, int64_t v0, int64_t target, GatherMode mode, bool keepExp) {
  const float bm = rowMax(x, b);
  if (target >= v0 && target < v0 + b) st.labelLogit = x[target - v0];
  if (mode == GatherMode::TopAlt && (bm > st.v2 || st.i2 < 0)) trackTop2(st, x, b, v0);
  const float m = std::max(st.max, bm);
  st.rescale = st.max == kNegInf ? 0.0f : std::exp(st.max - m);
  st.sum = st.sum * st.rescale + rowSumExp(keepExp ? x : nullptr, x, b, m);
  st.max = m;
}

// The gathered index of a row once every block is folded, and its logit.
int64_t gatheredIndex(const RowStats& st, int64_t target, GatherMode mode, float* logit) {
  if (mode == GatherMode::Label || st.i1 < 0) {
    *logit = st.labelLogit;
    return target;
  }
  const bool alt = st.i1 == target && st.i2 >= 0;
  *logit = alt ? st.v2 : st.v1;
  return alt ? st.i2 : st.i1;
}

// Row v of W [V, D] in its stored dtype.
const void* wRow(const void* W, int64_t v, const HeadDims& d) {
  return static_cast<const char*>(W) + static_cast<size_t>(v * d.D) * dtypeSize(d.wType);
}

// Element k of a W row, widened to f32.
float wAt(const void* row, int64_t k, DType t) {
  if (t == DType::BF16) return bf16ToF32(static_cast<const uint16_t*>(row)[k]);
  if (t == DType::F16) return f16ToF32(static_cast<const uint16_t*>(row)[k]);
  return static_cast<const float*>(row)[k];
}

// Forward of one chunk of c rows (packed in w.rows); writes logp, gathered, lse and, when jac is
// given, d logp / d h of each row.
void forwardChunk(const Work& w, int64_t c, float* logp, int64_t* gathered, float* lse, float* jac, const void* W,
                  const int64_t* targets, const HeadDims& d, GatherMode mode) {
  const int64_t D = d.D, V = d.V, B = vocabPerBlock(d);
  for (int64_t i = 0; i < c; i++) w.stats[i] = {0.0, kNegInf, 0.0f, 0.0f, kNegInf, kNegInf, 0, -1, -1};
  for (int64_t v0 = 0; v0 < V; v0 += B) {
    const int64_t b = std::min(B, V - v0);
    cpu::gemm_typed_b(false, true, c, b, D, 1.0f, w.rows, D, wRow(W, v0, d), d.wType, D, 0.0f, w.logits, b);  // [c,b] = rows W_blk^T
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < c; i++) {
      foldBlock(w.stats[i], w.logits + i * b, b, v0, targets[w.index[i]], mode, jac != nullptr);
      if (jac) {  // U_t *= exp(m_old - m_new) before this block's exp(x - m_new) W_blk is added
        float* u = w.acc + i * D;
        const float r = w.stats[i].rescale;
        for (int64_t k = 0; k < D; k++) u[k] = v0 == 0 ? 0.0f : u[k] * r;
      }
    }
    if (jac) cpu::gemm_typed_b(false, false, c, D, b, 1.0f, w.logits, b, wRow(W, v0, d), d.wType, D, 1.0f, w.acc, D);  // U += E W_blk
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < c; i++) {
    const int64_t t = w.index[i];
    const RowStats& st = w.stats[i];
    float logit = 0.0f;
    const int64_t j = gatheredIndex(st, targets[t], mode, &logit);
    lse[t] = st.max + static_cast<float>(std::log(st.sum));
    logp[t] = logit - lse[t];
    gathered[t] = j;
    if (!jac) continue;
    // d logp_t / d h_t = W[j] - softmax_t W = W[j] - U_t / s_t
    const float inv = static_cast<float>(1.0 / st.sum);
    const float* u = w.acc + i * D;
    const void* wj = wRow(W, j, d);
    float* out = jac + t * D;
    for (int64_t k = 0; k < D; k++) out[k] = wAt(wj, k, d.wType) - u[k] * inv;
  }
}

// x[b] := g (onehot(j - v0) - exp(x - lse)): d (g logp_j) / d logits over one vocabulary block.
void softmaxGradBlock(float* x, int64_t b, int64_t v0, float lseT, int64_t j, float g) {
  rowSumExp(x, x, b, lseT);
  for (int64_t v = 0; v < b; v++) x[v] *= -g;
  if (j >= v0 && j < v0 + b) x[j - v0] += g;
}

}  // namespace

size_t fused_head_workspace_bytes(const HeadDims& d) {
  const int64_t c = rowsPerChunk(d), b = vocabPerBlock(d);
  return c * (sizeof(int64_t) + sizeof(RowStats)) + (c * b + 2 * c * d.D) * sizeof(float);
}

void fused_head_forward(float* logp, int64_t* gathered, float* lse, float* jac, void* work, const float* h,
                        const void* W, const int64_t* targets, const HeadDims& d, GatherMode mode) {
  const int64_t D = d.D;
  for (int64_t t = 0; t < d.T; t++) {
    logp[t] = 0.0f;
    lse[t] = 0.0f;
    gathered[t] = -1;
    if (jac && targets[t] < 0) std::memset(jac + t * D, 0, D * sizeof(float));
  }
  const Work w = carve(work, d);
  int64_t from = 0;
  while (const int64_t c = nextChunk(w.index, from, targets, nullptr, d)) {
    gatherRows(w.rows, h, w.index, c, D);
    forwardChunk(w, c, logp, gathered, lse, jac, W, targets, d, mode);
  }
}

void fused_head_backward(float* dh, float* dW, void* work, const float* dlogp, const float* h, const void* W,
                         const int64_t* gathered, const float* lse, const HeadDims& d) {
  const int64_t D = d.D, V = d.V, B = vocabPerBlock(d);
  std::memset(dh, 0, d.T * D * sizeof(float));
  const Work w = carve(work, d);
  int64_t from = 0;
  while (const int64_t c = nextChunk(w.index, from, gathered, dlogp, d)) {
    gatherRows(w.rows, h, w.index, c, D);
    for (int64_t v0 = 0; v0 < V; v0 += B) {
      const int64_t b = std::min(B, V - v0);
      cpu::gemm_typed_b(false, true, c, b, D, 1.0f, w.rows, D, wRow(W, v0, d), d.wType, D, 0.0f, w.logits, b);
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < c; i++) {
        const int64_t t = w.index[i];
        softmaxGradBlock(w.logits + i * b, b, v0, lse[t], gathered[t], dlogp[t]);
      }
      // d W_blk[b,D] += G_blk^T rows
      if (dW) cpu::sgemm(true, false, b, D, c, 1.0f, w.logits, b, w.rows, D, 1.0f, dW + v0 * D, D);
      // d h rows += G_blk W_blk (the first block overwrites)
      cpu::gemm_typed_b(false, false, c, D, b, 1.0f, w.logits, b, wRow(W, v0, d), d.wType, D, v0 == 0 ? 0.0f : 1.0f, w.acc, D);
    }
    for (int64_t i = 0; i < c; i++) std::memcpy(dh + w.index[i] * D, w.acc + i * D, D * sizeof(float));
  }
}

void fused_head_backward_saved(float* dh, const float* dlogp, const float* jac, int64_t T, int64_t D) {
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; t++) {
    const float g = dlogp[t];
    for (int64_t k = 0; k < D; k++) dh[t * D + k] = g * jac[t * D + k];
  }
}

size_t naive_head_workspace_bytes(const HeadDims& d) { return d.T * d.V * sizeof(float); }

void naive_head_forward(float* logp, void* work, const float* h, const float* W, const int64_t* targets, const HeadDims& d) {
  const int64_t V = d.V;
  auto* logits = static_cast<float*>(work);  // [T,V], log-softmax in place: what autograd keeps
  cpu::sgemm(false, true, d.T, V, d.D, 1.0f, h, d.D, W, d.D, 0.0f, logits, V);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < d.T; t++) {
    float* x = logits + t * V;
    const float mx = rowMax(x, V);
    const float l = mx + static_cast<float>(std::log(rowSumExp(nullptr, x, V, mx)));
    for (int64_t v = 0; v < V; v++) x[v] -= l;
    logp[t] = targets[t] >= 0 ? x[targets[t]] : 0.0f;
  }
}

void naive_head_backward(float* dh, void* work, const float* dlogp, const float* W, const int64_t* targets,
                         const HeadDims& d) {
  const int64_t V = d.V;
  auto* logits = static_cast<float*>(work);  // [T,V] log-softmax from the forward, becomes d loss / d logits
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < d.T; t++) {
    float* x = logits + t * V;
    if (targets[t] < 0) {
      std::memset(x, 0, V * sizeof(float));
      continue;
    }
    softmaxGradBlock(x, V, 0, 0.0f, targets[t], dlogp[t]);  // log-softmax values: exp(x - 0) is p
  }
  cpu::sgemm(false, false, d.T, d.D, V, 1.0f, logits, V, W, d.D, 0.0f, dh, d.D);
}

}  // namespace stic::train
