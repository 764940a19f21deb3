// The scored rows of a training pass through the final RMSNorm and the fused linear + log-softmax
// + gather head (ops.head): per-entry log-probs, and the gradient back into the decoder's output
// rows. A row can be scored more than once (the shared prefix's last row predicts the first token
// of both responses), so the scored rows are gathered into their own buffer, one per entry, and
// their gradients are scatter-added back in entry order (deterministic).
// Two backwards: with the lm_head and the final norm frozen (LoRA training) from the Jacobian the
// forward saved; training them (pretraining) by recomputing the logits block by block from the
// saved log-sum-exp, which also gives d lm_head and d norm.
// Legend: E head entries, T pass rows, D hidden, V vocab.
#pragma once
#include <vector>

#include "core/arena.h"
#include "core/ops.h"
#include "model/decoder.h"
#include "model/pass_layout.h"

namespace stic::model {

// The gradients of the head's own weights, ACCUMULATED (pretraining).
struct HeadGrads {
  float* lmHead = nullptr;  // (V, D)
  float* norm = nullptr;    // (D)
};

struct HeadBuffers {
  int64_t maxEntries = 0;
  float* gathered;   // (E, D) decoder output rows of the entries
  float* normed;     // (E, D) after the final norm: the head's input
  float* jac;        // (E, D) d logp / d normed (saved by the forward for the backward); frozen weights only
  float* dh;         // (E, D) d loss / d normed; trained weights only
  float* logp;       // (E)
  float* lse;        // (E)
  float* dlogp;      // (E) d loss / d logp, set by the caller before headBackward
  int64_t* targets;  // (E)
  int64_t* chosen;   // (E) the token each logp gathered (the label, or top-alt's choice)
  void* work;        // fused head workspace
};

// trainsWeights: the backward gives HeadGrads (a dh buffer instead of the saved Jacobian).
void planHead(const Ops& ops, ArenaPlan& plan, const DecoderConfig& cfg, int64_t E, bool trainsWeights = false);
Result<HeadBuffers> allocHead(const Ops& ops, Arena& arena, const DecoderConfig& cfg, int64_t E, bool trainsWeights = false);

// A run of entries [begin, end) gathered in one mode.
struct HeadRun {
  int64_t begin = 0;
  int64_t end = 0;
  train::GatherMode mode = train::GatherMode::Label;
};

// b.logp[e] for every entry, from x (T, D) the decoder output. With wantJac, b.jac is kept for
// headBackward.
void headForward(const Ops& ops, HeadBuffers& b, const float* x, const std::vector<HeadEntry>& entries,
                 const std::vector<HeadRun>& runs, const DecoderView& w, const DecoderConfig& cfg, bool wantJac);

// dx (T, D) = d loss / d x from b.dlogp (overwritten: zero on rows no entry reads). grads null:
// from the saved Jacobian; else the logits are recomputed from the saved log-sum-exp and the weights'
// gradients accumulated into grads.
void headBackward(const Ops& ops, float* dx, int64_t T, HeadBuffers& b, const std::vector<HeadEntry>& entries,
                  const DecoderView& w, const DecoderConfig& cfg, const HeadGrads* grads = nullptr);

}  // namespace stic::model
