// The decoder for training: forward with LoRA on the targeted linears and the activations the
// backward needs saved per layer, and the backward through every layer into the input embeddings,
// accumulating the LoRA gradients. Base weights are frozen (no gradients). The pass is a
// PassLayout (train_pass.h): linear layers see all T rows, attention follows the layout's segments
// (a branch reads its shared prefix's keys, and its key/value gradients flow back into the prefix
// rows, summed over both branches).
// Saved per layer: the residual input and the mid-layer residual (norms are recomputed), the roped
// q|k|v, the attention output and its log-sum-exp, gate|up, and each LoRA module's x A^T.
// With gradient checkpointing only each layer's residual input is kept; the backward recomputes a
// layer's forward from it (into one shared set) right before that layer's backward. Every op is
// deterministic and dropout masks are drawn from the same counter key, so the recomputed set and
// hence the gradients are bitwise those of the kept one.
// Legend: T rows, S keys of a segment, D hidden, F MLP, Hq/Hkv heads, hd head dim,
// Nqkv = (Hq + 2 Hkv) hd, r LoRA rank, L layers.
#pragma once
#include <array>
#include <vector>

#include "core/arena.h"
#include "core/ops.h"
#include "model/llava_weights.h"
#include "model/train_params.h"
#include "model/train_pass.h"
#include "core/counter_rng.h"

namespace stic::model {

struct SavedLayer {
  float* xin;     // (T, D) residual stream entering the layer
  float* xmid;    // (T, D) residual stream after the attention block
  float* qkv;     // (T, Nqkv) after rope
  float* attn;    // (T, Hq*hd) attention output (o_proj input)
  float* lse;     // (Hq, T) per segment: (Hq, qLen) at offset Hq * qRow
  float* gateUp;  // (2, T, F) gate rows, then up rows
  std::array<float*, kLoraModules> xa;  // (T, r) dropout(x) A^T per targeted module
};

// What one pass size needs; `layers` saved layer sets (numLayers for training, 1 when nothing is
// kept for a backward), `backward` adds the gradient scratch. `checkpointed` (with backward): the
// `layers` sets own only their xin; every other field points into one shared set.
struct TrainShape {
  int64_t rows = 0;     // T
  int64_t maxKeys = 0;  // S of the longest segment
  int64_t layers = 1;
  bool backward = false;
  bool checkpointed = false;
};

struct TrainActivations {
  TrainShape shape;
  std::vector<SavedLayer> saved;  // shape.layers entries
  float* xrec;      // (T, D) checkpointed only: the residual stream of a recomputed layer
  float* xn;        // (T, D) a norm's output
  float* out;       // (T, D) a sublayer's output before the residual add
  float* act;       // (T, F) SwiGLU output
  float* loraWork;  // (T*r + T*max(D, Hq*hd, F)) LoRA scratch
  float* kStage;    // (S, Hkv*hd) keys of a segment whose pieces are not adjacent
  float* vStage;    // (S, Hkv*hd)
  int64_t* pos;     // (T)
  // backward only
  float* dxn;      // (T, D)
  float* dqkv;     // (T, Nqkv)
  float* dattn;    // (T, Hq*hd)
  float* dact;     // (T, F)
  float* dgateUp;  // (2, T, F)
  float* dkStage;  // (S, Hkv*hd)
  float* dvStage;  // (S, Hkv*hd)
};

// Bytes of allocTrainActivations, split into what the forward keeps for the backward (`saved`: every
// layer's set, or with checkpointing every layer's xin) and the rest (`scratch`, the recomputed
// layer's set included).
void planTrainActivations(ArenaPlan& saved, ArenaPlan& scratch, const DecoderConfig& cfg, const LoraSpec& lora,
                          const TrainShape& shape);
Result<TrainActivations> allocTrainActivations(Arena& arena, const DecoderConfig& cfg, const LoraSpec& lora,
                                               const TrainShape& shape);

// x (T, D) = the input embeddings of the layout: token embeddings, image tokens replaced by rows
// of features (N*Ti, D).
void embedPass(const Ops& ops, float* x, const PassLayout& layout, const float* features, const DecoderWeights& w,
               const DecoderConfig& cfg);

// How LoRA takes part in a pass: params null = LoRA off (the reference model); dropout applies
// only when `train` (the key's layer and module are filled in per application).
struct LoraUse {
  const TrainableParams* params = nullptr;
  bool train = false;
  train::DropoutKey key{};
};

// x (T, D): in, the input embeddings; out, the last layer's output (before the final norm).
// Saves into act.saved[l] (or reuses saved[0] for every layer when only one set exists).
Status decoderTrainForward(const Ops& ops, float* x, const PassLayout& layout, const DecoderWeights& w, const DecoderConfig& cfg,
                           const LoraUse& lora, TrainActivations& act);

// dx (T, D): in, d loss / d (last layer's output); out, d loss / d (input embeddings).
// Accumulates d loss / d LoRA A, B into the params' gradients; `lora` must be the forward's.
// Checkpointed activations: each layer but the last (whose set the forward left in place) is
// recomputed from its saved xin first.
void decoderTrainBackward(const Ops& ops, float* dx, const PassLayout& layout, const DecoderWeights& w, const DecoderConfig& cfg,
                          const LoraUse& lora, TrainActivations& act);

}  // namespace stic::model
