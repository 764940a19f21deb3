// Scaled dot-product attention on the CPU (fp32), flash-style: each work item takes R query rows
// that share one key/value head (a few tokens x the query heads of a group, so a decode step's
// grouped heads read K/V once), walks the keys in blocks of Bk with an online softmax (running max
// m, running sum l, output rescaled by exp(m_old - m_new)), and never forms a [T, S] matrix.
// Work items (kv head x query block) are shared dynamically by the OpenMP team.
// Legend: T queries, S keys, Hq/Hkv heads, G = Hq/Hkv heads per group, hd head dim,
// R rows per item (tokens x G), Bk keys per block.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu/attention_kernels.h"
#include "cpu/ops.h"
#include "cpu/vec_math.h"

namespace stic::cpu {
namespace {

using attn::Bk;
constexpr int64_t kRowTarget = 32;  // rows per work item: enough to amortise each key block's transpose
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Scratch {
  std::vector<float> qs, kt, vb, sc, o, m, l, corr;  // [R,hd], [hd,Bk], [Bk,hd], [R,Bk], [R,hd], [R], [R], [R]
  void size(int64_t R, int64_t hd) {  // grows only: a steady-state pass allocates nothing
    qs.resize(R * hd);
    kt.resize(hd * Bk);
    vb.resize(Bk * hd);
    sc.resize(R * Bk);
    o.resize(R * hd);
    m.resize(R);
    l.resize(R);
    corr.resize(R);
  }
};
thread_local Scratch tls;
thread_local std::vector<float> tlsStaged;  // the caller's staged K/V, shared by its OpenMP team

// Copies one key block into kt[hd, Bk] (transposed, so scores are broadcast-FMAs over keys) and
// the value block into vb[Bk, hd] (contiguous). Both are staged because K/V rows sit Hkv*hd floats
// apart: with a 4 KiB stride every row maps to the same L1 sets and the block would thrash there.
// When a head has several work items (prefill), each block is staged once per call and shared by
// all of them (staging per item cost about as much as the block products); with one item per head
// (decode) the item stages each block just before using it, while it is still in L1. Key columns
// past bk repeat the last key: their scores are masked to -inf before use.
void stageBlock(const float* kHead, int64_t ldk, const float* vHead, int64_t ldv, int64_t bk, int64_t hd, float* kt,
                float* vb) {
  for (int64_t j = 0; j < bk; j++) std::copy_n(vHead + j * ldv, hd, vb + j * hd);
#ifdef __AVX2__
  if (hd % 8 == 0) {
    for (int64_t j0 = 0; j0 < Bk; j0 += 8) {
      const float* rows[8];
      for (int i = 0; i < 8; i++) rows[i] = kHead + std::min(j0 + i, bk - 1) * ldk;
      for (int64_t d0 = 0; d0 < hd; d0 += 8) {
        __m256 c[8];
        for (int i = 0; i < 8; i++) c[i] = _mm256_loadu_ps(rows[i] + d0);
        transpose8x8(c);
        for (int i = 0; i < 8; i++) _mm256_storeu_ps(kt + (d0 + i) * Bk + j0, c[i]);
      }
    }
    return;
  }
#endif
  for (int64_t j = 0; j < Bk; j++) {
    const float* src = kHead + std::min(j, bk - 1) * ldk;
    for (int64_t d = 0; d < hd; d++) kt[d * Bk + j] = src[d];
  }
}

// sc[R, Bk] = qs[R, hd] @ kt[hd, Bk].
void blockScores(const float* qs, const float* kt, float* sc, int64_t R, int64_t hd) {
#ifdef __AVX2__
  // Two rows x 32 keys per pass: 8 accumulators, 6 loads per 8 FMAs.
  for (int64_t r = 0; r < R; r += 2) {
    const float* q0 = qs + r * hd;
    const float* q1 = qs + std::min(r + 1, R - 1) * hd;  // an odd last row is computed twice, stored once
    for (int64_t j0 = 0; j0 < Bk; j0 += 32) {
      __m256 a[2][4];
      for (auto& row : a)
        for (auto& x : row) x = _mm256_setzero_ps();
      for (int64_t d = 0; d < hd; d++) {
        const float* k = kt + d * Bk + j0;
        const __m256 x0 = _mm256_broadcast_ss(q0 + d), x1 = _mm256_broadcast_ss(q1 + d);
        for (int c = 0; c < 4; c++) {
          const __m256 b = _mm256_loadu_ps(k + 8 * c);
          a[0][c] = _mm256_fmadd_ps(x0, b, a[0][c]);
          a[1][c] = _mm256_fmadd_ps(x1, b, a[1][c]);
        }
      }
      for (int c = 0; c < 4; c++) _mm256_storeu_ps(sc + r * Bk + j0 + 8 * c, a[0][c]);
      if (r + 1 < R)
        for (int c = 0; c < 4; c++) _mm256_storeu_ps(sc + (r + 1) * Bk + j0 + 8 * c, a[1][c]);
    }
  }
#else
  for (int64_t r = 0; r < R; r++) {
    float* s = sc + r * Bk;
    for (int64_t j = 0; j < Bk; j++) s[j] = 0.0f;
    for (int64_t d = 0; d < hd; d++) {
      const float x = qs[r * hd + d];
      for (int64_t j = 0; j < Bk; j++) s[j] += x * kt[d * Bk + j];
    }
  }
#endif
}

// Online-softmax step for one row: scores s[Bk] with the first `valid` real (the rest masked),
// running max m and sum l. Turns s into probabilities relative to the new max and returns the
// factor exp(m_old - m_new) that rescales what the row accumulated so far.
float softmaxStep(float* s, int64_t valid, float& m, float& l) {
  float mx = m, sum = 0.0f;
#ifdef __AVX2__
  const __m256 ninf = _mm256_set1_ps(kNegInf), vvalid = _mm256_set1_ps(static_cast<float>(valid));
  __m256 vmax = _mm256_set1_ps(m);
  for (int64_t j = 0; j < Bk; j += 8) {
    const __m256 idx = _mm256_add_ps(_mm256_set1_ps(static_cast<float>(j)), _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 x = _mm256_blendv_ps(ninf, _mm256_loadu_ps(s + j), _mm256_cmp_ps(idx, vvalid, _CMP_LT_OQ));
    _mm256_storeu_ps(s + j, x);
    vmax = _mm256_max_ps(vmax, x);
  }
  mx = hmax256(vmax);
  const __m256 vmx = _mm256_set1_ps(mx);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t j = 0; j < Bk; j += 8) {
    const __m256 p = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + j), vmx));
    _mm256_storeu_ps(s + j, p);
    acc = _mm256_add_ps(acc, p);
  }
  sum = hsum256(acc);
