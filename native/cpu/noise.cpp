#include "cpu/noise.h"

#include <algorithm>
#include <cmath>

namespace stic::image {
namespace {

// y = round(clamp(a * x + b + c * z, 0, 255)) over the image, z from the Pixels stream in chunks
// that stay in L1.
void affineNoise(Image& img, PhiloxKey key, float a, float b, float c) {
  constexpr size_t kChunk = 2048;
  alignas(32) float z[kChunk];
  const size_t n = img.data.size();
  uint8_t* px = img.data.data();
  for (size_t start = 0; start < n; start += kChunk) {
    const size_t m = std::min(kChunk, n - start);
    normalsFromStream(key, Stream::Pixels, start, m, z);
    for (size_t i = 0; i < m; ++i) {
      const float v = a * static_cast<float>(px[start + i]) + b + c * z[i];
      px[start + i] = static_cast<uint8_t>(std::nearbyint(std::min(std::max(v, 0.0f), 255.0f)));
    }
  }
}

}  // namespace

double diffusionAlphaBar(int t, int steps, double betaStart, double betaEnd) {
  double abar = 1.0;
  for (int i = 0; i <= t; ++i) {
    const double beta = steps > 1 ? betaStart + (betaEnd - betaStart) * i / (steps - 1) : betaStart;
    abar *= 1.0 - beta;
  }
  return abar;
}

void gaussianNoise(Image& img, PhiloxKey key, double sigma) {
  affineNoise(img, key, 1.0f, 0.0f, static_cast<float>(255.0 * sigma));
}

void diffusionNoise(Image& img, PhiloxKey key, double alphaBar) {
  // (sqrt(abar) (x / 127.5 - 1) + sqrt(1 - abar) z + 1) * 127.5, folded into one affine map of (x, z).
  const double sa = std::sqrt(alphaBar), sn = std::sqrt(1.0 - alphaBar);
  affineNoise(img, key, static_cast<float>(sa), static_cast<float>(127.5 * (1.0 - sa)), static_cast<float>(127.5 * sn));
}

}  // namespace stic::image
