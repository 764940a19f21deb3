// Patch-embedding weight gradient on the CPU (see patch_embed_backward.h).
// Legend: N images, P patches per image, p patch side, K = 3 p p, D hidden.
#include "cpu/patch_embed_backward.h"

#include <cstring>
#include <vector>

#include "cpu/ops.h"

namespace stic::cpu {
namespace {

thread_local std::vector<float> tlsCols;  // im2col of a whole batch, grows only

// cols[P, K]: patch pi's pixels in the weight's (c, y, x) order, the layout the forward's GEMM reads.
void im2colPatches(float* cols, const float* img, int64_t Hs, int64_t Ws, int64_t p) {
  const int64_t gw = Ws / p, P = (Hs / p) * gw, K = 3 * p * p;
  for (int64_t pi = 0; pi < P; pi++) {
    const int64_t py = pi / gw, px = pi % gw;
    float* dst = cols + pi * K;
    for (int64_t c = 0; c < 3; c++) {
      for (int64_t y = 0; y < p; y++) std::memcpy(dst + (c * p + y) * p, img + (c * Hs + py * p + y) * Ws + px * p, p * sizeof(float));
    }
  }
}

}  // namespace

void patch_embed_backward(float* dweight, const float* dout, const float* img, int64_t N, int64_t Hs, int64_t Ws, int64_t p,
                          int64_t D) {
  const int64_t P = (Hs / p) * (Ws / p), K = 3 * p * p, rows = N * P;
  if (rows == 0) return;
  std::vector<float>& cols = tlsCols;
  if (static_cast<int64_t>(cols.size()) < rows * K) cols.resize(rows * K);
#pragma omp parallel for schedule(static) if (N > 1)
  for (int64_t n = 0; n < N; n++) im2colPatches(cols.data() + n * P * K, img + n * 3 * Hs * Ws, Hs, Ws, p);
  // dweight[D, K] += dout[rows, D]^T @ cols[rows, K]
  sgemm(true, false, D, K, rows, 1.0f, dout, D, cols.data(), K, 1.0f, dweight, K);
}

}  // namespace stic::cpu
