// Scaled dot-product attention: a forward that also returns the per-row log-sum-exp, and the
// backward that recomputes the softmax from it (flash-attention style: nothing of size [Hq,T,S]
// is ever stored). fp32 throughout, grouped-query heads, causal masks with a KV offset.
// Legend: T queries, S keys, Hq query heads, Hkv key/value heads, G = Hq/Hkv queries per KV head,
// hd head dim, P[t,s] = softmax probabilities, dP = dout . v, dS = P (dP - D) with D[t] = dout . out.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "cpu/ops_backward.h"

namespace stic::cpu {
namespace {

constexpr int64_t kKeyBlock = 16;  // keys per dK/dV task: their k, v rows stay in L1 across queries

// Growable per-thread scratch, so steady-state calls do not allocate. Slot keeps the buffers of
// the calling thread (shared by the team) apart from each team member's private one.
template <int Slot>
float* threadScratch(int64_t n) {
  static thread_local std::vector<float> buf;
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(n);
  return buf.data();
}

inline float dot(const float* a, const float* b, int64_t n) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

inline void axpy(float* y, float a, const float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

// Keys query t may see: [0, keyEnd).
inline int64_t keyEnd(int64_t t, int64_t S, bool causal, int64_t qOffset) {
  return causal ? std::min<int64_t>(S, qOffset + t + 1) : S;
}

}  // namespace

void attention_forward_lse(float* out, int64_t ldo, float* lse, const float* q, int64_t ldq, const float* k, int64_t ldk,
                           const float* v, int64_t ldv, int64_t T, int64_t S, int64_t Hq, int64_t Hkv, int64_t hd,
                           bool causal, int64_t qOffset, float scale) {
  const int64_t group = Hq / Hkv;
#pragma omp parallel
  {
    float* scores = threadScratch<0>(S);  // [S] one query row's scaled scores, then exp(score - max)
#pragma omp for collapse(2) schedule(static)
    for (int64_t h = 0; h < Hq; h++) {
      for (int64_t t = 0; t < T; t++) {
        const int64_t kvh = h / group, last = keyEnd(t, S, causal, qOffset);
        const float* qv = q + t * ldq + h * hd;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t s = 0; s < last; s++) {
          scores[s] = dot(qv, k + s * ldk + kvh * hd, hd) * scale;
          mx = std::max(mx, scores[s]);
        }
        double sum = 0;
        for (int64_t s = 0; s < last; s++) {
          scores[s] = std::exp(scores[s] - mx);
          sum += scores[s];
        }
        float* o = out + t * ldo + h * hd;
        for (int64_t i = 0; i < hd; i++) o[i] = 0;
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t s = 0; s < last; s++) axpy(o, scores[s] * inv, v + s * ldv + kvh * hd, hd);
        lse[h * T + t] = mx + static_cast<float>(std::log(sum));
      }
    }
  }
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, int64_t ldq, const float* k,
                        int64_t ldk, const float* v, int64_t ldv, const float* out, int64_t ldo, const float* lse, int64_t T,
                        int64_t S, int64_t Hq, int64_t Hkv, int64_t hd, bool causal, int64_t qOffset, float scale) {
  const int64_t group = Hq / Hkv;
  const int64_t keyBlocks = (S + kKeyBlock - 1) / kKeyBlock;
  // Keys no query can see (causal, beyond the last query's reach) get no gradient at all.
  const int64_t reach = causal ? std::min<int64_t>(S, qOffset + T) : S;
  float* delta = threadScratch<1>(Hq * T);  // [Hq, T] D = rowsum(dout * out), the softmax Jacobian's diagonal term
#pragma omp parallel
  {
    float* gk = threadScratch<0>(2 * kKeyBlock * hd);  // [block, hd] this task's dK rows
    float* gv = gk + kKeyBlock * hd;                   // [block, hd] this task's dV rows
#pragma omp for collapse(2) schedule(static)
    for (int64_t h = 0; h < Hq; h++) {
      for (int64_t t = 0; t < T; t++) delta[h * T + t] = dot(dout + t * ldo + h * hd, out + t * ldo + h * hd, hd);
    }
    // dK, dV: each task owns one KV head and one block of keys and walks its G query heads and all
    // queries in a fixed order — no two tasks write the same row, so no atomics and a fixed sum order.
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int64_t kvh = 0; kvh < Hkv; kvh++) {
      for (int64_t kb = 0; kb < keyBlocks; kb++) {
        const int64_t s0 = kb * kKeyBlock, s1 = std::min(reach, s0 + kKeyBlock);
        if (s0 >= s1) continue;
        std::fill(gk, gk + 2 * kKeyBlock * hd, 0.0f);
        // Causal: query t sees key s iff s < qOffset + t + 1, so the block's first visible query is s0 - qOffset.
        const int64_t tFirst = causal ? std::max<int64_t>(0, s0 - qOffset) : 0;
        for (int64_t h = kvh * group; h < (kvh + 1) * group; h++) {
          for (int64_t t = tFirst; t < T; t++) {
            const float* qv = q + t * ldq + h * hd;
            const float* go = dout + t * ldo + h * hd;
            const float l = lse[h * T + t], d = delta[h * T + t];
            const int64_t last = std::min(s1, keyEnd(t, S, causal, qOffset));
            for (int64_t s = s0; s < last; s++) {
              const float p = std::exp(dot(qv, k + s * ldk + kvh * hd, hd) * scale - l);
              const float ds = p * (dot(go, v + s * ldv + kvh * hd, hd) - d);
              axpy(gv + (s - s0) * hd, p, go, hd);
              axpy(gk + (s - s0) * hd, ds * scale, qv, hd);
            }
          }
        }
        for (int64_t s = s0; s < s1; s++) {
          axpy(dk + s * ldk + kvh * hd, 1.0f, gk + (s - s0) * hd, hd);
          axpy(dv + s * ldv + kvh * hd, 1.0f, gv + (s - s0) * hd, hd);
        }
      }
    }
    // dQ: each task owns one query row of one head and recomputes its P and dS.
#pragma omp for collapse(2) schedule(static)
    for (int64_t h = 0; h < Hq; h++) {
      for (int64_t t = 0; t < T; t++) {
        const int64_t kvh = h / group, last = keyEnd(t, S, causal, qOffset);
        const float* qv = q + t * ldq + h * hd;
        const float* go = dout + t * ldo + h * hd;
        const float l = lse[h * T + t], d = delta[h * T + t];
        float* g = dq + t * ldq + h * hd;
        for (int64_t i = 0; i < hd; i++) g[i] = 0;
        for (int64_t s = 0; s < last; s++) {
          const float* kv = k + s * ldk + kvh * hd;
          const float p = std::exp(dot(qv, kv, hd) * scale - l);
          const float ds = p * (dot(go, v + s * ldv + kvh * hd, hd) - d);
          axpy(g, ds * scale, kv, hd);
        }
      }
    }
  }
}

}  // namespace stic::cpu
