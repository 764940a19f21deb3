// How the images of a call become image-token rows. A call's pixels are C crops (C, 3, S, S); each
// image takes the next `crops` of them, in order:
//   - a single-tile image (LLaVA-1.5, or LLaVA-NeXT with --image-aspect pad): 1 crop, its Ti
//     feature rows as they are;
//   - an anyres image (LLaVA-NeXT): crop 0 is the whole image squashed to S x S (the base), crops
//     1.. tile the padded canvas in row-major order as a gridRows x gridCols grid. Its tokens are the
//     base crop's g x g features (g = S/p), then the kept window of the (gridRows*g) x (gridCols*g)
//     feature map (transformers' unpad_image), row by row, each row followed by image_newline.
// The window is computed by the processor (lib/data/anyres.ts) and checked here.
// The call's feature buffer is (C*Ti + 1, D): every crop's projected features, then one row holding
// image_newline; rows() maps each image token to a row of it.
// Legend: C crops of a call, Ti = g*g rows per crop, D decoder hidden.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/ops.h"
#include "core/status.h"
#include "model/llava_config.h"

namespace stic::model {

struct ImageLayout {
  int64_t crops = 1;
  int64_t gridRows = 0, gridCols = 0;  // 0 x 0: a single-tile image
  // Kept window of the grid's feature map, in feature rows/columns.
  int64_t keepRow0 = 0, keepRows = 0, keepCol0 = 0, keepCols = 0;
  bool anyres() const { return gridRows > 0; }
  // Image tokens of this image: Ti, or g*g + keepRows * (keepCols + 1).
  int64_t tokens(int64_t Ti) const { return anyres() ? Ti + keepRows * (keepCols + 1) : Ti; }
};

// The images of a call: pixels (C, 3, S, S) and, per image, its layout.
struct ImageBatch {
  const float* pixels = nullptr;
  int64_t crops = 0;  // C
  std::vector<ImageLayout> layouts;

  int64_t images() const { return static_cast<int64_t>(layouts.size()); }
  // Rows of the call's feature buffer: C*Ti, plus the image_newline row.
  int64_t featureRows(const LlavaConfig& cfg) const { return crops * cfg.imageTokenCount + 1; }
  int64_t newlineRow(const LlavaConfig& cfg) const { return crops * cfg.imageTokenCount; }
};

// N single-tile images.
ImageBatch singleTileBatch(const float* pixels, int64_t N);

// Checks the layouts against the crops and the config; messages name "images[k]".
Status validateImageBatch(const ImageBatch& batch, const LlavaConfig& cfg);

// Per image, the feature-buffer row of each of its tokens (in token order).
std::vector<std::vector<int64_t>> imageTokenRows(const ImageBatch& batch, const LlavaConfig& cfg);

// Writes image_newline (or zeros when the model has none) into the newline row of features.
void fillNewlineRow(const Ops& ops, float* features, const ImageBatch& batch, const LlavaConfig& cfg, const float* imageNewline);

}  // namespace stic::model
