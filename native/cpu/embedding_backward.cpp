// Token embedding backward on the CPU: a scatter-add into the table. Legend: T tokens, C channels.
#include <algorithm>
#include <cstdint>

#include "cpu/ops_backward.h"

namespace stic::cpu {

void embedding_backward(float* dtable, const float* dout, const int64_t* ids, int64_t T, int64_t C) {
  // Threads own column blocks and each walks the tokens in order: repeated ids never race and
  // every row's sum has a fixed order (no atomics, identical results for any thread count).
  constexpr int64_t kCols = 64;
  const int64_t blocks = (C + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if (T * C > (1 << 16))
  for (int64_t b = 0; b < blocks; b++) {
    const int64_t c0 = b * kCols, c1 = std::min(C, c0 + kCols);
    for (int64_t t = 0; t < T; t++) {
      float* row = dtable + ids[t] * C;
      const float* g = dout + t * C;
      for (int64_t c = c0; c < c1; c++) row[c] += g[c];
    }
  }
}

}  // namespace stic::cpu
