// What other binding files share with model_binding.cpp: the native model behind a JS
// LlavaModel object, and the conversion of a call's images (one message shape everywhere).
// Legend: N images, S image side.
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "model/llava.h"

namespace stic::addon {

// The model of a LlavaModel object returned by loadLlava; throws a TypeError naming `name` otherwise.
std::shared_ptr<model::LlavaModel> unwrapLlavaModel(const Napi::Value& value, const std::string& name);

// The images of a call, owned (the worker reads no JS memory): pixels (C, 3, S, S) and a layout per image.
struct CallImages {
  std::vector<float> pixels;
  std::vector<model::ImageLayout> layouts;
  int64_t crops = 0;
  // A view for the model (valid while this object lives and is not moved).
  model::ImageBatch batch() const { return {pixels.data(), crops, layouts}; }
};

// pixels: a Float32Array of C x 3 x S x S values; images: N (N single-tile images, C = N) or an
// array of layouts {crops, gridRows, gridCols, keepRow0, keepRows, keepCol0, keepCols} (one per
// image, their crops summing to C). Throws TypeError/RangeError naming the argument.
CallImages parseCallImages(const Napi::Value& pixels, const Napi::Value& images, const model::LlavaConfig& cfg);

}  // namespace stic::addon
