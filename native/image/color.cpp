// torchvision-exact colour ops (see color.h). Every float expression mirrors one torch op on a
// float32 tensor: one rounding per op. Fusing a multiply and an add into an FMA would round once
// instead of twice and move some pixels across a truncation boundary, so contraction is off here.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "image/color.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace stic::image {
namespace {

// torch: float32 result clamped to [0, 255], then .to(uint8) truncates toward zero.
inline uint8_t clampTruncU8(float v) { return static_cast<uint8_t>(std::min(std::max(v, 0.0f), 255.0f)); }

// rgb_to_grayscale on uint8: float32 sum of the three products, left to right, truncated.
inline uint8_t grayU8(uint8_t r, uint8_t g, uint8_t b) {
  const float v = 0.2989f * static_cast<float>(r) + 0.587f * static_cast<float>(g) + 0.114f * static_cast<float>(b);
  return static_cast<uint8_t>(v);
}

// _blend(img, other, ratio) with a per-pixel uint8 `other` (saturation) or a constant (others).
void blendWithConstant(Image& img, double ratio, float other) {
  const float a = static_cast<float>(ratio);
  const float bOther = static_cast<float>(1.0 - ratio) * other;  // torch: (1 - ratio) * other, one rounding
  for (uint8_t& p : img.data) p = clampTruncU8(a * static_cast<float>(p) + bOther);
}

// Hue shift of one row held as planar float32 channels, in place. Mirrors _rgb2hsv, the modulo
// and _hsv2rgb op by op.
void hueShiftRow(float* r, float* g, float* b, int n, float shift) {
  for (int i = 0; i < n; ++i) {
    const float R = r[i], G = g[i], B = b[i];
    const float maxc = std::max(R, std::max(G, B));
    const float minc = std::min(R, std::min(G, B));
    const bool eqc = maxc == minc;
    const float cr = maxc - minc;
    const float s = cr / (eqc ? 1.0f : maxc);
    const float crDiv = eqc ? 1.0f : cr;
    const float rc = (maxc - R) / crDiv;
    const float gc = (maxc - G) / crDiv;
    const float bc = (maxc - B) / crDiv;
    const float hr = maxc == R ? bc - gc : 0.0f;
    const float hg = (maxc == G && maxc != R) ? (2.0f + rc) - bc : 0.0f;
    const float hb = (maxc != G && maxc != R) ? (4.0f + gc) - rc : 0.0f;
    float h = (hr + hg) + hb;
    h = h / 6.0f + 1.0f;
    h = h >= 1.0f ? h - 1.0f : h;  // fmod(h, 1) for h in [5/6, 11/6]: exact
    // (h + shift) % 1.0 with Python semantics: fmod is exact, a negative remainder gets + 1.
    float hs = h + shift;
    hs = hs >= 1.0f ? hs - 1.0f : hs;
    hs = hs < 0.0f ? hs + 1.0f : hs;
    // _hsv2rgb
    const float h6 = hs * 6.0f;
    const float fi = std::floor(h6);
    const float f = h6 - fi;
    int sector = static_cast<int>(fi) % 6;
    const float v = maxc;
    const float p = std::min(std::max(v * (1.0f - s), 0.0f), 1.0f);
    const float q = std::min(std::max(v * (1.0f - s * f), 0.0f), 1.0f);
    const float t = std::min(std::max(v * (1.0f - s * (1.0f - f)), 0.0f), 1.0f);
    // Per sector (R, G, B): 0 (v,t,p) 1 (q,v,p) 2 (p,v,t) 3 (p,q,v) 4 (t,p,v) 5 (v,p,q).
    r[i] = sector == 0 || sector == 5 ? v : sector == 1 ? q : sector == 4 ? t : p;
    g[i] = sector == 1 || sector == 2 ? v : sector == 0 ? t : sector == 3 ? q : p;
    b[i] = sector == 3 || sector == 4 ? v : sector == 2 ? t : sector == 5 ? q : p;
  }
}

}  // namespace

void adjustBrightness(Image& img, double factor) { blendWithConstant(img, factor, 0.0f); }

void adjustContrast(Image& img, double factor) {
  // mean of the uint8 grayscale image as float32: the integer sum is exact, one rounding at the end.
  const size_t n = static_cast<size_t>(img.width) * img.height;
  uint64_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += grayU8(img.data[3 * i], img.data[3 * i + 1], img.data[3 * i + 2]);
  const float mean = n ? static_cast<float>(static_cast<double>(sum) / static_cast<double>(n)) : 0.0f;
  blendWithConstant(img, factor, mean);
}

void adjustSaturation(Image& img, double factor) {
  const float a = static_cast<float>(factor);
  const float b = static_cast<float>(1.0 - factor);
  const size_t n = static_cast<size_t>(img.width) * img.height;
  for (size_t i = 0; i < n; ++i) {
    uint8_t* px = &img.data[3 * i];
    const float gray = static_cast<float>(grayU8(px[0], px[1], px[2]));
    const float other = b * gray;
    for (int c = 0; c < kChannels; ++c) px[c] = clampTruncU8(a * static_cast<float>(px[c]) + other);
  }
}

void adjustHue(Image& img, double shift) {
  const float s = static_cast<float>(shift);
  const int w = img.width;
  std::vector<float> r(w), g(w), b(w);
  for (int y = 0; y < img.height; ++y) {
    uint8_t* row = img.row(y);
    for (int x = 0; x < w; ++x) {  // convert_image_dtype(uint8 -> float32): x / 255
      r[x] = static_cast<float>(row[3 * x]) / 255.0f;
      g[x] = static_cast<float>(row[3 * x + 1]) / 255.0f;
      b[x] = static_cast<float>(row[3 * x + 2]) / 255.0f;
    }
    hueShiftRow(r.data(), g.data(), b.data(), w, s);
    for (int x = 0; x < w; ++x) {  // convert_image_dtype(float32 -> uint8): trunc(x * 255.999)
      row[3 * x] = static_cast<uint8_t>(r[x] * 255.999f);
      row[3 * x + 1] = static_cast<uint8_t>(g[x] * 255.999f);
      row[3 * x + 2] = static_cast<uint8_t>(b[x] * 255.999f);
    }
  }
}

}  // namespace stic::image
