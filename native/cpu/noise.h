// Additive noise corruptions on (H, W, C) uint8 images, in place. The noise value of byte i of the
// image (row-major over H, W, C) is normal i of the image seed's Pixels stream (random.h), so a
// TypeScript reference can recompute every pixel.
//   gaussianNoise:  y = round(x + 255 * sigma * z)                     (sigma in [0, 1] pixel units)
//   diffusionNoise: x' = x / 127.5 - 1;  x_t = sqrt(abar_t) x' + sqrt(1 - abar_t) z;
//                   y = round((x_t + 1) * 127.5)      (DDPM forward process q(x_t | x_0), Ho et al. 2020)
// Both clamp to [0, 255] and round half to even.
#pragma once
#include "cpu/image.h"
#include "cpu/random.h"

namespace stic::image {

// Linear beta schedule beta_i = start + (end - start) * i / (steps - 1), i = 0 .. steps-1 (DDPM;
// POVID uses 1e-4 .. 0.02 over 1000 steps); returns abar_t = prod_{i <= t} (1 - beta_i) in float64.
double diffusionAlphaBar(int t, int steps, double betaStart, double betaEnd);

void gaussianNoise(Image& img, PhiloxKey key, double sigma);
void diffusionNoise(Image& img, PhiloxKey key, double alphaBar);

}  // namespace stic::image
