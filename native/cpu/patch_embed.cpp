// CLIP patch embedding on the CPU (patch_embed.h): the im2col both passes share, and the forward.
// Legend: N images, P patches per image, p patch side, K = 3 p p, D hidden.
#include "cpu/patch_embed.h"

#include <cstring>
#include <vector>

#include "cpu/ops.h"

namespace stic::cpu {
namespace {

thread_local std::vector<float> tlsCols;  // im2col scratch of the forward, grows only

}  // namespace

void patch_im2col(float* cols, const float* img, int64_t N, int64_t Hs, int64_t Ws, int64_t p) {
  const int64_t gw = Ws / p, P = (Hs / p) * gw, K = 3 * p * p, rows = N * P;
#pragma omp parallel for schedule(static) if (rows * K >= (1 << 16))
  for (int64_t row = 0; row < rows; row++) {
    const int64_t pi = row % P, py = pi / gw, px = pi % gw;
    const float* src = img + (row / P) * 3 * Hs * Ws;
    float* dst = cols + row * K;
    for (int64_t c = 0; c < 3; c++) {
      for (int64_t y = 0; y < p; y++) std::memcpy(dst + (c * p + y) * p, src + (c * Hs + py * p + y) * Ws + px * p, p * sizeof(float));
    }
  }
}

void patch_embed_forward(float* out, const float* img, const float* weight, int64_t Hs, int64_t Ws, int64_t p, int64_t D) {
  const int64_t P = (Hs / p) * (Ws / p), K = 3 * p * p;
  std::vector<float>& cols = tlsCols;
  if (static_cast<int64_t>(cols.size()) < P * K) cols.resize(P * K);
  patch_im2col(cols.data(), img, 1, Hs, Ws, p);
  // out[P, D] = cols[P, K] @ weight[D, K]^T: the stride-p convolution as one SGEMM.
  linear_forward(out, cols.data(), weight, nullptr, P, K, D);
}

}  // namespace stic::cpu
