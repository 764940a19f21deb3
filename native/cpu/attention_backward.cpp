// Scaled dot-product attention for training: a forward that also returns the per-row log-sum-exp,
// and the backward that recomputes the softmax from it (flash-attention 2's recomputation: nothing
// of size [Hq, T, S] is ever stored). fp32, grouped-query heads, causal masks with a KV offset.
// Every product is a tile SGEMM (stic::cpu::sgemm, run single-threaded inside the OpenMP work
// items) over strided views of q/k/v, so head dims and strides need no special cases.
// The backward runs two passes so that no two work items ever write the same gradient row (no
// atomics, a fixed summation order, results independent of the thread count):
//   dK/dV: one item per (KV head, block of Bk keys), over the G query heads and all queries;
//   dQ:    one item per (query head, block of Bq queries), over all visible keys.
// Legend: T queries, S keys, Hq/Hkv heads, G = Hq/Hkv, hd head dim, Bq/Bk block sizes, nq/nk rows
// of a block, nt queries and ns keys a block sees, P = softmax, dP = dO V^T, D = rowsum(dO * O),
// dS = P (dP - D).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/ops.h"
#include "cpu/ops_backward.h"
#include "cpu/vec_math.h"

namespace stic::cpu {
namespace {

constexpr int64_t kQueryBlock = 64;  // Bq: query rows per forward / dQ item
constexpr int64_t kKeyBlock = 64;    // Bk: key rows per dK/dV item

// Growable per-thread scratch, so steady-state calls do not allocate. Slot keeps buffers with
// different lives apart (the calling thread's [Hq, T] D array vs each member's tiles).
template <int Slot>
float* threadScratch(int64_t n) {
  static thread_local std::vector<float> buf;
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(n);
  return buf.data();
}

// Keys query t may see: [0, keyEnd).
inline int64_t keyEnd(int64_t t, int64_t S, bool causal, int64_t qOffset) {
  return causal ? std::min<int64_t>(S, qOffset + t + 1) : S;
}

}  // namespace

void attention_forward_lse(float* out, int64_t ldo, float* lse, const float* q, int64_t ldq, const float* k, int64_t ldk,
                           const float* v, int64_t ldv, int64_t T, int64_t S, int64_t Hq, int64_t Hkv, int64_t hd,
                           bool causal, int64_t qOffset, float scale) {
  const int64_t group = Hq / Hkv, qBlocks = (T + kQueryBlock - 1) / kQueryBlock;
#pragma omp parallel
  {
    float* p = threadScratch<0>(kQueryBlock * S);  // [nq, ns] scaled scores, then P
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int64_t h = 0; h < Hq; h++) {
      for (int64_t qb = 0; qb < qBlocks; qb++) {
        const int64_t t0 = qb * kQueryBlock, nq = std::min(kQueryBlock, T - t0), kvh = h / group;
        const int64_t ns = keyEnd(t0 + nq - 1, S, causal, qOffset);
        const float* kh = k + kvh * hd;
        sgemm(false, true, nq, ns, hd, scale, q + t0 * ldq + h * hd, ldq, kh, ldk, 0.0f, p, ns);  // P = scale Q K^T
        for (int64_t i = 0; i < nq; i++) {
          float* row = p + i * ns;
          const int64_t last = keyEnd(t0 + i, S, causal, qOffset);
          const float mx = rowMax(row, last);
          const double sum = rowSumExp(row, row, last, mx);
          const float inv = static_cast<float>(1.0 / sum);
          for (int64_t s = 0; s < last; s++) row[s] *= inv;
          std::fill(row + last, row + ns, 0.0f);  // causally masked
          lse[h * T + t0 + i] = mx + static_cast<float>(std::log(sum));
        }
        sgemm(false, false, nq, hd, ns, 1.0f, p, ns, v + kvh * hd, ldv, 0.0f, out + t0 * ldo + h * hd, ldo);  // O = P V
      }
    }
  }
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, int64_t ldq, const float* k,
                        int64_t ldk, const float* v, int64_t ldv, const float* out, int64_t ldo, const float* lse, int64_t T,
                        int64_t S, int64_t Hq, int64_t Hkv, int64_t hd, bool causal, int64_t qOffset, float scale) {
  const int64_t group = Hq / Hkv;
  const int64_t keyBlocks = (S + kKeyBlock - 1) / kKeyBlock, qBlocks = (T + kQueryBlock - 1) / kQueryBlock;
  // Keys no query can see (causal, beyond the last query's reach) get no gradient at all.
  const int64_t reach = causal ? std::min<int64_t>(S, qOffset + T) : S;
  float* delta = threadScratch<1>(Hq * T);  // [Hq, T] D
#pragma omp parallel
  {
#pragma omp for collapse(2) schedule(static)
    for (int64_t h = 0; h < Hq; h++) {
      for (int64_t t = 0; t < T; t++) {
        const float *go = dout + t * ldo + h * hd, *o = out + t * ldo + h * hd;
        float d = 0;
        for (int64_t i = 0; i < hd; i++) d += go[i] * o[i];
        delta[h * T + t] = d;
      }
    }
    // dK, dV. Transposed tiles: row j of pt/dst is key s0 + j, column c is query tFirst + c.
    float* pt = threadScratch<0>(2 * kKeyBlock * T);  // [nk, nt] P^T
    float* dst = pt + kKeyBlock * T;                  // [nk, nt] dP^T, then dS^T
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int64_t kvh = 0; kvh < Hkv; kvh++) {
      for (int64_t kb = 0; kb < keyBlocks; kb++) {
        const int64_t s0 = kb * kKeyBlock, nk = std::min(reach, s0 + kKeyBlock) - s0;
        if (nk <= 0) continue;
        // Causal: query t sees key s iff s <= qOffset + t, so the block's first visible query is s0 - qOffset.
        const int64_t tFirst = causal ? std::max<int64_t>(0, s0 - qOffset) : 0, nt = T - tFirst;
        const float *kb0 = k + s0 * ldk + kvh * hd, *vb0 = v + s0 * ldv + kvh * hd;
        for (int64_t h = kvh * group; h < (kvh + 1) * group; h++) {
          const float *qh = q + tFirst * ldq + h * hd, *goh = dout + tFirst * ldo + h * hd;
          sgemm(false, true, nk, nt, hd, scale, kb0, ldk, qh, ldq, 0.0f, pt, nt);   // scale K Q^T
          sgemm(false, true, nk, nt, hd, 1.0f, vb0, ldv, goh, ldo, 0.0f, dst, nt);  // dP^T = V dO^T
          const float *l = lse + h * T + tFirst, *d = delta + h * T + tFirst;
          for (int64_t j = 0; j < nk; j++) {
            float *p = pt + j * nt, *ds = dst + j * nt;
            // queries before s0 + j - qOffset cannot see this key: a masked prefix of the row
            const int64_t hidden = causal ? std::min(nt, std::max<int64_t>(0, s0 + j - qOffset - tFirst)) : 0;
            std::fill(p, p + hidden, 0.0f);
            std::fill(ds, ds + hidden, 0.0f);
            expMinus(p + hidden, l + hidden, nt - hidden);  // P^T = exp(scores - lse)
            for (int64_t c = hidden; c < nt; c++) ds[c] = p[c] * (ds[c] - d[c]);
          }
          sgemm(false, false, nk, hd, nt, 1.0f, pt, nt, goh, ldo, 1.0f, dv + s0 * ldv + kvh * hd, ldv);  // dV += P^T dO
          sgemm(false, false, nk, hd, nt, scale, dst, nt, qh, ldq, 1.0f, dk + s0 * ldk + kvh * hd, ldk);  // dK += scale dS^T Q
        }
      }
    }
    // dQ: row i of p/dp is query t0 + i, column s is key s.
    float* p = threadScratch<0>(2 * kQueryBlock * S);  // [nq, ns] P
    float* dp = p + kQueryBlock * S;                   // [nq, ns] dP, then dS
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int64_t h = 0; h < Hq; h++) {
      for (int64_t qb = 0; qb < qBlocks; qb++) {
        const int64_t t0 = qb * kQueryBlock, nq = std::min(kQueryBlock, T - t0), kvh = h / group;
        const int64_t ns = keyEnd(t0 + nq - 1, S, causal, qOffset);
        const float *kh = k + kvh * hd, *vh = v + kvh * hd;
        sgemm(false, true, nq, ns, hd, scale, q + t0 * ldq + h * hd, ldq, kh, ldk, 0.0f, p, ns);  // scale Q K^T
        sgemm(false, true, nq, ns, hd, 1.0f, dout + t0 * ldo + h * hd, ldo, vh, ldv, 0.0f, dp, ns);  // dP = dO V^T
        for (int64_t i = 0; i < nq; i++) {
          float *pr = p + i * ns, *ds = dp + i * ns;
          const int64_t t = t0 + i, last = keyEnd(t, S, causal, qOffset);
          const float l = lse[h * T + t], d = delta[h * T + t];
          rowSumExp(pr, pr, last, l);  // P = exp(scores - lse)
          for (int64_t s = 0; s < last; s++) ds[s] = pr[s] * (ds[s] - d);
          std::fill(ds + last, ds + ns, 0.0f);
        }
        sgemm(false, false, nq, hd, ns, scale, dp, ns, kh, ldk, 0.0f, dq + t0 * ldq + h * hd, ldq);  // dQ = scale dS K
      }
    }
  }
}

}  // namespace stic::cpu
