// One Llama/Mistral decoder layer (HF LlamaDecoderLayer / MistralDecoderLayer), forward and
// backward, for every use of the decoder:
//   x += o(attn(rope(qkv(n1))))          n1 = RMSNorm(x)          (each linear: base + LoRA)
//   x += down(silu(gate(n2)) * up(n2))   n2 = RMSNorm(x)
// Each part is optional: a KV cache (generation: the pass's segments name slots), LoRA on the
// targeted linears (LoraUse), the activations a backward needs (null LayerActs fields are not
// kept: inference), and the base weights' gradients (null: frozen, as in LoRA training).
// The pass (pass_layout.h) runs T packed rows: linear layers see all of them, attention follows the
// layout's segments (a branch reads its shared prefix's keys, and its key/value gradients flow back
// into the prefix rows, summed over both branches).
// The backward recomputes the two norms and the SwiGLU output from the saved residuals and gate|up
// rather than keeping them. Every op is deterministic, so a recomputed forward (gradient
// checkpointing) gives bitwise the activations, hence the gradients, of the kept one.
// Legend: T rows, S keys of a segment, D hidden, F MLP, Hq/Hkv heads, hd head dim,
// Nqkv = (Hq + 2 Hkv) hd, r LoRA rank.
#pragma once
#include <array>
#include <cstdint>

#include "core/counter_rng.h"
#include "core/ops.h"
#include "model/kv_cache.h"
#include "model/llava_config.h"
#include "model/lora_spec.h"
#include "model/pass_layout.h"
#include "model/model_ptrs.h"  // DecoderLayerPtrs: the base weights' gradients

namespace stic::model {

class TrainableParams;

// A weight matrix as stored (F32, BF16 or F16; widened to f32 as the GEMMs read it), rows of K.
struct MatrixRef {
  const void* data = nullptr;
  DType dtype = DType::F32;
  const void* rows(int64_t row0, int64_t K) const {
    return static_cast<const char*>(data) + static_cast<size_t>(row0 * K) * dtypeSize(dtype);
  }
};

// One layer's weights as the layer reads them; biases null where the config has none.
struct LayerWeights {
  const float* attnNorm = nullptr;  // (D)
  MatrixRef qkvW;                   // (Nqkv, D)
  const float* qkvB = nullptr;      // (Nqkv)
  MatrixRef oW;                     // (D, Hq*hd)
  const float* oB = nullptr;        // (D)
  const float* mlpNorm = nullptr;   // (D)
  MatrixRef gateUpW;                // (2F, D) gate rows, then up rows
  const float* gateUpB = nullptr;   // (2F)
  MatrixRef downW;                  // (D, F)
  const float* downB = nullptr;     // (D)
};

// How LoRA takes part in a pass: params null = LoRA off (the base or reference model); dropout
// applies only when `train` (the key's layer and module are filled in per application).
struct LoraUse {
  const TrainableParams* params = nullptr;
  bool train = false;
  train::DropoutKey key{};
};

// What a layer's forward writes and its backward reads. Null fields are not kept (an inference
// pass keeps no xin, xmid or lse); xa only for the LoRA-targeted modules.
struct LayerActs {
  float* xin;     // (T, D) residual stream entering the layer
  float* xmid;    // (T, D) residual stream after the attention block
  float* qkv;     // (T, Nqkv) after rope
  float* attn;    // (T, Hq*hd) attention output (o_proj input)
  float* lse;     // (Hq, T) per segment: (Hq, qLen) at offset Hq * qRow
  float* gateUp;  // (2, T, F) gate rows, then up rows
  std::array<float*, kLoraModules> xa;  // (T, r) dropout(x) A^T per targeted module
};

// The buffers every layer of a pass shares; the d* fields only for a backward.
struct LayerScratch {
  float* xn;        // (T, D) a norm's output
  float* out;       // (T, D) a sublayer's output before the residual add
  float* act;       // (T, F) SwiGLU output
  float* loraWork;  // (T*r + T*max(D, Hq*hd, F)) LoRA scratch; null without LoRA
  float* kStage;    // (S, Hkv*hd) keys of a segment whose pieces are not adjacent; null: none staged
  float* vStage;    // (S, Hkv*hd)
  int64_t* pos;     // (T) rotary positions
  float* dxn;       // (T, D)
  float* dqkv;      // (T, Nqkv)
  float* dattn;     // (T, Hq*hd)
  float* dact;      // (T, F)
  float* dgateUp;   // (2, T, F)
  float* dkStage;   // (S, Hkv*hd)
  float* dvStage;   // (S, Hkv*hd)
};

// What every layer of one pass shares. The scratch's pos holds the layout's positions.
struct LayerPass {
  const Ops& ops;
  const DecoderConfig& cfg;
  const PassLayout& layout;
  const LoraUse& lora;
  KvCache* cache;  // null: no segment names a slot
  const LayerScratch& s;
};

// x (T, D): in, the layer's input; out, its output. Fills L's kept fields.
void layerForward(const LayerPass& p, float* x, const LayerActs& L, const LayerWeights& w, int64_t layer);

// dx (T, D): in, d (layer output); out, d (layer input), from L as the forward left it (no cache).
// Accumulates the LoRA gradients (p.lora must be the forward's) and, when g is not null, the base
// weights.
void layerBackward(const LayerPass& p, float* dx, const LayerActs& L, const LayerWeights& w, const DecoderLayerPtrs* g,
                   int64_t layer);

}  // namespace stic::model
