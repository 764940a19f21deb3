// JS -> C++ parsing of what every LLaVA binding takes: the engine config (LlavaNativeConfig in
// lib/native/contract.ts) and the list of tensor sources to load. Shared by model_binding.cpp
// (inference, LoRA training) and trainer_binding.cpp's createPretrainer (full-parameter
// pretraining) so both give the same messages; written over the one argument reader (args.h).
#pragma once
#include <napi.h>

#include <vector>

#include "io/safetensors_read.h"
#include "model/llava_config.h"

namespace stic::addon {

// Throws a TypeError naming the field, or the config's own validation error.
model::LlavaConfig parseLlavaConfig(const Napi::Value& value);
std::vector<io::TensorSource> parseTensorSources(const Napi::Value& value);

}  // namespace stic::addon
