// Pillow-style separable resampling (see resample.h for why). Weights follow Pillow's
// precompute_coeffs: output pixel xx samples the input around center = (xx + 0.5) * scale with the
// filter stretched by max(scale, 1), normalised to sum 1, then rounded to 22-bit fixed point.
#include "cpu/resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace stic::image {
namespace {

constexpr int kPillowBits = 32 - 8 - 2;  // Pillow: 8 bits of result, 2 of headroom for overshoot

double bilinearWeight(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Keys' cubic convolution with a = -0.5 (Pillow's BICUBIC).
double bicubicWeight(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// Fixed-point weights of one axis: output i reads inputs [first[i], first[i] + count[i]).
struct AxisWeights {
  int bits = kPillowBits;       // fractional bits of the fixed-point weights
  int taps = 0;                 // maximum taps per output
  std::vector<int> first;       // (out)
  std::vector<int> count;       // (out)
  std::vector<int32_t> weight;  // (out, taps)
};

// torch's _compute_indices_int16_weights_aa: the first precision whose doubled value would push the
// largest weight to 2^15 or beyond stops the search (at most 22 bits).
int torchInt16Bits(const std::vector<double>& weights) {
  double wMax = weights.empty() ? 0.0 : weights[0];
  for (double v : weights) wMax = std::max(wMax, v);
  int bits = 0;
  for (; bits < 22; ++bits) {
    if (static_cast<int>(0.5 + wMax * static_cast<double>(1 << (bits + 1))) >= (1 << 15)) break;
  }
  return bits;
}

AxisWeights axisWeights(int inSize, int outSize, Filter filter, WeightBits bits) {
  const double support0 = filter == Filter::Bicubic ? 2.0 : 1.0;
  const double scale = static_cast<double>(inSize) / outSize;
  const double filterScale = std::max(scale, 1.0);  // stretch the kernel only when shrinking (antialias)
  const double support = support0 * filterScale;
  AxisWeights w;
  w.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  w.first.resize(outSize);
  w.count.resize(outSize);
  w.weight.assign(static_cast<size_t>(outSize) * w.taps, 0);
  std::vector<double> normalised(static_cast<size_t>(outSize) * w.taps, 0.0);  // (out, taps)
  std::vector<double> k(w.taps);
  const double invScale = 1.0 / filterScale;  // Pillow multiplies by the reciprocal; keep its rounding
  for (int i = 0; i < outSize; ++i) {
    const double center = (i + 0.5) * scale;
    // Pillow rounds the window ends with (int)(v + 0.5), i.e. truncation after adding a half.
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(center + support + 0.5), inSize);
    const int n = hi - lo;
    double sum = 0.0;
    for (int t = 0; t < n; ++t) {
      const double x = (t + lo - center + 0.5) * invScale;
      k[t] = filter == Filter::Bicubic ? bicubicWeight(x) : bilinearWeight(x);
      sum += k[t];
    }
    for (int t = 0; t < n; ++t) normalised[static_cast<size_t>(i) * w.taps + t] = sum != 0.0 ? k[t] / sum : k[t];
    w.first[i] = lo;
    w.count[i] = n;
  }
  w.bits = bits == WeightBits::Pillow ? kPillowBits : torchInt16Bits(normalised);
  for (size_t j = 0; j < normalised.size(); ++j) {
    const double v = normalised[j] * static_cast<double>(1 << w.bits);
    w.weight[j] = static_cast<int32_t>(v < 0 ? v - 0.5 : v + 0.5);
  }
  return w;
}

inline uint8_t clip8(int32_t acc, int bits) {
  const int32_t v = acc >> bits;  // arithmetic shift, as Pillow's lookup table index
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// One output pixel of the horizontal pass, scalar: Pillow's loop.
inline void horizontalPixel(const uint8_t* p, const int32_t* k, int count, int bits, uint8_t* out) {
  int32_t a0 = 1 << (bits - 1), a1 = a0, a2 = a0;
  for (int t = 0; t < count; ++t) {
    a0 += p[3 * t + 0] * k[t];
    a1 += p[3 * t + 1] * k[t];
    a2 += p[3 * t + 2] * k[t];
  }
  out[0] = clip8(a0, bits);
  out[1] = clip8(a1, bits);
  out[2] = clip8(a2, bits);
}

// Horizontal pass over rows [y0, y0 + rows) of src, output columns [x0, x0 + width). A row equal
// to the previous one (the flat bands of a padded canvas) reuses its result.
void horizontalPass(ImageView src, int y0, int rows, const AxisWeights& w, int x0, int width, uint8_t* dst) {
  const size_t inRow = static_cast<size_t>(src.width) * kChannels, outRow = static_cast<size_t>(width) * kChannels;
  const uint8_t* end = src.data + src.bytes();
#if defined(__AVX2__)
  // Integer sums are exact in any order, so two taps per step (8 int32 lanes: two pixels' R, G, B
  // and a zero lane) give Pillow's result bit for bit. Weights are expanded to [k, k, k, 0] per tap
  // and padded with zero taps to an even count.
  const int taps2 = w.taps + (w.taps & 1);
  std::vector<int32_t> k4(static_cast<size_t>(width) * taps2 * 4, 0);
  for (int xx = 0; xx < width; ++xx) {
    const int32_t* k = &w.weight[static_cast<size_t>(x0 + xx) * w.taps];
    for (int t = 0; t < w.count[x0 + xx]; ++t)
      for (int c = 0; c < kChannels; ++c) k4[(static_cast<size_t>(xx) * taps2 + t) * 4 + c] = k[t];
  }
  const __m128i spread = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, -1, -1, -1, -1, -1, -1, -1, -1);
#endif
  for (int r = 0; r < rows; ++r) {
    const uint8_t* in = src.data + static_cast<size_t>(y0 + r) * inRow;
    uint8_t* out = dst + static_cast<size_t>(r) * outRow;
    if (r > 0 && std::memcmp(in, in - inRow, inRow) == 0) {
      std::memcpy(out, out - outRow, outRow);
      continue;
    }
    for (int xx = 0; xx < width; ++xx) {
      const int i = x0 + xx;
      const uint8_t* p = in + static_cast<size_t>(w.first[i]) * kChannels;
      const int count = w.count[i];
#if defined(__AVX2__)
      const int even = count + (count & 1);
      if (p + 3 * even + 2 <= end) {  // the last 8-byte load stays inside the image buffer
        const int32_t* k = &k4[static_cast<size_t>(xx) * taps2 * 4];
        __m256i acc = _mm256_setzero_si256();
        for (int t = 0; t < even; t += 2) {
          const __m128i px = _mm_shuffle_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 3 * t)), spread);
          acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(px),
                                                         _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + 4 * t))));
        }
        const __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        alignas(16) int32_t lanes[4];
        _mm_store_si128(reinterpret_cast<__m128i*>(lanes), sum);
        for (int c = 0; c < kChannels; ++c) out[3 * xx + c] = clip8(lanes[c] + (1 << (w.bits - 1)), w.bits);
        continue;
      }
