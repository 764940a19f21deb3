// Image layouts of a call (see image_layout.h). Legend: g feature grid side of one crop.
#include "model/image_layout.h"

namespace stic::model {

ImageBatch singleTileBatch(const float* pixels, int64_t N) {
  ImageBatch b;
  b.pixels = pixels;
  b.crops = N;
  b.layouts.assign(static_cast<size_t>(N), ImageLayout{});
  return b;
}

Status validateImageBatch(const ImageBatch& batch, const LlavaConfig& cfg) {
  const int64_t g = cfg.vision.patchesPerSide();
  int64_t crops = 0;
  for (int64_t k = 0; k < batch.images(); k++) {
    const ImageLayout& L = batch.layouts[k];
    const std::string where = "images[" + std::to_string(k) + "]";
    if (!L.anyres()) {
      STIC_CHECK_ARG(L.crops == 1 && L.gridCols == 0, where, ": a single-tile image has 1 crop and no grid but found ", L.crops,
                     " crop(s) and a ", L.gridRows, " x ", L.gridCols, " grid");
    } else {
      STIC_CHECK_ARG(cfg.imageNewline, where, ": an anyres (tiled) image needs a LLaVA-NeXT model with image_newline, but this model has none");
      STIC_CHECK_ARG(L.gridCols > 0 && L.crops == 1 + L.gridRows * L.gridCols, where, ": expected 1 + ", L.gridRows, " x ",
                     L.gridCols, " crops (base + grid) but found ", L.crops);
      const int64_t rows = L.gridRows * g, cols = L.gridCols * g;
      STIC_CHECK_ARG(L.keepRows > 0 && L.keepRow0 >= 0 && L.keepRow0 + L.keepRows <= rows && L.keepCols > 0 && L.keepCol0 >= 0 &&
                         L.keepCol0 + L.keepCols <= cols,
                     where, ": the kept window rows [", L.keepRow0, ", ", L.keepRow0 + L.keepRows, ") x columns [", L.keepCol0, ", ",
                     L.keepCol0 + L.keepCols, ") is not a non-empty part of the ", rows, " x ", cols, " feature map");
    }
    crops += L.crops;
  }
  STIC_CHECK_ARG(crops == batch.crops, "images: the layouts take ", crops, " crop(s) but the pixels hold ", batch.crops);
  return Status::ok();
}

std::vector<std::vector<int64_t>> imageTokenRows(const ImageBatch& batch, const LlavaConfig& cfg) {
  const int64_t Ti = cfg.imageTokenCount, g = cfg.vision.patchesPerSide(), newline = batch.newlineRow(cfg);
  std::vector<std::vector<int64_t>> out(batch.layouts.size());
  int64_t crop0 = 0;  // first crop of the current image
  for (size_t k = 0; k < batch.layouts.size(); k++) {
    const ImageLayout& L = batch.layouts[k];
    std::vector<int64_t>& rows = out[k];
    rows.reserve(L.tokens(Ti));
    for (int64_t j = 0; j < Ti; j++) rows.push_back(crop0 * Ti + j);  // the base crop (or the only one)
    if (L.anyres()) {
      // Feature (r, c) of the grid map lies in grid crop (r / g, c / g) at patch (r % g, c % g).
      for (int64_t r = L.keepRow0; r < L.keepRow0 + L.keepRows; r++) {
        for (int64_t c = L.keepCol0; c < L.keepCol0 + L.keepCols; c++) {
          const int64_t crop = crop0 + 1 + (r / g) * L.gridCols + c / g;
          rows.push_back(crop * Ti + (r % g) * g + c % g);
        }
        rows.push_back(newline);
      }
    }
    crop0 += L.crops;
  }
  return out;
}

void fillNewlineRow(const Ops& ops, float* features, const ImageBatch& batch, const LlavaConfig& cfg, const float* imageNewline) {
  const int64_t D = cfg.decoder.hiddenSize;
  float* row = features + batch.newlineRow(cfg) * D;
  if (imageNewline) {
    ops.memory.copy(row, imageNewline, D * sizeof(float));
  } else {
    ops.memory.fill(row, 0.0f, D);
  }
}

}  // namespace stic::model
