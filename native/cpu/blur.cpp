#include "cpu/blur.h"

#include <algorithm>
#include <cmath>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace stic::image {
namespace {

// Reflect index i into [0, n) without repeating the edge (torch "reflect"), for any i: the
// pattern has period 2n - 2, so even kernels wider than the image are defined.
inline int reflectIndex(int i, int n) {
  if (n == 1) return 0;
  const int period = 2 * n - 2;
  int m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

}  // namespace

int autoBlurKernelSize(double sigma) { return 2 * static_cast<int>(std::ceil(3.0 * sigma)) + 1; }

std::vector<float> gaussianKernel1d(int size, double sigma) {
  std::vector<double> k(size);
  const double half = (size - 1) * 0.5;
  double sum = 0.0;
  for (int j = 0; j < size; ++j) {
    const double x = (j - half) / sigma;
    k[j] = std::exp(-0.5 * x * x);
    sum += k[j];
  }
  std::vector<float> out(size);
  for (int j = 0; j < size; ++j) out[j] = static_cast<float>(k[j] / sum);
  return out;
}

namespace {

// out[i] = sum_j k[j] * rows[j][i], i in [0, n). The horizontal pass passes rows[j] = row + C j
// (taps are C apart in an interleaved row), the vertical pass the reflected source rows. The AVX2
// path keeps 32 outputs in registers across all taps (one load per tap and vector, no
// read-modify-write of `out` per tap); sums are fused multiply-adds, so results may differ from the
// scalar path in the last bit, far inside the blur's tolerance (one rounding to uint8).
void convolveRows(const float* const* rows, const float* k, int taps, float* out, int n) {
  int i = 0;
#if defined(__AVX2__) && defined(__FMA__)
  for (; i + 32 <= n; i += 32) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int j = 0; j < taps; ++j) {
      const __m256 kj = _mm256_set1_ps(k[j]);
      const float* p = rows[j] + i;
      a0 = _mm256_fmadd_ps(kj, _mm256_loadu_ps(p), a0);
      a1 = _mm256_fmadd_ps(kj, _mm256_loadu_ps(p + 8), a1);
      a2 = _mm256_fmadd_ps(kj, _mm256_loadu_ps(p + 16), a2);
      a3 = _mm256_fmadd_ps(kj, _mm256_loadu_ps(p + 24), a3);
    }
    _mm256_storeu_ps(out + i, a0);
    _mm256_storeu_ps(out + i + 8, a1);
    _mm256_storeu_ps(out + i + 16, a2);
    _mm256_storeu_ps(out + i + 24, a3);
  }
#endif
  for (; i < n; ++i) {
    float acc = 0.0f;
    for (int j = 0; j < taps; ++j) acc += k[j] * rows[j][i];
    out[i] = acc;
  }
}

}  // namespace

void gaussianBlur(Image& img, int kernelSize, double sigma) {
  const std::vector<float> k = gaussianKernel1d(kernelSize, sigma);
  const int r = kernelSize / 2;
  const int w = img.width, h = img.height, rowLen = w * kChannels;
  // Horizontally blurred rows live in a ring of kernelSize rows (source row y in slot y % size):
  // output row y needs source rows within [y - r, y + r] after reflection, so the working set stays
  // a few tens of KiB instead of a whole float image.
  const int slots = kernelSize;
  std::vector<float> ring(static_cast<size_t>(slots) * rowLen);         // (slots, W, C)
  std::vector<float> padded(static_cast<size_t>(w + 2 * r) * kChannels);  // (W + 2r, C)
  std::vector<float> acc(rowLen);
  std::vector<const float*> taps(kernelSize);
  int nextRow = 0;  // next source row to blur horizontally
  for (int y = 0; y < h; ++y) {
    for (; nextRow <= std::min(h - 1, y + r); ++nextRow) {
      const uint8_t* in = img.row(nextRow);
      for (int x = -r; x < w + r; ++x) {
        const uint8_t* src = in + static_cast<size_t>(reflectIndex(x, w)) * kChannels;
        for (int c = 0; c < kChannels; ++c) padded[(x + r) * kChannels + c] = src[c];
      }
      for (int j = 0; j < kernelSize; ++j) taps[j] = padded.data() + j * kChannels;
      convolveRows(taps.data(), k.data(), kernelSize, &ring[static_cast<size_t>(nextRow % slots) * rowLen], rowLen);
    }
    for (int j = 0; j < kernelSize; ++j) taps[j] = &ring[static_cast<size_t>(reflectIndex(y + j - r, h) % slots) * rowLen];
    convolveRows(taps.data(), k.data(), kernelSize, acc.data(), rowLen);
    uint8_t* out = img.row(y);
    for (int i = 0; i < rowLen; ++i) out[i] = static_cast<uint8_t>(std::nearbyint(std::min(std::max(acc[i], 0.0f), 255.0f)));
  }
}

}  // namespace stic::image
