// Patch-embedding weight gradient on the CPU (see patch_embed.h).
// Legend: N images, P patches per image, p patch side, K = 3 p p, D hidden.
#include <vector>

#include "cpu/ops.h"
#include "cpu/patch_embed.h"

namespace stic::cpu {
namespace {

thread_local std::vector<float> tlsCols;  // im2col of a whole batch, grows only

}  // namespace

void patch_embed_backward(float* dweight, const float* dout, const float* img, int64_t N, int64_t Hs, int64_t Ws, int64_t p,
                          int64_t D) {
  const int64_t P = (Hs / p) * (Ws / p), K = 3 * p * p, rows = N * P;
  if (rows == 0) return;
  std::vector<float>& cols = tlsCols;
  if (static_cast<int64_t>(cols.size()) < rows * K) cols.resize(rows * K);
  patch_im2col(cols.data(), img, N, Hs, Ws, p);
  // dweight[D, K] += dout[rows, D]^T @ cols[rows, K]
  sgemm(true, false, D, K, rows, 1.0f, dout, D, cols.data(), K, 1.0f, dweight, K);
}

}  // namespace stic::cpu
