// What the image bindings (image_binding.cpp, anyres_binding.cpp) share, over the one argument
// reader (args.h): an RGB image argument {data: Uint8Array (H, W, 3), width, height} as a view, and
// per-channel numbers.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "cpu/image.h"

namespace stic::addon {

class Args;

// The image at `value` (named `where` in refusals); its data array is appended to keepAlive, which
// the call's worker must hold while it reads the pixels.
image::ImageView parseImage(const Napi::Value& value, const std::string& where, std::vector<Napi::Value>& keepAlive);
// o[key]: one number per colour channel (a mean, a standard deviation).
void parseChannelFloats(const Args& o, const char* key, float out[image::kChannels]);

}  // namespace stic::addon
