// Batched image corruptions with provenance. Each image has its own seed; every random choice is
// drawn from that seed's counter-based streams (random.h), so an image's result never depends on
// the rest of the batch or on threads. Each result carries the parameters it drew.
//
// Draws from the Params stream, in order (draw i = words 2i, 2i+1, a 53-bit uniform u):
//   stic:      u < lowresProbability -> lowres, else jitter; then that kind's draws follow
//   lowres:    size = lo + floor(u (hi - lo + 1))
//   jitter:    3 draws for the order (Fisher-Yates: for i = 3, 2, 1: swap(perm[i], perm[floor(u (i + 1))]),
//              perm starts as [brightness, contrast, saturation, hue]), then one draw per factor in
//              that fixed order, factor = lo + (hi - lo) u (drawn even when the op is disabled)
//   noise:     sigma = lo + (hi - lo) u
//   diffusion: step = lo + floor(u (hi - lo + 1)), then abar_step of the linear beta schedule
//   blur:      sigma = lo + (hi - lo) u; kernel size fixed or autoBlurKernelSize(sigma)
//   mask:      ratio = lo + (hi - lo) u; patches from the Mask stream (mask.h)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "cpu/image.h"

namespace stic::image {

enum class CorruptionKind { LowRes, Jitter, Noise, Diffusion, Blur, Mask, Stic };
const char* corruptionKindName(CorruptionKind k);

enum class JitterOp { Brightness = 0, Contrast = 1, Saturation = 2, Hue = 3 };
const char* jitterOpName(JitterOp op);

struct Range {
  double lo = 0.0, hi = 0.0;
  bool enabled = false;
};

struct CorruptionSpec {
  CorruptionKind kind = CorruptionKind::Stic;
  int lowresMin = 20, lowresMax = 20;               // lowres: shorter side in pixels
  Range jitter[4] = {{0.5, 1.5, true}, {}, {}, {-0.3, 0.3, true}};  // indexed by JitterOp; STIC defaults
  Range noiseSigma = {0.1, 0.1, true};              // noise: sigma in [0, 1] pixel units
  int stepMin = 500, stepMax = 500;                 // diffusion step t (0-based)
  int steps = 1000;
  double betaStart = 1e-4, betaEnd = 0.02;
  Range blurSigma = {0.1, 2.0, true};               // blur (torchvision GaussianBlur's default range)
  int blurKernel = 0;                               // odd; 0: autoBlurKernelSize(sigma)
  int patchSize = 14;                               // mask
  Range maskRatio = {0.5, 0.5, true};
  uint8_t maskFill[kChannels] = {0, 0, 0};
  double lowresProbability = 0.5;                   // stic
};

struct CorruptionParams {
  CorruptionKind kind = CorruptionKind::Stic;  // the corruption applied (lowres or jitter for stic)
  int size = 0;                                // lowres
  int jitterOrder[4] = {0, 1, 2, 3};           // jitter: JitterOp values in application order
  double jitterFactor[4] = {0, 0, 0, 0};       // jitter: factor per JitterOp
  bool jitterEnabled[4] = {false, false, false, false};
  double sigma = 0.0;                          // noise, blur
  int step = 0;                                // diffusion
  double alphaBar = 0.0;                       // diffusion
  int kernelSize = 0;                          // blur
  double ratio = 0.0;                          // mask
  std::vector<int> masked;                     // mask: sorted patch indices
};

struct CorruptionResult {
  Image image;  // (H', W', C); lowres changes the size, the others keep it
  CorruptionParams params;
};

Status validateCorruptionSpec(const CorruptionSpec& spec);

// Draws the parameters of one image (no pixel work).
CorruptionParams drawCorruptionParams(uint64_t seed, const CorruptionSpec& spec);

CorruptionResult corruptImage(ImageView src, uint64_t seed, const CorruptionSpec& spec);

// out[i] = corruptImage(images[i], seeds[i], spec), spread over the OpenMP team.
Status corruptBatch(const std::vector<ImageView>& images, const std::vector<uint64_t>& seeds, const CorruptionSpec& spec,
                    std::vector<CorruptionResult>& out);

}  // namespace stic::image
