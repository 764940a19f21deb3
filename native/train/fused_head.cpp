// The fused chunked linear + log-softmax + gather head on the CPU (see fused_head.h), and the naive
// materialise-all-logits twin it is benchmarked against. Legend: T rows, D hidden, V vocab, c rows
// of a chunk, j_t the gathered index of row t, g_t = d loss / d logp_t.
#include "train/fused_head.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "cpu/ops.h"
#include "train/vec_math.h"

namespace stic::train {
namespace {

// The workspace, carved: the row ids first (8-byte aligned), then the floats.
struct Work {
  int64_t* index;  // [c]    the rows of h in this chunk
  float* rows;     // [c, D] those rows of h, packed
  float* drows;    // [c, D] their gradient (or Jacobian) rows
  float* logits;   // [c, V] logits, then softmax, then d loss / d logits
};

Work carve(void* work, const HeadDims& d) {
  auto* index = static_cast<int64_t*>(work);
  auto* f = reinterpret_cast<float*>(index + d.chunk);
  return {index, f, f + d.chunk * d.D, f + 2 * d.chunk * d.D};
}

// Collects in index[] the next (up to chunk) active rows at or after `from`: sel[t] >= 0 and, when
// g is given, g[t] != 0. Returns how many; `from` moves past the last one examined.
int64_t nextChunk(int64_t* index, int64_t& from, const int64_t* sel, const float* g, const HeadDims& d) {
  int64_t c = 0;
  for (; from < d.T && c < d.chunk; from++) {
    if (sel[from] >= 0 && (!g || g[from] != 0.0f)) index[c++] = from;
  }
  return c;
}

void gatherRows(float* dst, const float* src, const int64_t* index, int64_t c, int64_t D) {
  for (int64_t i = 0; i < c; i++) std::memcpy(dst + i * D, src + index[i] * D, D * sizeof(float));
}
void scatterRows(float* dst, const float* src, const int64_t* index, int64_t c, int64_t D) {
  for (int64_t i = 0; i < c; i++) std::memcpy(dst + index[i] * D, src + i * D, D * sizeof(float));
}

// The first i != skip with x[i] == v, or -1.
int64_t firstIndexOf(const float* x, int64_t n, float v, int64_t skip) {
  for (int64_t i = 0; i < n; i++) {
    if (x[i] == v && i != skip) return i;
  }
  return -1;
}

// Top-alt's index: the top-1 token, or the top-2 when the top-1 is the target (ties: lowest index).
int64_t topAlternative(float* x, int64_t V, float mx, int64_t target) {
  const int64_t top1 = firstIndexOf(x, V, mx, -1);
  if (top1 < 0) return target;  // no finite max (NaN logits): keep the label, logp shows the NaN
  if (top1 != target || V < 2) return top1;
  const float saved = x[top1];
  x[top1] = -std::numeric_limits<float>::infinity();
  const float m2 = rowMax(x, V);
  x[top1] = saved;
  const int64_t top2 = firstIndexOf(x, V, m2, top1);
  return top2 < 0 ? top1 : top2;
}

// x[V] := g (onehot(j) - p) where p = exp(x - shift) / norm: d (g logp_j) / d logits.
void softmaxGradRow(float* x, int64_t V, float shift, double norm, int64_t j, float g) {
  rowSumExp(x, x, V, shift);
  const float k = static_cast<float>(-g / norm);
  for (int64_t v = 0; v < V; v++) x[v] *= k;
  x[j] += g;
}

}  // namespace

size_t fused_head_workspace_bytes(const HeadDims& d) {
  return d.chunk * sizeof(int64_t) + (d.chunk * d.V + 2 * d.chunk * d.D) * sizeof(float);
}

void fused_head_forward(float* logp, int64_t* gathered, float* lse, float* jac, void* work, const float* h,
                        const float* W, const int64_t* targets, const HeadDims& d, GatherMode mode) {
  const int64_t D = d.D, V = d.V;
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
    cpu::sgemm(false, true, c, V, D, 1.0f, w.rows, D, W, D, 0.0f, w.logits, V);  // logits[c,V] = rows W^T
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < c; i++) {
      const int64_t t = w.index[i];
      float* x = w.logits + i * V;
      const float mx = rowMax(x, V);
      const int64_t j = mode == GatherMode::TopAlt ? topAlternative(x, V, mx, targets[t]) : targets[t];
      const float xj = x[j];
      const double sum = rowSumExp(nullptr, x, V, mx);
      lse[t] = mx + static_cast<float>(std::log(sum));
      logp[t] = xj - lse[t];
      gathered[t] = j;
      if (jac) softmaxGradRow(x, V, mx, sum, j, 1.0f);  // g = 1: the row of d logp_t / d logits_t
    }
    if (!jac) continue;
    cpu::sgemm(false, false, c, D, V, 1.0f, w.logits, V, W, D, 0.0f, w.drows, D);  // [c,D] = G W
    scatterRows(jac, w.drows, w.index, c, D);
  }
}

void fused_head_backward(float* dh, void* work, const float* dlogp, const float* h, const float* W,
                         const int64_t* gathered, const float* lse, const HeadDims& d) {
  const int64_t D = d.D, V = d.V;
  std::memset(dh, 0, d.T * D * sizeof(float));
  const Work w = carve(work, d);
  int64_t from = 0;
  while (const int64_t c = nextChunk(w.index, from, gathered, dlogp, d)) {
    gatherRows(w.rows, h, w.index, c, D);
    cpu::sgemm(false, true, c, V, D, 1.0f, w.rows, D, W, D, 0.0f, w.logits, V);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < c; i++) {
      const int64_t t = w.index[i];
      softmaxGradRow(w.logits + i * V, V, lse[t], 1.0, gathered[t], dlogp[t]);  // exp(x - lse) is p
    }
    cpu::sgemm(false, false, c, D, V, 1.0f, w.logits, V, W, D, 0.0f, w.drows, D);
    scatterRows(dh, w.drows, w.index, c, D);
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
    softmaxGradRow(x, V, 0.0f, 1.0, targets[t], dlogp[t]);
  }
  cpu::sgemm(false, false, d.T, d.D, V, 1.0f, logits, V, W, d.D, 0.0f, dh, d.D);
}

}  // namespace stic::train
