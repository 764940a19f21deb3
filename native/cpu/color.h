// Colour adjustments with the exact uint8 semantics of torchvision's tensor functional ops
// (torchvision/transforms/_functional_tensor.py), which is what the STIC fixtures were made with:
//   brightness/contrast/saturation: _blend(img, other, f) = (f * img + (1 - f) * other), float32,
//     clamped to [0, 255] and truncated to uint8; other = 0, the mean of the uint8 grayscale image,
//     or the uint8 grayscale image (grayscale = trunc(0.2989 r + 0.587 g + 0.114 b));
//   hue: x / 255 -> HSV (float32) -> h = (h + f) mod 1 -> RGB -> trunc(x * 255.999).
// Note this differs from torchvision on *PIL* images (which shifts hue in uint8 HSV).
// Images are (H, W, C) uint8, modified in place.
#pragma once
#include "cpu/image.h"

namespace stic::image {

void adjustBrightness(Image& img, double factor);  // factor >= 0
void adjustContrast(Image& img, double factor);    // factor >= 0
void adjustSaturation(Image& img, double factor);  // factor >= 0
void adjustHue(Image& img, double shift);          // shift in [-0.5, 0.5] of the hue circle

}  // namespace stic::image