#else
  for (int64_t j = valid; j < Bk; j++) s[j] = kNegInf;
  for (int64_t j = 0; j < valid; j++) mx = std::max(mx, s[j]);
  for (int64_t j = 0; j < Bk; j++) sum += (s[j] = std::exp(s[j] - mx));
#endif
  // m = -inf only before the first block, and the first block always holds key 0 (valid for every
  // row), so mx is finite here and exp(-inf - mx) = 0 wipes the empty initial state.
  const float corr = std::exp(m - mx);
  l = l * corr + sum;
  m = mx;
  return corr;
}

#ifdef __AVX2__
// NV vectors (8 NV dims from d0) of two rows: o[r] = o[r] * corr[r] + p[r, :bk] @ V[:bk, d0:].
template <int NV>
inline void pvChunk(const float* p0, const float* p1, float c0, float c1, const float* v, int64_t ldv, int64_t bk,
                    float* o0, float* o1, int64_t d0, bool second) {
  __m256 a0[NV], a1[NV];
  for (int c = 0; c < NV; c++) {
    a0[c] = _mm256_mul_ps(_mm256_loadu_ps(o0 + d0 + 8 * c), _mm256_set1_ps(c0));
    a1[c] = _mm256_mul_ps(_mm256_loadu_ps(o1 + d0 + 8 * c), _mm256_set1_ps(c1));
  }
  for (int64_t j = 0; j < bk; j++) {
    const float* vj = v + j * ldv + d0;
    const __m256 x0 = _mm256_broadcast_ss(p0 + j), x1 = _mm256_broadcast_ss(p1 + j);
    for (int c = 0; c < NV; c++) {
      const __m256 b = _mm256_loadu_ps(vj + 8 * c);
      a0[c] = _mm256_fmadd_ps(x0, b, a0[c]);
      a1[c] = _mm256_fmadd_ps(x1, b, a1[c]);
    }
  }
  for (int c = 0; c < NV; c++) {
    _mm256_storeu_ps(o0 + d0 + 8 * c, a0[c]);
    if (second) _mm256_storeu_ps(o1 + d0 + 8 * c, a1[c]);
  }
}
#endif

