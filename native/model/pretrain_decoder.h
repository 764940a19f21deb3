// The language side of full-parameter pretraining, a driver of the decoder (decoder.h): token
// embeddings with the image features spliced in, the decoder with every layer's activations kept
// and every weight's gradient, the final norm and the lm_head with the SFT loss, and the backward
// into every weight (embeddings and lm_head included) and into the image features.
// Head (train_head.h): only the E rows that predict a target go through the final norm and the
// fused linear + log-softmax + gather head (logp and log-sum-exp without the [E, V] logits); its
// backward recomputes the logits block by block from the saved log-sum-exp and gives d h and, as
// pretraining trains them, d lm_head and d norm.
// Legend: T packed rows, E target rows, D hidden, V vocab, L layers, M image feature rows.
#pragma once
#include <vector>

#include "core/arena.h"
#include "model/decoder.h"
#include "model/llava_config.h"
#include "model/pass_layout.h"
#include "model/pretrain_params.h"
#include "model/train_head.h"

namespace stic::model {

// The sequences of one step, packed into one pass (pass_layout.h: appendSequence, one causal
// segment per sequence, positions 0..len-1), and the scored tokens: the output of row
// heads[e].row predicts heads[e].target.
struct PackedBatch {
  PassLayout layout;
  std::vector<HeadEntry> heads;   // (E)
  int64_t rows() const { return layout.rows(); }
  int64_t targetCount() const { return static_cast<int64_t>(heads.size()); }
};

struct PretrainActs {
  int64_t T = 0;
  DecoderActs decoder;  // every layer's set with a backward, one set without
  HeadBuffers head;     // E entries
  float* x;             // (T, D) the residual stream: the input embeddings, then the last layer's output
  int64_t* embedIds;    // (T) ids with image tokens mapped to 0 (their rows are features, not table rows)
  float* dx;            // (T, D) backward only
};

void planPretrainActs(const Ops& ops, ArenaPlan& plan, const DecoderConfig& cfg, int64_t T, int64_t E, bool backward);
Result<PretrainActs> allocPretrainActs(const Ops& ops, Arena& arena, const DecoderConfig& cfg, int64_t T, int64_t E, bool backward);

// Embeddings of b (image rows from features (M, D)), the decoder, then the head: acts.head.logp
// (E) of each target. loss = the SFT loss -(1/meanOver) sum logp (meanOver <= 0: E); leaves
// acts.head.dlogp = gradScale * d loss / d logp for the backward.
Status pretrainForward(const Ops& ops, PretrainActs& acts, double& loss, const PackedBatch& b, const float* features,
                       const ModelPtrs& w, const DecoderConfig& cfg, double meanOver, double gradScale);

// Backward of everything pretrainForward did: accumulates every decoder weight's gradient into g
// and d loss / d features into dfeatures (M, D) (ACCUMULATED: an image shared by several
// sequences collects all of them).
void pretrainBackward(const Ops& ops, PretrainActs& acts, float* dfeatures, const PackedBatch& b, const ModelPtrs& w,
                      const ModelPtrs& g, const DecoderConfig& cfg);

}  // namespace stic::model
