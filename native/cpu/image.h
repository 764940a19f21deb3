// Image types shared by the CPU image kernels (preprocessing and corruptions).
// Legend for shape comments in the image kernels (native/cpu/{blur,color,mask,noise,resample}.h)
// and in native/image/: N images, H height, W width, C = 3 colour channels
// (R, G, B), S square output side. Pixels are uint8 RGB, interleaved (HWC): that is what sharp
// decodes to and encodes from, so no transpose happens on the way in or out; only the final
// float tensor for the vision tower is planar (CHW).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace stic::image {

constexpr int kChannels = 3;

// A read-only view of an image owned elsewhere (a JS Uint8Array, a std::vector).
struct ImageView {
  const uint8_t* data = nullptr;  // (H, W, C)
  int width = 0;
  int height = 0;
  size_t bytes() const { return static_cast<size_t>(width) * height * kChannels; }
};

// An image that owns its pixels.
struct Image {
  std::vector<uint8_t> data;  // (H, W, C)
  int width = 0;
  int height = 0;

  static Image blank(int width, int height) {
    Image im;
    im.width = width;
    im.height = height;
    im.data.assign(static_cast<size_t>(width) * height * kChannels, 0);
    return im;
  }
  ImageView view() const { return {data.data(), width, height}; }
  uint8_t* row(int y) { return data.data() + static_cast<size_t>(y) * width * kChannels; }
};

}  // namespace stic::image