// o[R, hd] = o * corr[R] + p[R, :bk] @ v[:bk, hd] (v rows with stride ldv).
void blockPV(const float* p, const float* corr, const float* v, int64_t ldv, int64_t bk, float* o, int64_t R, int64_t hd) {
#ifdef __AVX2__
  if (hd % 8 == 0) {
    for (int64_t r = 0; r < R; r += 2) {
      const int64_t r1 = std::min(r + 1, R - 1);
      const bool second = r + 1 < R;
      float* o0 = o + r * hd;
      float* o1 = second ? o + r1 * hd : o0;  // an odd last row: the second lane reads row r and is dropped
      const float* p0 = p + r * Bk;
      const float* p1 = p + r1 * Bk;
      int64_t d0 = 0;
      for (; d0 + 32 <= hd; d0 += 32) pvChunk<4>(p0, p1, corr[r], corr[r1], v, ldv, bk, o0, o1, d0, second);
      for (; d0 < hd; d0 += 8) pvChunk<1>(p0, p1, corr[r], corr[r1], v, ldv, bk, o0, o1, d0, second);
    }
    return;
  }
#endif
  for (int64_t r = 0; r < R; r++) {
    float* orow = o + r * hd;
    for (int64_t d = 0; d < hd; d++) orow[d] *= corr[r];
    for (int64_t j = 0; j < bk; j++) {
      const float pj = p[r * Bk + j];
      const float* vj = v + j * ldv;
      for (int64_t d = 0; d < hd; d++) orow[d] += pj * vj[d];
    }
  }
}

struct Problem {
  float* out;
  int64_t ldo;
  const float* q;
  int64_t ldq;
  const float* k;
  int64_t ldk;
  const float* v;
  int64_t ldv;
  int64_t T, S, Hq, Hkv, hd;
  bool causal;
  int64_t qOffset;
  float scale;
  int64_t nb;       // key blocks staged per head
  const float* kt;  // [Hkv, nb, hd, Bk] staged keys, or null: each item stages its own
  const float* vb;  // [Hkv, nb, Bk, hd] staged values, or null
};

// Keys any query of the call can see (a causal call never needs keys past its last query).
int64_t keysNeeded(const Problem& P) { return P.causal ? std::min(P.S, P.qOffset + P.T) : P.S; }

