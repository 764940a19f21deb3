// nn.Linear backward on the CPU: two SGEMMs and a column sum. Legend: T rows, K inputs, N outputs.
#include <algorithm>
#include <cstdint>

#include "cpu/ops.h"
#include "cpu/ops_backward.h"

namespace stic::cpu {
namespace {

// dbias[N] += sum_t dout[t, :]. Threads own column blocks and walk the rows in order, so the sum
// is the same whatever the thread count (a per-thread partial + reduction would not be).
void columnSumAccumulate(float* dbias, const float* dout, int64_t T, int64_t N) {
  constexpr int64_t kCols = 64;
  const int64_t blocks = (N + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if (T * N > (1 << 16))
  for (int64_t b = 0; b < blocks; b++) {
    const int64_t c0 = b * kCols, c1 = std::min(N, c0 + kCols);
    float acc[kCols] = {};
    for (int64_t t = 0; t < T; t++) {
      const float* row = dout + t * N;
      for (int64_t c = c0; c < c1; c++) acc[c - c0] += row[c];
    }
    for (int64_t c = c0; c < c1; c++) dbias[c] += acc[c - c0];
  }
}

}  // namespace

void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight,
                     int64_t T, int64_t K, int64_t N) {
  // dinp[T,K] = dout[T,N] @ weight[N,K]
  if (dinp) sgemm(false, false, T, K, N, 1.0f, dout, N, weight, K, 0.0f, dinp, K);
  // dweight[N,K] += dout^T[N,T] @ inp[T,K]
  if (dweight) sgemm(true, false, N, K, T, 1.0f, dout, N, inp, K, 1.0f, dweight, K);
  if (dbias) columnSumAccumulate(dbias, dout, T, N);
}

}  // namespace stic::cpu
