#include "cpu/mask.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "cpu/random.h"

namespace stic::image {

std::vector<int> choosePatches(uint64_t seed, int width, int height, int patch, double ratio) {
  const int gw = (width + patch - 1) / patch, gh = (height + patch - 1) / patch;
  const int count = gw * gh;
  const int chosen = std::min(count, static_cast<int>(std::floor(ratio * count + 0.5)));
  std::vector<int> order(count);
  std::iota(order.begin(), order.end(), 0);
  ParamDraws draws(seed, Stream::Mask);
  for (int i = 0; i < chosen; ++i) {
    const int j = i + static_cast<int>(draws.below(static_cast<uint64_t>(count - i)));
    std::swap(order[i], order[j]);
  }
  order.resize(chosen);
  std::sort(order.begin(), order.end());
  return order;
}

void fillPatches(Image& img, int patch, const std::vector<int>& patches, const uint8_t fill[kChannels]) {
  const int gw = (img.width + patch - 1) / patch;
  for (int idx : patches) {
    const int x0 = (idx % gw) * patch, y0 = (idx / gw) * patch;
    const int x1 = std::min(x0 + patch, img.width), y1 = std::min(y0 + patch, img.height);
    for (int y = y0; y < y1; ++y) {
      uint8_t* row = img.row(y);
      for (int x = x0; x < x1; ++x)
        for (int c = 0; c < kChannels; ++c) row[x * kChannels + c] = fill[c];
    }
  }
}

}  // namespace stic::image