// Rows r = ti * G + g of one work item: token t0 + ti, query head kvh * G + g.
void attendItem(const Problem& P, int64_t kvh, int64_t t0, int64_t nt) {
  const int64_t G = P.Hq / P.Hkv, R = nt * G, hd = P.hd;
  Scratch& w = tls;
  w.size(R, hd);
  for (int64_t r = 0; r < R; r++) {
    const float* src = P.q + (t0 + r / G) * P.ldq + (kvh * G + r % G) * hd;
    for (int64_t d = 0; d < hd; d++) w.qs[r * hd + d] = src[d] * P.scale;
  }
  std::fill_n(w.o.data(), R * hd, 0.0f);
  std::fill_n(w.m.data(), R, kNegInf);
  std::fill_n(w.l.data(), R, 0.0f);
  // AVX-512 block products where the CPU has them and the SGEMM tiles in force are "avx512".
  const attn::Kernels* k512 = hd % 16 == 0 && std::strcmp(gemm_kernels_name(), "avx512") == 0 ? attn::avx512Kernels() : nullptr;
  // Row r sees keys [0, visible(r)); the item's last row sees the most.
  auto visible = [&](int64_t r) { return P.causal ? std::min(P.S, P.qOffset + t0 + r / G + 1) : P.S; };
  const int64_t kEnd = visible(R - 1);
  for (int64_t s0 = 0; s0 < kEnd; s0 += Bk) {
    const int64_t bk = std::min(Bk, kEnd - s0);
    const float* kt = P.kt + (kvh * P.nb + s0 / Bk) * hd * Bk;
    const float* vb = P.vb + (kvh * P.nb + s0 / Bk) * Bk * hd;
    if (!P.kt) {
      stageBlock(P.k + s0 * P.ldk + kvh * hd, P.ldk, P.v + s0 * P.ldv + kvh * hd, P.ldv, bk, hd, w.kt.data(), w.vb.data());
      kt = w.kt.data();
      vb = w.vb.data();
    }
    if (k512) {
      k512->scores(w.qs.data(), kt, w.sc.data(), R, hd);
    } else {
      blockScores(w.qs.data(), kt, w.sc.data(), R, hd);
    }
    for (int64_t r = 0; r < R; r++) {
      const int64_t valid = std::clamp<int64_t>(visible(r) - s0, 0, bk);
      w.corr[r] = softmaxStep(w.sc.data() + r * Bk, valid, w.m[r], w.l[r]);
    }
    if (k512) {
      k512->pv(w.sc.data(), w.corr.data(), vb, bk, w.o.data(), R, hd);
    } else {
      blockPV(w.sc.data(), w.corr.data(), vb, hd, bk, w.o.data(), R, hd);
    }
  }
  for (int64_t r = 0; r < R; r++) {
    float* dst = P.out + (t0 + r / G) * P.ldo + (kvh * G + r % G) * hd;
    const float inv = 1.0f / w.l[r];
    for (int64_t d = 0; d < hd; d++) dst[d] = w.o[r * hd + d] * inv;
  }
}

}  // namespace

void attention_forward(float* out, int64_t ldo, const float* q, int64_t ldq, const float* k, int64_t ldk, const float* v,
                       int64_t ldv, int64_t T, int64_t S, int64_t Hq, int64_t Hkv, int64_t hd, bool causal, int64_t qOffset,
                       float scale) {
  if (T <= 0 || S <= 0) return;
  Problem P{out, ldo, q, ldq, k, ldk, v, ldv, T, S, Hq, Hkv, hd, causal, qOffset, scale, 0, nullptr, nullptr};
  const int64_t G = Hq / Hkv;
  const int64_t tokensPerItem = std::max<int64_t>(1, kRowTarget / G);
  const int64_t qBlocks = (T + tokensPerItem - 1) / tokensPerItem;
  const int64_t kNeeded = keysNeeded(P);
  const bool shareStaging = qBlocks > 1;
  P.nb = shareStaging ? (kNeeded + Bk - 1) / Bk : 0;
  std::vector<float>& staged = tlsStaged;
  if (static_cast<int64_t>(staged.size()) < 2 * Hkv * P.nb * Bk * hd) staged.resize(2 * Hkv * P.nb * Bk * hd);
  float* kt = shareStaging ? staged.data() : nullptr;
  float* vb = shareStaging ? kt + Hkv * P.nb * Bk * hd : nullptr;
  P.kt = kt;
  P.vb = vb;
  const int64_t items = Hkv * qBlocks;
  const bool parallel = static_cast<double>(T) * S * Hq * hd >= 1 << 16;
#pragma omp parallel if (parallel)
  {
#pragma omp for schedule(static)
    for (int64_t b = 0; b < Hkv * P.nb; b++) {
      const int64_t kvh = b / P.nb, s0 = (b % P.nb) * Bk;
      stageBlock(k + s0 * ldk + kvh * hd, ldk, v + s0 * ldv + kvh * hd, ldv, std::min(Bk, kNeeded - s0), hd,
                 kt + b * hd * Bk, vb + b * Bk * hd);
    }
    // Later query blocks of a causal prefill see more keys: dynamic scheduling balances them.
#pragma omp for schedule(dynamic, 1)
    for (int64_t it = 0; it < items; it++) {
      const int64_t kvh = it % Hkv, qb = it / Hkv;
      const int64_t t0 = qb * tokensPerItem;
      attendItem(P, kvh, t0, std::min(tokensPerItem, T - t0));
    }
  }
}

}  // namespace stic::cpu
