// The LLaVA model description the native engine runs (the C++ mirror of the fields of
// lib/model/engine_config.ts it needs), and the table of every weight tensor it loads.
// Legend: Dv vision hidden, Iv vision MLP, p patch side, P patches, Dd decoder hidden (D),
// F decoder MLP, Hq/Hkv heads, hd head dim, V vocab.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/ops.h"
#include "core/status.h"
#include "core/tensor.h"

namespace stic::model {

enum class Act : uint8_t { QuickGelu, Gelu, GeluTanh, Relu, Silu };
Result<Act> parseAct(const std::string& name);  // HF spellings: quick_gelu, gelu, gelu_pytorch_tanh, relu, silu

// out[n] = act(inp[n]) (out may be inp).
void applyAct(const Ops& ops, Act act, float* out, const float* inp, int64_t n);
// Its backward: dinp[i] = dout[i] * act'(inp[i]), inp the activation's input (dinp may alias dout).
void actBackward(const Ops& ops, Act act, float* dinp, const float* dout, const float* inp, int64_t n);

struct VisionConfig {
  int64_t imageSize = 0;     // S
  int64_t patchSize = 0;     // p
  int64_t numChannels = 3;
  int64_t hiddenSize = 0;    // Dv
  int64_t intermediateSize = 0;  // Iv
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  Act act = Act::QuickGelu;
  float layerNormEps = 1e-5f;
  int64_t featureLayer = -2;  // as configured; negative counts from the end of the hidden states
  bool keepCls = false;       // select strategy 'full' keeps the CLS row, 'default' drops it

  int64_t patchesPerSide() const { return imageSize / patchSize; }
  int64_t numPatches() const { return patchesPerSide() * patchesPerSide(); }  // P
  int64_t tokens() const { return numPatches() + 1; }                        // P + 1 (CLS first)
  int64_t headDim() const { return hiddenSize / numHeads; }
  // Index into hidden_states (numLayers + 1 entries, 0 = embeddings after pre-layernorm).
  int64_t featureIndex() const { return featureLayer < 0 ? numLayers + 1 + featureLayer : featureLayer; }
  int64_t featureTokens() const { return keepCls ? tokens() : numPatches(); }
};

struct ProjectorConfig {
  bool mlp2x = true;  // linear_1 -> act -> linear_2 ('mlp2x_gelu'); false: linear_1 only ('linear')
  Act act = Act::Gelu;
  bool bias = true;
};

struct DecoderConfig {
  int64_t hiddenSize = 0;        // D
  int64_t intermediateSize = 0;  // F
  int64_t numLayers = 0;
  int64_t numHeads = 0;    // Hq
  int64_t numKvHeads = 0;  // Hkv
  int64_t headDim = 0;     // hd
  int64_t vocabSize = 0;   // V
  float ropeTheta = 10000.0f;
  float rmsNormEps = 1e-5f;
  bool tieWordEmbeddings = false;
  bool attentionBias = false;
  bool mlpBias = false;

  int64_t qDim() const { return numHeads * headDim; }     // Hq*hd
  int64_t kvDim() const { return numKvHeads * headDim; }  // Hkv*hd
  int64_t qkvDim() const { return qDim() + 2 * kvDim(); }
};

struct LlavaConfig {
  VisionConfig vision;
  ProjectorConfig projector;
  DecoderConfig decoder;
  int64_t imageTokenId = -1;
  int64_t imageTokenCount = 0;  // rows one crop contributes (= vision.featureTokens()); anyres images: see image_layout.h
  bool imageNewline = false;    // LLaVA-NeXT (anyres): a learned `image_newline` (D) ends every feature row of the grid

  // Checks sizes and their relations; the message names the field ("config.decoder.numHeads ...").
  Status validate() const;
};

// One tensor the engine loads: its engine name (the llava-hf checkpoint name, see
// lib/engine/weight_names.ts for the other namings) and the shape it must have.
struct TensorSpec {
  std::string name;
  Shape shape;
};

// Every tensor the model needs, in load order. Biases appear only where the config has them.
std::vector<TensorSpec> llavaTensorSpecs(const LlavaConfig& cfg);

}  // namespace stic::model
