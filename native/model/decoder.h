// The Llama/Mistral decoder on packed passes (pass_layout.h), written once (decoder_layer.h) for
// every use: generation (a KV cache), scoring and logits, LoRA training (saved activations,
// gradient checkpointing, a frozen base) and full-parameter pretraining (every weight's gradient).
// A use is a small driver: it builds the pass's layout, embeds it (embedPass), plans and carves the
// activations of its DecoderShape, and calls decoderForward (and decoderBackward).
// Activations: with `saves`, every layer keeps its set (xin, xmid, q|k|v, attention output and
// log-sum-exp, gate|up, LoRA x A^T) for the backward; with gradient checkpointing only each
// layer's xin is kept and the backward recomputes a layer's forward from it (into one shared set)
// right before that layer's backward.
// Legend: T rows, S keys of a segment, D hidden, F MLP, Hq/Hkv heads, hd head dim,
// Nqkv = (Hq + 2 Hkv) hd, r LoRA rank, L layers, V vocab.
#pragma once
#include <vector>

#include "core/arena.h"
#include "core/carver.h"
#include "core/ops.h"
#include "model/decoder_layer.h"
#include "model/llava_weights.h"

namespace stic::model {

// The decoder's weights as its layers read them (pointers into the model's or the pretrainer's).
struct DecoderView {
  MatrixRef embed;  // (V, D)
  std::vector<LayerWeights> layers;
  const float* norm = nullptr;  // (D)
  MatrixRef lmHead;  // (V, D)
};
DecoderView decoderView(const DecoderWeights& w);  // as loaded (stored dtypes)
DecoderView decoderView(const DecoderPtrs& p);     // f32 parameters (pretraining)

// What the activations of a pass size hold.
struct DecoderShape {
  int64_t rows = 0;       // T
  int64_t maxKeys = 0;    // S of the longest segment whose keys are staged (0: none can be)
  int64_t layers = 1;     // saved sets: numLayers for a backward, 1 when nothing is kept for one
  bool saves = true;      // keep xin, xmid and the log-sum-exp (false: an inference pass)
  bool backward = false;  // the backward's scratch
  bool checkpointed = false;  // (with backward) the sets own only their xin, the rest is one shared set
};

struct DecoderActs {
  DecoderShape shape;
  std::vector<LayerActs> saved;  // shape.layers sets
  float* xrec;                   // (T, D) checkpointed only: the residual stream of a recomputed layer
  LayerScratch scratch;
};

// Every buffer of a pass, from this one list (core/carver.h): into `saved` what the forward keeps
// for the backward (every layer's set, or with checkpointing every layer's xin), into `scratch` the
// rest (the recomputed layer's set included). To plan, two planning carvers (two plans); to carve,
// one carving carver passed as both. lora: the adapter whose x A^T are kept (null: no LoRA).
void carveDecoderActs(Carver& saved, Carver& scratch, DecoderActs& a, const DecoderConfig& cfg, const LoraSpec* lora,
                      const DecoderShape& shape);
Result<DecoderActs> allocDecoderActs(Arena& arena, const DecoderConfig& cfg, const LoraSpec* lora, const DecoderShape& shape);

// x (T, D) = the input embeddings of the layout: token embeddings from `table` (V, D), image tokens
// replaced by rows of features (their rows of the call's (featureRows, D)).
void embedPass(const Ops& ops, float* x, const PassLayout& layout, const float* features, const MatrixRef& table, int64_t D);

// x (T, D): in, the input embeddings; out, the last layer's output (before the final norm).
// cache: the KV cache the layout's slots name (null when none does). Saves into act.saved[l] (or
// reuses saved[0] for every layer when only one set exists).
Status decoderForward(const Ops& ops, float* x, const PassLayout& layout, const DecoderView& w, const DecoderConfig& cfg,
                      const LoraUse& lora, KvCache* cache, DecoderActs& act);

// dx (T, D): in, d loss / d (last layer's output); out, d loss / d (input embeddings).
// Accumulates d loss / d LoRA A, B into the params' gradients (`lora` must be the forward's) and,
// when grads is not null, d loss / d every layer weight into grads->layers. Checkpointed
// activations: each layer but the last (whose set the forward left in place) is recomputed first.
void decoderBackward(const Ops& ops, float* dx, const PassLayout& layout, const DecoderView& w, const DecoderConfig& cfg,
                     const LoraUse& lora, const DecoderPtrs* grads, DecoderActs& act);

// logits (n, V) = lm_head(norm(x[rows[i]])) for the n rows listed. scratch: (2n, D).
void decoderLogits(const Ops& ops, float* logits, float* scratch, const float* x, const int64_t* rows, int64_t n,
                   const DecoderView& w, const DecoderConfig& cfg);

}  // namespace stic::model
