// LLaVA-NeXT "anyres" preprocessing of one image, as transformers 5's LlavaNextImageProcessor does
// it: the image resized (aspect kept) into the chosen grid resolution, padded black and centred on
// that canvas (the odd pixel at the bottom/right), the canvas cut into S x S crops in row-major
// order, and crop 0 the whole image squashed to S x S. The geometry (which resolution, which resized
// size) is decided by lib/data/anyres.ts and passed in.
//   torchvision backend (transformers' default): torch's uint8 antialiased bicubic
//     (WeightBits::TorchInt16) and the fused normalisation (x - 255*mean) / (255*std) in float32;
//   pil backend (LlavaNextImageProcessorPil): Pillow's bicubic, then float32(x * (1/255) in float64),
//     then (x - mean) / std in float32.
// Legend: S crop side, Hb x Wb the canvas (a multiple of S on both sides), K = 1 + (Hb/S)(Wb/S) crops.
#pragma once
#include "core/status.h"
#include "cpu/image.h"
#include "cpu/resample.h"

namespace stic::image {

enum class AnyresBackend { Torchvision, Pil };

struct AnyresOptions {
  int crop = 336;                         // S
  int canvasWidth = 0, canvasHeight = 0;  // Wb, Hb: the chosen grid resolution
  int resizedWidth = 0, resizedHeight = 0;  // the image inside the canvas (<= Wb, Hb)
  float mean[kChannels] = {0.48145466f, 0.4578275f, 0.40821073f};
  float std[kChannels] = {0.26862954f, 0.26130258f, 0.27577711f};
  AnyresBackend backend = AnyresBackend::Torchvision;

  int crops() const { return 1 + (canvasHeight / crop) * (canvasWidth / crop); }  // K
};

Status validateAnyresOptions(const AnyresOptions& o);

// The resized image pasted on a black canvas (Hb, Wb, C).
Image anyresCanvas(ImageView src, const AnyresOptions& o);

// out (K, C, S, S): the squashed whole image, then the canvas crops row by row.
void anyresCrops(ImageView src, const AnyresOptions& o, float* out);

}  // namespace stic::image