#endif
      horizontalPixel(p, &w.weight[static_cast<size_t>(i) * w.taps], count, w.bits, out + 3 * xx);
    }
  }
  (void)end;
}

// Vertical pass: output row yy reads rows first[yy] - rowOffset ... of `in` (inRowBytes apart).
void verticalPass(const uint8_t* in, size_t inRowBytes, int rowOffset, const AxisWeights& w, int y0, int rows,
                  int rowBytes, uint8_t* dst) {
  std::vector<int32_t> acc(rowBytes);
  for (int yy = 0; yy < rows; ++yy) {
    const int i = y0 + yy;
    const int32_t* k = &w.weight[static_cast<size_t>(i) * w.taps];
    std::fill(acc.begin(), acc.end(), 1 << (w.bits - 1));
    for (int t = 0; t < w.count[i]; ++t) {  // whole rows at a time: the inner loop vectorises
      const uint8_t* row = in + static_cast<size_t>(w.first[i] - rowOffset + t) * inRowBytes;
      const int32_t kt = k[t];
      for (int b = 0; b < rowBytes; ++b) acc[b] += row[b] * kt;
    }
    uint8_t* out = dst + static_cast<size_t>(yy) * rowBytes;
    for (int b = 0; b < rowBytes; ++b) out[b] = clip8(acc[b], w.bits);
  }
}

}  // namespace

void resizePilInto(ImageView src, int outWidth, int outHeight, Filter filter, Window win, uint8_t* dst, WeightBits bits) {
  // Pillow skips a pass whose size does not change (no filtering at all on that axis).
  const bool horizontal = outWidth != src.width;
  const bool vertical = outHeight != src.height;
  const int rowBytes = win.width * kChannels;
  AxisWeights wy;
  int rowFirst = win.y, rowCount = win.height;  // input rows the vertical pass needs
  if (vertical) {
    wy = axisWeights(src.height, outHeight, filter, bits);
    rowFirst = wy.first[win.y];
    const int last = win.y + win.height - 1;
    rowCount = wy.first[last] + wy.count[last] - rowFirst;
  }
  std::vector<uint8_t> tmp;
  const uint8_t* rows = nullptr;  // (rowCount, ?, C) rows feeding the vertical pass
  size_t rowStride = 0;
  if (horizontal) {
    const AxisWeights wx = axisWeights(src.width, outWidth, filter, bits);
    uint8_t* target = vertical ? (tmp.resize(static_cast<size_t>(rowCount) * rowBytes), tmp.data()) : dst;
    horizontalPass(src, rowFirst, rowCount, wx, win.x, win.width, target);
    if (!vertical) return;
    rows = tmp.data();
    rowStride = rowBytes;
  } else {
    rows = src.data + static_cast<size_t>(rowFirst) * src.width * kChannels + static_cast<size_t>(win.x) * kChannels;
    rowStride = static_cast<size_t>(src.width) * kChannels;
    if (!vertical) {
      for (int r = 0; r < win.height; ++r) std::memcpy(dst + static_cast<size_t>(r) * rowBytes, rows + r * rowStride, rowBytes);
      return;
    }
  }
  verticalPass(rows, rowStride, rowFirst, wy, win.y, win.height, rowBytes, dst);
}

Image resizePil(ImageView src, int outWidth, int outHeight, Filter filter, WeightBits bits) {
  Image out = Image::blank(outWidth, outHeight);
  resizePilInto(src, outWidth, outHeight, filter, Window{0, 0, outWidth, outHeight}, out.data.data(), bits);
  return out;
}

void shorterSideSize(int width, int height, int shorter, int& outWidth, int& outHeight) {
  const int shortSide = std::min(width, height), longSide = std::max(width, height);
  // Python's int(size * long / short): exact integer product, true division, truncation.
  const int longOut = static_cast<int>(static_cast<double>(static_cast<int64_t>(shorter) * longSide) / shortSide);
  if (width <= height) {
    outWidth = shorter;
    outHeight = longOut;
  } else {
    outWidth = longOut;
    outHeight = shorter;
  }
}

}  // namespace stic::image
