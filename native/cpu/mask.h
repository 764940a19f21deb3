// Random patch masking of an (H, W, C) uint8 image, in place: the image is cut into a grid of
// patch x patch squares (ceil(W / patch) x ceil(H / patch), partial squares at the right and bottom
// edges), round(ratio * count) of them are chosen uniformly without replacement and filled.
// Choice: partial Fisher-Yates over [0, count) with draws from the seed's Mask stream,
// j = i + floor(u_i * (count - i)); patch index = gy * gridWidth + gx.
#pragma once
#include <cstdint>
#include <vector>

#include "cpu/image.h"

namespace stic::image {

// Sorted patch indices to mask.
std::vector<int> choosePatches(uint64_t seed, int width, int height, int patch, double ratio);
void fillPatches(Image& img, int patch, const std::vector<int>& patches, const uint8_t fill[kChannels]);

}  // namespace stic::image
