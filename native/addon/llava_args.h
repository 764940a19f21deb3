// JS -> C++ parsing of what every LLaVA binding takes: the engine config (LlavaNativeConfig in
// lib/native/contract.ts) and the list of tensor sources to load. Shared by model_binding.cpp
// (inference, LoRA training) and pretrain_binding.cpp (full-parameter pretraining) so both give the
// same messages.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "io/safetensors_read.h"
#include "model/llava_config.h"

namespace stic::addon {

bool requireBool(const Napi::Object& o, const char* key, const std::string& where);
model::Act requireAct(const Napi::Object& o, const char* key, const std::string& where);
// Throws a TypeError naming the field, or the config's own validation error.
model::LlavaConfig parseLlavaConfig(const Napi::Value& value);
std::vector<io::TensorSource> parseTensorSources(const Napi::Value& value);

}  // namespace stic::addon
