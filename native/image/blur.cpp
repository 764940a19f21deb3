#include "image/blur.h"

#include <cmath>

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

void gaussianBlur(Image& img, int kernelSize, double sigma) {
  const std::vector<float> k = gaussianKernel1d(kernelSize, sigma);
  const int r = kernelSize / 2;
  const int w = img.width, h = img.height, rowLen = w * kChannels;
  // Horizontal pass into float rows: padded copy of the row, then a contiguous dot product per
  // output value (taps are kChannels apart in the interleaved row, so the loop vectorises).
  std::vector<float> tmp(static_cast<size_t>(h) * rowLen);  // (H, W, C)
  std::vector<float> padded(static_cast<size_t>(w + 2 * r) * kChannels);
  for (int y = 0; y < h; ++y) {
    const uint8_t* in = img.row(y);
    for (int x = -r; x < w + r; ++x) {
      const uint8_t* src = in + static_cast<size_t>(reflectIndex(x, w)) * kChannels;
      for (int c = 0; c < kChannels; ++c) padded[(x + r) * kChannels + c] = src[c];
    }
    float* out = &tmp[static_cast<size_t>(y) * rowLen];
    for (int i = 0; i < rowLen; ++i) out[i] = 0.0f;
    for (int j = 0; j < kernelSize; ++j) {
      const float kj = k[j];
      const float* p = &padded[j * kChannels];
      for (int i = 0; i < rowLen; ++i) out[i] += kj * p[i];
    }
  }
  // Vertical pass: whole rows, reflected row indices.
  std::vector<float> acc(rowLen);
  for (int y = 0; y < h; ++y) {
    for (int i = 0; i < rowLen; ++i) acc[i] = 0.0f;
    for (int j = 0; j < kernelSize; ++j) {
      const float kj = k[j];
      const float* p = &tmp[static_cast<size_t>(reflectIndex(y + j - r, h)) * rowLen];
      for (int i = 0; i < rowLen; ++i) acc[i] += kj * p[i];
    }
    uint8_t* out = img.row(y);
    for (int i = 0; i < rowLen; ++i) out[i] = static_cast<uint8_t>(std::nearbyint(std::min(std::max(acc[i], 0.0f), 255.0f)));
  }
}

}  // namespace stic::image
