// The language side of full-parameter pretraining: token embeddings with the image features
// spliced in, the Llama/Mistral decoder on packed sequences, the final norm and the lm_head with
// the SFT loss, forward with every activation the backward needs saved, and the backward into every
// weight (embeddings and lm_head included) and into the image features. The inference twin is
// decoder.h; the LoRA twin (frozen base) is decoder_train.h.
// Head: only the E rows that predict a target go through the final norm and the fused linear +
// log-softmax + gather head (cpu/fused_head.h: logp and log-sum-exp without the [E, V] logits).
// The backward is the same fused head's, recomputing the logits block by block from the saved
// log-sum-exp and giving d h and, as pretraining trains the lm_head, d lm_head (its dW output).
// Legend: T packed rows, E target rows, D hidden, F MLP, Hq/Hkv heads, hd head dim,
// Nqkv = (Hq + 2 Hkv) hd, V vocab, L layers, M image feature rows.
#pragma once
#include <vector>

#include "core/arena.h"
#include "model/llava_config.h"
#include "model/pretrain_params.h"
#include "model/train_pass.h"

namespace stic::model {

// The sequences of one step, packed into one pass of the layout type the LoRA trainer uses
// (train_pass.h: appendSequence, one causal segment per sequence, positions 0..len-1), and the
// scored tokens: the output of row heads[e].row predicts heads[e].target.
struct PackedBatch {
  PassLayout layout;
  std::vector<HeadEntry> heads;   // (E)
  std::vector<int64_t> targets;   // (E) heads' targets, contiguous for the fused head
  int64_t rows() const { return layout.rows(); }
  int64_t targetCount() const { return static_cast<int64_t>(heads.size()); }
};

struct DecoderLayerActs {
  float* xn1;   // (T, D) input_layernorm output
  float* qkv;   // (T, Nqkv) after rope
  float* attn;  // (T, Hq*hd) attention output
  float* lse;   // (Hq, len) per segment, at offset Hq * row
  float* xmid;  // (T, D) residual stream after the attention block
  float* xn2;   // (T, D) post_attention_layernorm output
  float* gate;  // (T, F)
  float* up;    // (T, F)
  float* act;   // (T, F) silu(gate) * up
};

struct DecoderActs {
  int64_t T = 0, E = 0;
  std::vector<float*> hidden;            // L + 1 of (T, D): [0] the input embeddings, [l+1] after layer l
  std::vector<DecoderLayerActs> layers;  // L
  int64_t* pos;       // (T) rotary positions
  int64_t* embedIds;  // (T) ids with image tokens mapped to 0 (their rows are features, not table rows)
  float* hg;          // (E, D) final hidden rows of the targets
  float* hn;          // (E, D) after the final norm: the head's input
  float* logp;        // (E)
  float* lse;         // (E)
  float* dlogp;       // (E)
  int64_t* gathered;  // (E)
  void* headWork;     // fused head workspace
  // backward scratch
  float *dx, *dtmp, *dxn;  // (T, D)
  float* dqkv;             // (T, Nqkv)
  float* dattn;            // (T, Hq*hd)
  float *dgate, *dup, *dact;  // (T, F)
  float *dhn, *dhg;        // (E, D)
};

void planDecoderActs(const Ops& ops, ArenaPlan& plan, const DecoderConfig& cfg, int64_t T, int64_t E, bool backward);
Result<DecoderActs> allocDecoderActs(const Ops& ops, Arena& arena, const DecoderConfig& cfg, int64_t T, int64_t E, bool backward);

// hidden[0] = embeddings of b (image rows from features (M, D)), then every layer, then the head:
// acts.logp (E) of each target. Returns the SFT loss -(1/meanOver) sum logp (meanOver <= 0: E) and
// leaves acts.dlogp = gradScale * d loss / d logp for the backward.
double decoderTrainForward(const Ops& ops, DecoderActs& acts, const PackedBatch& b, const float* features, const ModelPtrs& w,
                           const DecoderConfig& cfg, double meanOver, double gradScale);

// Backward of everything decoderTrainForward did: accumulates every decoder weight's gradient into
// g and d loss / d features into dfeatures (M, D) (ACCUMULATED: an image shared by several
// sequences collects all of them).
void decoderTrainBackward(const Ops& ops, DecoderActs& acts, float* dfeatures, const PackedBatch& b, const ModelPtrs& w,
                          const ModelPtrs& g, const DecoderConfig& cfg);

}  // namespace stic::model
