// What other binding files share with model_binding.cpp: the native model behind a JS
// LlavaModel object, and the conversions of pixels and token ids (one message shape everywhere).
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

// pixels (N, 3, S, S) as a Float32Array of exactly N*3*S*S values, copied (the worker reads no JS memory).
std::vector<float> parseLlavaPixels(const Napi::Value& pixels, const Napi::Value& count, const model::LlavaConfig& cfg, int64_t* N);

// Token ids from an Int32Array or an array of integers at o[key].
std::vector<int64_t> parseTokenIds(const Napi::Object& o, const char* key, const std::string& where);

}  // namespace stic::addon
