// Resize + crop + normalise, bit-compatible with HF's CLIPImageProcessor on uint8 input: Pillow
// resize (resample.cpp), crop offsets (h - S) // 2, rescale in float64 then cast to float32, and
// (x - mean) / std in float32.
#include "image/preprocess.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>

namespace stic::image {

Status validatePreprocessOptions(const PreprocessOptions& o) {
  STIC_CHECK_ARG(o.size >= 1 && o.size <= 8192, "Expected a size between 1 and 8192 for size but received ", o.size);
  STIC_CHECK_ARG(o.crop >= 1 && o.crop <= o.size, "Expected a crop size between 1 and size (", o.size,
                 ") for crop but received ", o.crop);
  for (int c = 0; c < kChannels; ++c) {
    STIC_CHECK_ARG(o.std[c] > 0.0f, "Expected positive values for std but received ", o.std[c], " for channel ", c);
  }
  return Status::ok();
}

Image expandToSquare(ImageView src, const uint8_t color[kChannels]) {
  const int side = std::max(src.width, src.height);
  Image out = Image::blank(side, side);
  for (size_t i = 0; i < out.data.size(); i += kChannels) std::memcpy(&out.data[i], color, kChannels);
  const int x0 = (side - src.width) / 2, y0 = (side - src.height) / 2;
  const size_t rowBytes = static_cast<size_t>(src.width) * kChannels;
  for (int y = 0; y < src.height; ++y) {
    std::memcpy(out.row(y0 + y) + static_cast<size_t>(x0) * kChannels, src.data + y * rowBytes, rowBytes);
  }
  return out;
}

void preprocessImage(ImageView src, const PreprocessOptions& o, float* out /*(C, S, S)*/) {
  Image square;
  if (o.mode == PreprocessMode::Pad && src.width != src.height) {
    square = expandToSquare(src, o.padColor);
    src = square.view();
  }
  int rw = 0, rh = 0;
  shorterSideSize(src.width, src.height, o.size, rw, rh);
  const Window crop{(rw - o.crop) / 2, (rh - o.crop) / 2, o.crop, o.crop};
  std::vector<uint8_t> pixels(static_cast<size_t>(o.crop) * o.crop * kChannels);  // (S, S, C)
  resizePilInto(src, rw, rh, o.filter, crop, pixels.data());
  // HF rescale: float64 multiply by 1/255, then float32; normalise in float32.
  float lut[kChannels][256];
  for (int c = 0; c < kChannels; ++c) {
    for (int v = 0; v < 256; ++v) {
      const float x = static_cast<float>(static_cast<double>(v) * (1.0 / 255.0));
      lut[c][v] = (x - o.mean[c]) / o.std[c];
    }
  }
  const size_t plane = static_cast<size_t>(o.crop) * o.crop;
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < kChannels; ++c) out[c * plane + i] = lut[c][pixels[i * kChannels + c]];
  }
}

Status preprocessBatch(const std::vector<ImageView>& images, const PreprocessOptions& o, float* out) {
  STIC_RETURN_IF_ERROR(validatePreprocessOptions(o));
  const size_t perImage = static_cast<size_t>(kChannels) * o.crop * o.crop;
  const int n = static_cast<int>(images.size());
  std::string failure;  // exceptions must not cross the OpenMP region
#pragma omp parallel for schedule(dynamic, 1)
  for (int i = 0; i < n; ++i) {
    try {
      preprocessImage(images[i], o, out + perImage * i);
    } catch (const std::exception& e) {
#pragma omp critical(stic_image_failure)
      if (failure.empty()) failure = "image " + std::to_string(i) + ": " + e.what();
    }
  }
  if (!failure.empty()) return error(Code::OutOfMemory, "preprocessing failed: ", failure);
  return Status::ok();
}

}  // namespace stic::image
