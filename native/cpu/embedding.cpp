// Token embedding lookup and log-softmax/gather on the CPU (the patch embedding: patch_embed.cpp).
// Legend: T tokens, C channels, V vocab.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/ops.h"
#include "cpu/vec_math.h"

namespace stic::cpu {
namespace {

// max over x[V] and sum_i exp(x[i] - max) in fp64.
void rowMaxSumExp(const float* x, int64_t V, float& mxOut, double& sumOut) {
  float mx = x[0];
  int64_t i = 0;
#ifdef __AVX2__
  __m256 vm = _mm256_set1_ps(x[0]);
  for (; i + 8 <= V; i += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + i));
  mx = hmax256(vm);
#endif
  for (; i < V; i++) mx = std::max(mx, x[i]);
  double s = 0;
  i = 0;
#ifdef __AVX2__
  const __m256 vmx = _mm256_set1_ps(mx);
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  for (; i + 8 <= V; i += 8) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmx));
    a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  const __m256d a = _mm256_add_pd(a0, a1);
  __m128d h = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  s = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
#endif
  for (; i < V; i++) s += std::exp(static_cast<double>(x[i] - mx));
  mxOut = mx;
  sumOut = s;
}

}  // namespace

void embedding_forward(float* out, const int64_t* ids, const float* table, int64_t T, int64_t C) {
#pragma omp parallel for schedule(static) if (T * C >= (1 << 16))
  for (int64_t t = 0; t < T; t++) std::memcpy(out + t * C, table + ids[t] * C, C * sizeof(float));
}

void log_softmax_gather(float* logp, const float* logits, const int64_t* targets, int64_t T, int64_t V) {
#pragma omp parallel for schedule(static) if (T * V >= (1 << 16))
  for (int64_t t = 0; t < T; t++) {
    const float* x = logits + t * V;
    float mx;
    double sum;
    rowMaxSumExp(x, V, mx, sum);
    // x[target] - mx costs one fp32 rounding (none within a factor 2 of mx, by Sterbenz); the log
    // of the fp64 sum is subtracted in fp64, not rounded to fp32 first.
    logp[t] = static_cast<float>(static_cast<double>(x[targets[t]] - mx) - std::log(sum));
  }
}

}  // namespace stic::cpu
