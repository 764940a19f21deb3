#include "image/corrupt.h"

#include <omp.h>

#include <cmath>
#include <exception>
#include <utility>

#include "cpu/blur.h"
#include "cpu/color.h"
#include "cpu/mask.h"
#include "cpu/noise.h"
#include "cpu/random.h"
#include "cpu/resample.h"

namespace stic::image {
namespace {

int drawInt(ParamDraws& d, int lo, int hi) { return lo + static_cast<int>(d.below(static_cast<uint64_t>(hi - lo + 1))); }

void drawJitter(ParamDraws& d, const CorruptionSpec& spec, CorruptionParams& p) {
  int perm[4] = {0, 1, 2, 3};
  for (int i = 3; i >= 1; --i) std::swap(perm[i], perm[d.below(static_cast<uint64_t>(i + 1))]);
  for (int i = 0; i < 4; ++i) p.jitterOrder[i] = perm[i];
  for (int op = 0; op < 4; ++op) {
    p.jitterFactor[op] = d.uniform(spec.jitter[op].lo, spec.jitter[op].hi);
    p.jitterEnabled[op] = spec.jitter[op].enabled;
  }
}

void drawFor(CorruptionKind kind, ParamDraws& d, const CorruptionSpec& spec, CorruptionParams& p) {
  p.kind = kind;
  switch (kind) {
    case CorruptionKind::LowRes:
      p.size = drawInt(d, spec.lowresMin, spec.lowresMax);
      break;
    case CorruptionKind::Jitter:
      drawJitter(d, spec, p);
      break;
    case CorruptionKind::Noise:
      p.sigma = d.uniform(spec.noiseSigma.lo, spec.noiseSigma.hi);
      break;
    case CorruptionKind::Diffusion:
      p.step = drawInt(d, spec.stepMin, spec.stepMax);
      p.alphaBar = diffusionAlphaBar(p.step, spec.steps, spec.betaStart, spec.betaEnd);
      break;
    case CorruptionKind::Blur:
      p.sigma = d.uniform(spec.blurSigma.lo, spec.blurSigma.hi);
      p.kernelSize = spec.blurKernel > 0 ? spec.blurKernel : autoBlurKernelSize(p.sigma);
      break;
    case CorruptionKind::Mask:
      p.ratio = d.uniform(spec.maskRatio.lo, spec.maskRatio.hi);
      break;
    case CorruptionKind::Stic:
      break;  // resolved by the caller
  }
}

void applyJitter(Image& img, const CorruptionParams& p) {
  for (int i = 0; i < 4; ++i) {
    const int op = p.jitterOrder[i];
    if (!p.jitterEnabled[op]) continue;
    const double f = p.jitterFactor[op];
    switch (static_cast<JitterOp>(op)) {
      case JitterOp::Brightness: adjustBrightness(img, f); break;
      case JitterOp::Contrast: adjustContrast(img, f); break;
      case JitterOp::Saturation: adjustSaturation(img, f); break;
      case JitterOp::Hue: adjustHue(img, f); break;
    }
  }
}

Image copyOf(ImageView src) {
  Image im;
  im.width = src.width;
  im.height = src.height;
  im.data.assign(src.data, src.data + src.bytes());
  return im;
}

}  // namespace

const char* corruptionKindName(CorruptionKind k) {
  switch (k) {
    case CorruptionKind::LowRes: return "lowres";
    case CorruptionKind::Jitter: return "jitter";
    case CorruptionKind::Noise: return "noise";
    case CorruptionKind::Diffusion: return "diffusion";
    case CorruptionKind::Blur: return "blur";
    case CorruptionKind::Mask: return "mask";
    case CorruptionKind::Stic: return "stic";
  }
  return "unknown";
}

const char* jitterOpName(JitterOp op) {
  switch (op) {
    case JitterOp::Brightness: return "brightness";
    case JitterOp::Contrast: return "contrast";
    case JitterOp::Saturation: return "saturation";
    case JitterOp::Hue: return "hue";
  }
  return "unknown";
}

Status validateCorruptionSpec(const CorruptionSpec& s) {
  auto range = [](const Range& r, double min, double max, const char* name) -> Status {
    if (!r.enabled) return Status::ok();
    STIC_CHECK_ARG(r.lo <= r.hi && r.lo >= min && r.hi <= max, "Expected ", name, " range within [", min, ", ", max,
                   "] with lo <= hi but received [", r.lo, ", ", r.hi, "]");
    return Status::ok();
  };
  STIC_CHECK_ARG(s.lowresMin >= 1 && s.lowresMin <= s.lowresMax && s.lowresMax <= 8192,
                 "Expected lowres size range within [1, 8192] with lo <= hi but received [", s.lowresMin, ", ",
                 s.lowresMax, "]");
  STIC_RETURN_IF_ERROR(range(s.jitter[0], 0.0, 1e9, "brightness"));
  STIC_RETURN_IF_ERROR(range(s.jitter[1], 0.0, 1e9, "contrast"));
  STIC_RETURN_IF_ERROR(range(s.jitter[2], 0.0, 1e9, "saturation"));
  STIC_RETURN_IF_ERROR(range(s.jitter[3], -0.5, 0.5, "hue"));
  STIC_RETURN_IF_ERROR(range(s.noiseSigma, 0.0, 1e6, "noise sigma"));
  STIC_CHECK_ARG(s.steps >= 1 && s.stepMin >= 0 && s.stepMin <= s.stepMax && s.stepMax < s.steps,
                 "Expected diffusion steps within [0, ", s.steps - 1, "] with lo <= hi but received [", s.stepMin, ", ",
                 s.stepMax, "]");
  STIC_CHECK_ARG(s.betaStart > 0 && s.betaStart <= s.betaEnd && s.betaEnd < 1,
                 "Expected 0 < betaStart <= betaEnd < 1 but received ", s.betaStart, " and ", s.betaEnd);
  STIC_CHECK_ARG(s.blurSigma.lo > 0 && s.blurSigma.lo <= s.blurSigma.hi && s.blurSigma.hi <= 1000,
                 "Expected blur sigma range within (0, 1000] with lo <= hi but received [", s.blurSigma.lo, ", ",
                 s.blurSigma.hi, "]");
  STIC_CHECK_ARG(s.blurKernel == 0 || (s.blurKernel > 0 && s.blurKernel % 2 == 1 && s.blurKernel <= 1001),
                 "Expected an odd blur kernel size up to 1001 (or 0 for automatic) but received ", s.blurKernel);
  STIC_CHECK_ARG(s.patchSize >= 1 && s.patchSize <= 8192, "Expected a patch size within [1, 8192] but received ",
                 s.patchSize);
  STIC_RETURN_IF_ERROR(range(s.maskRatio, 0.0, 1.0, "mask ratio"));
  STIC_CHECK_ARG(s.lowresProbability >= 0 && s.lowresProbability <= 1,
                 "Expected a lowres probability within [0, 1] but received ", s.lowresProbability);
  return Status::ok();
}

CorruptionParams drawCorruptionParams(uint64_t seed, const CorruptionSpec& spec) {
  ParamDraws d(seed, Stream::Params);
  CorruptionParams p;
  CorruptionKind kind = spec.kind;
  if (kind == CorruptionKind::Stic) kind = d.uniform() < spec.lowresProbability ? CorruptionKind::LowRes : CorruptionKind::Jitter;
  drawFor(kind, d, spec, p);
  return p;
}

CorruptionResult corruptImage(ImageView src, uint64_t seed, const CorruptionSpec& spec) {
  CorruptionResult r;
  r.params = drawCorruptionParams(seed, spec);
  CorruptionParams& p = r.params;
  if (p.kind == CorruptionKind::LowRes) {
    int w = 0, h = 0;
    shorterSideSize(src.width, src.height, p.size, w, h);
    r.image = resizePil(src, w, h, Filter::Bilinear);  // torchvision Resize(size) on a PIL image
    return r;
  }
  r.image = copyOf(src);
  const PhiloxKey key = PhiloxKey::fromSeed(seed);
  switch (p.kind) {
    case CorruptionKind::Jitter: applyJitter(r.image, p); break;
    case CorruptionKind::Noise: gaussianNoise(r.image, key, p.sigma); break;
    case CorruptionKind::Diffusion: diffusionNoise(r.image, key, p.alphaBar); break;
    case CorruptionKind::Blur: gaussianBlur(r.image, p.kernelSize, p.sigma); break;
    case CorruptionKind::Mask:
      p.masked = choosePatches(seed, src.width, src.height, spec.patchSize, p.ratio);
      fillPatches(r.image, spec.patchSize, p.masked, spec.maskFill);
      break;
    default: break;
  }
  return r;
}

Status corruptBatch(const std::vector<ImageView>& images, const std::vector<uint64_t>& seeds, const CorruptionSpec& spec,
                    std::vector<CorruptionResult>& out) {
  STIC_RETURN_IF_ERROR(validateCorruptionSpec(spec));
  STIC_CHECK_ARG(images.size() == seeds.size(), "Expected one seed per image (", images.size(), ") but received ",
                 seeds.size());
  const int n = static_cast<int>(images.size());
  out.assign(n, CorruptionResult{});
  std::string failure;  // exceptions must not cross the OpenMP region
#pragma omp parallel for schedule(dynamic, 1)
  for (int i = 0; i < n; ++i) {
    try {
      out[i] = corruptImage(images[i], seeds[i], spec);
    } catch (const std::exception& e) {
#pragma omp critical(stic_image_failure)
      if (failure.empty()) failure = "image " + std::to_string(i) + ": " + e.what();
    }
  }
  if (!failure.empty()) return error(Code::OutOfMemory, "corruption failed: ", failure);
  return Status::ok();
}

}  // namespace stic::image
