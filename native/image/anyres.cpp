// LLaVA-NeXT anyres crops (see anyres.h).
#include "image/anyres.h"

#include <cstring>
#include <vector>

namespace stic::image {
namespace {

WeightBits bitsFor(AnyresBackend b) { return b == AnyresBackend::Torchvision ? WeightBits::TorchInt16 : WeightBits::Pillow; }

// The normalised value of every uint8 level per channel, as the backend computes it.
void normalisationTable(const AnyresOptions& o, float lut[kChannels][256]) {
  for (int c = 0; c < kChannels; ++c) {
    // torchvision: mean and std scaled by 255 in float32 (torch.tensor(mean) * 255), then one
    // subtraction and one division in float32.
    const float mean255 = o.mean[c] * 255.0f, std255 = o.std[c] * 255.0f;
    for (int v = 0; v < 256; ++v) {
      if (o.backend == AnyresBackend::Torchvision) {
        lut[c][v] = (static_cast<float>(v) - mean255) / std255;
      } else {
        const float x = static_cast<float>(static_cast<double>(v) * (1.0 / 255.0));
        lut[c][v] = (x - o.mean[c]) / o.std[c];
      }
    }
  }
}

// One S x S window of img (HWC) at (x0, y0) into out (C, S, S) through the table.
void writeCrop(const Image& img, int x0, int y0, int S, const float lut[kChannels][256], float* out) {
  const size_t plane = static_cast<size_t>(S) * S;
  for (int y = 0; y < S; ++y) {
    const uint8_t* row = img.data.data() + (static_cast<size_t>(y0 + y) * img.width + x0) * kChannels;
    for (int x = 0; x < S; ++x) {
      for (int c = 0; c < kChannels; ++c) out[c * plane + static_cast<size_t>(y) * S + x] = lut[c][row[x * kChannels + c]];
    }
  }
}

}  // namespace

Status validateAnyresOptions(const AnyresOptions& o) {
  STIC_CHECK_ARG(o.crop >= 1 && o.crop <= 8192, "Expected a crop side between 1 and 8192 for crop but received ", o.crop);
  STIC_CHECK_ARG(o.canvasWidth >= o.crop && o.canvasHeight >= o.crop && o.canvasWidth % o.crop == 0 && o.canvasHeight % o.crop == 0 &&
                     o.canvasWidth <= 65536 && o.canvasHeight <= 65536,
                 "Expected a canvas whose sides are multiples of the crop side ", o.crop, " but received ", o.canvasWidth, " x ",
                 o.canvasHeight);
  STIC_CHECK_ARG(o.resizedWidth >= 1 && o.resizedHeight >= 1 && o.resizedWidth <= o.canvasWidth && o.resizedHeight <= o.canvasHeight,
                 "Expected a resized size inside the ", o.canvasWidth, " x ", o.canvasHeight, " canvas but received ", o.resizedWidth,
                 " x ", o.resizedHeight);
  for (int c = 0; c < kChannels; ++c) {
    STIC_CHECK_ARG(o.std[c] > 0.0f, "Expected positive values for std but received ", o.std[c], " for channel ", c);
  }
  return Status::ok();
}

Image anyresCanvas(ImageView src, const AnyresOptions& o) {
  const Image resized = resizePil(src, o.resizedWidth, o.resizedHeight, Filter::Bicubic, bitsFor(o.backend));
  Image canvas = Image::blank(o.canvasWidth, o.canvasHeight);  // black
  const int left = (o.canvasWidth - o.resizedWidth) / 2, top = (o.canvasHeight - o.resizedHeight) / 2;
  const size_t rowBytes = static_cast<size_t>(o.resizedWidth) * kChannels;
  for (int y = 0; y < o.resizedHeight; ++y) {
    std::memcpy(canvas.row(top + y) + static_cast<size_t>(left) * kChannels, resized.data.data() + y * rowBytes, rowBytes);
  }
  return canvas;
}

void anyresCrops(ImageView src, const AnyresOptions& o, float* out) {
  const int S = o.crop;
  const size_t perCrop = static_cast<size_t>(kChannels) * S * S;
  float lut[kChannels][256];
  normalisationTable(o, lut);
  const Image base = resizePil(src, S, S, Filter::Bicubic, bitsFor(o.backend));
  writeCrop(base, 0, 0, S, lut, out);
  const Image canvas = anyresCanvas(src, o);
  size_t k = 1;
  for (int y0 = 0; y0 < o.canvasHeight; y0 += S) {
    for (int x0 = 0; x0 < o.canvasWidth; x0 += S) writeCrop(canvas, x0, y0, S, lut, out + perCrop * k++);
  }
}

}  // namespace stic::image
