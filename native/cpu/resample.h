// Pillow-compatible resampling of uint8 RGB images (Image.resize on an "RGB" image, 8-bit path).
//
// Why our own and not sharp's: LLaVA's CLIPImageProcessor and torchvision's Resize on PIL images
// resize with Pillow. Pillow convolves with the filter stretched by the scale factor over the whole
// input when shrinking (support = 2 * scale for bicubic, a = -0.5), in two passes (horizontal, then
// vertical) with 22-bit fixed-point weights and a rounding to uint8 after each pass. libvips (sharp)
// instead shrinks by large integer factors with a box filter first and only then applies its kernel
// ("cubic" is Catmull-Rom, also a = -0.5, but over a different, pre-shrunk support), centres the
// sample grid differently when upscaling, and rounds differently; on the 96x64 -> 84x56 fixture it
// misses by several levels at edges. Reproducing Pillow's arithmetic is the only way to give the
// model the pixels it was trained on, so preprocessing and the low-resolution corruption use this.
#pragma once
#include <cstdint>
#include <vector>

#include "cpu/image.h"

namespace stic::image {

enum class Filter { Bilinear, Bicubic };

// Fixed-point weights of a pass. Pillow: 22 fractional bits. TorchInt16: torch's uint8 antialiased
// resize (what torchvision's Resize does to a uint8 tensor, and so transformers 5's default image
// processors): the same normalised weights as Pillow, stored as int16 with the most fractional bits
// that keep the axis' largest weight below 2^15. The passes, the order (horizontal first) and the
// rounding are otherwise the same; the two differ by +-1 in a few output values.
enum class WeightBits { Pillow, TorchInt16 };

// A rectangle of the resized image: columns [x, x + width), rows [y, y + height).
struct Window {
  int x = 0, y = 0, width = 0, height = 0;
};

// Writes `window` of `src` resized to outWidth x outHeight into dst (window.height, window.width, C).
// Only the window is computed; every pixel equals Pillow's full resize followed by a crop.
void resizePilInto(ImageView src, int outWidth, int outHeight, Filter filter, Window window, uint8_t* dst,
                   WeightBits bits = WeightBits::Pillow);

// The whole resized image.
Image resizePil(ImageView src, int outWidth, int outHeight, Filter filter, WeightBits bits = WeightBits::Pillow);

// Output size of "resize the shorter side to `shorter`" as torchvision's Resize(int) and the HF
// image processors compute it: the longer side is int(shorter * long / short), truncated.
void shorterSideSize(int width, int height, int shorter, int& outWidth, int& outHeight);

}  // namespace stic::image
