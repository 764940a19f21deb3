// What LoRA (Hu et al. 2021, PEFT's layout) targets in the decoder: the module names, the spec of
// an adapter (rank, alpha, dropout, targets) and each module's dimensions. The decoder layer
// (decoder_layer.h) reads it; the trainable A/B tensors live in train_params.h.
// Legend: r rank, K a module's input features, N its output features.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "model/llava_config.h"

namespace stic::model {

// Decoder linears LoRA can target, in PEFT's module names; the index is also the dropout key's module.
enum LoraModule : int { kLoraQ = 0, kLoraK, kLoraV, kLoraO, kLoraGate, kLoraUp, kLoraDown, kLoraModules };
const char* loraModuleName(int module);          // "q_proj", ...
int loraModuleByName(const std::string& name);   // -1 when unknown
bool loraModuleIsAttention(int module);          // self_attn.* (else mlp.*)

struct LoraSpec {
  int64_t r = 8;
  double alpha = 16;
  float dropout = 0.0f;
  std::array<bool, kLoraModules> targets{};
  uint64_t seed = 0;
  float scale() const { return static_cast<float>(alpha / static_cast<double>(r)); }
};

// Input and output features (K, N) of a module in this decoder.
std::pair<int64_t, int64_t> loraModuleDims(const DecoderConfig& cfg, int module);

}  // namespace stic::model
