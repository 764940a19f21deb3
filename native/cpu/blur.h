// Gaussian blur of an (H, W, C) uint8 image, in place, as torchvision's gaussian_blur on a uint8
// tensor: kernel w_j = exp(-((j - r) / sigma)^2 / 2) normalised, j = 0 .. k-1, r = (k - 1) / 2;
// reflect padding (edge pixel not repeated); float32 math; round half to even. The 2-D kernel is the
// outer product of the 1-D one, so two 1-D passes give the same result up to float rounding.
#pragma once
#include <vector>

#include "cpu/image.h"

namespace stic::image {

// Odd kernel size used when none is given: covers +-3 sigma.
int autoBlurKernelSize(double sigma);
std::vector<float> gaussianKernel1d(int size, double sigma);  // (size), sums to 1
void gaussianBlur(Image& img, int kernelSize, double sigma);

}  // namespace stic::image
