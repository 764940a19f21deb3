// torchvision-exact colour ops (see color.h). Every float expression mirrors one torch op on a
// float32 tensor: one rounding per op. Fusing a multiply and an add into an FMA would round once
// instead of twice and move some pixels across a truncation boundary, so contraction is off here.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "cpu/color.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

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
// and _hsv2rgb op by op. The scalar path (and the tail of the AVX2 path below).
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
    // Bitwise & and | on the comparisons (not && / ||) keep the loop free of branches: it vectorises.
    const bool isR = maxc == R, isG = maxc == G;
    const float hr = isR ? bc - gc : 0.0f;
    const float hg = (isG & !isR) ? (2.0f + rc) - bc : 0.0f;
    const float hb = (!isG & !isR) ? (4.0f + gc) - rc : 0.0f;
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
    const float sector = fi >= 6.0f ? fi - 6.0f : fi;  // i % 6 for i in [0, 6]
    const float v = maxc;
    const float p = std::min(std::max(v * (1.0f - s), 0.0f), 1.0f);
    const float q = std::min(std::max(v * (1.0f - s * f), 0.0f), 1.0f);
    const float t = std::min(std::max(v * (1.0f - s * (1.0f - f)), 0.0f), 1.0f);
    // Per sector (R, G, B): 0 (v,t,p) 1 (q,v,p) 2 (p,v,t) 3 (p,q,v) 4 (t,p,v) 5 (v,p,q).
    const bool s0 = sector == 0.0f, s1 = sector == 1.0f, s2 = sector == 2.0f;
    const bool s3 = sector == 3.0f, s4 = sector == 4.0f, s5 = sector == 5.0f;
    r[i] = (s0 | s5) ? v : s1 ? q : s4 ? t : p;
    g[i] = (s1 | s2) ? v : s0 ? t : s3 ? q : p;
    b[i] = (s3 | s4) ? v : s2 ? t : s5 ? q : p;
  }
}

#if defined(__AVX2__)
// hueShiftRow for 8 pixels at a time: the same float32 operations, one intrinsic each (no FMA), so
// results are bit-identical to the scalar loop.
void hueShiftRowAvx2(float* r, float* g, float* b, int n, float shift) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.0f);
  const __m256 vshift = _mm256_set1_ps(shift);
  auto sel = [](__m256 mask, __m256 yes, __m256 no) { return _mm256_blendv_ps(no, yes, mask); };
  auto eq = [](__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); };
  auto clamp01 = [&](__m256 x) { return _mm256_min_ps(_mm256_max_ps(x, zero), one); };
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 R = _mm256_loadu_ps(r + i), G = _mm256_loadu_ps(g + i), B = _mm256_loadu_ps(b + i);
    const __m256 maxc = _mm256_max_ps(R, _mm256_max_ps(G, B));
    const __m256 minc = _mm256_min_ps(R, _mm256_min_ps(G, B));
    const __m256 eqc = eq(maxc, minc);
    const __m256 cr = _mm256_sub_ps(maxc, minc);
    const __m256 s = _mm256_div_ps(cr, sel(eqc, one, maxc));
    const __m256 crDiv = sel(eqc, one, cr);
    const __m256 rc = _mm256_div_ps(_mm256_sub_ps(maxc, R), crDiv);
    const __m256 gc = _mm256_div_ps(_mm256_sub_ps(maxc, G), crDiv);
    const __m256 bc = _mm256_div_ps(_mm256_sub_ps(maxc, B), crDiv);
    const __m256 isR = eq(maxc, R), isG = eq(maxc, G);
    const __m256 hr = _mm256_and_ps(isR, _mm256_sub_ps(bc, gc));
    const __m256 hg = _mm256_andnot_ps(isR, _mm256_and_ps(isG, _mm256_sub_ps(_mm256_add_ps(_mm256_set1_ps(2.0f), rc), bc)));
    const __m256 hb = _mm256_andnot_ps(_mm256_or_ps(isR, isG), _mm256_sub_ps(_mm256_add_ps(_mm256_set1_ps(4.0f), gc), rc));
    __m256 h = _mm256_add_ps(_mm256_add_ps(hr, hg), hb);
    h = _mm256_add_ps(_mm256_div_ps(h, six), one);
    h = sel(_mm256_cmp_ps(h, one, _CMP_GE_OQ), _mm256_sub_ps(h, one), h);
    __m256 hs = _mm256_add_ps(h, vshift);
    hs = sel(_mm256_cmp_ps(hs, one, _CMP_GE_OQ), _mm256_sub_ps(hs, one), hs);
    hs = sel(_mm256_cmp_ps(hs, zero, _CMP_LT_OQ), _mm256_add_ps(hs, one), hs);
    const __m256 h6 = _mm256_mul_ps(hs, six);
    const __m256 fi = _mm256_floor_ps(h6);
    const __m256 f = _mm256_sub_ps(h6, fi);
    const __m256 sector = sel(_mm256_cmp_ps(fi, six, _CMP_GE_OQ), _mm256_sub_ps(fi, six), fi);
    const __m256 v = maxc;
    const __m256 p = clamp01(_mm256_mul_ps(v, _mm256_sub_ps(one, s)));
    const __m256 q = clamp01(_mm256_mul_ps(v, _mm256_sub_ps(one, _mm256_mul_ps(s, f))));
    const __m256 t = clamp01(_mm256_mul_ps(v, _mm256_sub_ps(one, _mm256_mul_ps(s, _mm256_sub_ps(one, f)))));
    const __m256 s0 = eq(sector, zero), s1 = eq(sector, one), s2 = eq(sector, _mm256_set1_ps(2.0f));
    const __m256 s3 = eq(sector, _mm256_set1_ps(3.0f)), s4 = eq(sector, _mm256_set1_ps(4.0f));
    const __m256 s5 = eq(sector, _mm256_set1_ps(5.0f));
    _mm256_storeu_ps(r + i, sel(_mm256_or_ps(s0, s5), v, sel(s1, q, sel(s4, t, p))));
    _mm256_storeu_ps(g + i, sel(_mm256_or_ps(s1, s2), v, sel(s0, t, sel(s3, q, p))));
    _mm256_storeu_ps(b + i, sel(_mm256_or_ps(s3, s4), v, sel(s2, t, sel(s5, q, p))));
  }
  hueShiftRow(r + i, g + i, b + i, n - i, shift);
}
#endif

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
#if defined(__AVX2__)
    hueShiftRowAvx2(r.data(), g.data(), b.data(), w, s);
#else
    hueShiftRow(r.data(), g.data(), b.data(), w, s);
#endif
    for (int x = 0; x < w; ++x) {  // convert_image_dtype(float32 -> uint8): trunc(x * 255.999)
      row[3 * x] = static_cast<uint8_t>(r[x] * 255.999f);
      row[3 * x + 1] = static_cast<uint8_t>(g[x] * 255.999f);
      row[3 * x + 2] = static_cast<uint8_t>(b[x] * 255.999f);
    }
  }
}

}  // namespace stic::image
