// LLaVA/CLIP image preprocessing into the float tensor the vision tower reads.
//   clip: resize the shorter side to `size` (Pillow bicubic), centre-crop `crop` x `crop`, rescale by
//         1/255, normalise with mean/std (HF CLIPImageProcessor, the "slow" PIL-based one);
//   pad:  first paste the image centred on a square canvas of its longer side filled with padColor
//         (LLaVA-1.5's expand2square), then the clip steps.
// Legend: see image.h (N images, C channels, S = crop side).
#pragma once
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "cpu/image.h"
#include "cpu/resample.h"

namespace stic::image {

enum class PreprocessMode { Clip, Pad };

struct PreprocessOptions {
  PreprocessMode mode = PreprocessMode::Clip;
  int size = 336;  // shorter side after the resize
  int crop = 336;  // centre crop side, <= size
  float mean[kChannels] = {0.48145466f, 0.4578275f, 0.40821073f};  // OpenAI CLIP
  float std[kChannels] = {0.26862954f, 0.26130258f, 0.27577711f};
  uint8_t padColor[kChannels] = {122, 116, 104};  // LLaVA: int(255 * mean), truncated
  Filter filter = Filter::Bicubic;
};

Status validatePreprocessOptions(const PreprocessOptions& opts);

// The square canvas of LLaVA's expand2square: the longer side, image pasted at ((L-w)//2, (L-h)//2).
Image expandToSquare(ImageView src, const uint8_t color[kChannels]);

// One image into out (C, S, S).
void preprocessImage(ImageView src, const PreprocessOptions& opts, float* out);

// N images into out (N, C, S, S); images are independent, spread over the OpenMP team.
Status preprocessBatch(const std::vector<ImageView>& images, const PreprocessOptions& opts, float* out);

}  // namespace stic::image
