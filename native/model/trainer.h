// One LLaVA trainer for every kind of training; its spec (TrainSpec) says what trains:
//   adapters: LoRA on the chosen decoder linears, optionally with a trainable copy of the projector,
//     over a frozen model (a LlavaModel, weights as stored); DPO and SFT micro-steps, pair scoring,
//     merged weights for export. The frozen projector stays the reference's "original projector"
//     (STIC.md, defect (c)).
//   full: every weight (the CLIP tower, the projector, the decoder with its embeddings, final norm
//     and lm_head) lives in the trainer's own fp32 store (full_params.h), all zero until set or
//     read; SFT steps (stic toy pretrain). There is no frozen model, so no reference pass (DPO) and
//     nothing to merge.
// One step path serves both (trainer.cpp over train_call.h's pieces, inputs in train_items.h):
//   encode each distinct image once (the frozen tower in chunks; a training tower keeps its
//   activations), project (a trainable projector keeps its activations; a reference that needs the
//   frozen original projects again), then per group of sequences under a row budget: the decoder
//   pass with saved activations (or gradient checkpointing), the fused head, the loss, and the
//   backward into whatever trains (LoRA; every decoder weight, the final norm, lm_head and the
//   embeddings; the image rows); after the last group the projector's and the tower's backward.
//   Gradients ACCUMULATE until optimizerStep or zeroGrad.
//   dpoStep: per group a reference pass (LoRA off) if a pair came without reference log-probs,
//     the policy pass, the DPO loss over the group's pairs, the backward.
//   sftStep: masked token cross-entropy; each item's rows end at its last target.
// Groups bound activation memory: a sequence's loss gradient depends only on its own log-probs, so
// each group runs forward and backward before the next starts.
// gradCheckpointing (either step): the policy pass keeps only each decoder layer's input and the
// backward recomputes the layer first (decoder.h); planStep gives a call's activation bytes
// either way, as the call allocates them.
// Images come as an ImageBatch (image_layout.h): C crops, single-tile or anyres images.
// Legend: B pairs, C crops, M = C*Ti feature rows, T rows of a pass, E scored tokens, D hidden.
#pragma once
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/llava.h"
#include "model/pass_layout.h"
#include "model/train_call.h"
#include "model/train_items.h"
#include "model/train_params.h"

namespace stic::model {

// What a trainer trains.
struct TrainSpec {
  bool full = false;       // every weight of the model (then neither of the below)
  LoraSpec lora;           // adapters: LoRA on lora.targets
  bool projector = false;  // adapters: a trainable copy of the projector too
};

struct RefLogps {
  float chosen = 0, rejected = 0;
};

struct DpoStepOptions {
  train::DpoOptions loss;
  train::GatherMode rejectedMode = train::GatherMode::Label;
  double gradScale = 1.0;
  bool sharedPrefix = true;
  bool refTrainedProjector = false;  // the reference sees the trained projector (STIC defect (c))
  bool gradCheckpointing = false;    // keep each layer's input only; recompute the layer in the backward
  int64_t step = 0, micro = 0;       // dropout key
};

struct DpoStepResult {
  train::DpoMetrics metrics;
  std::vector<float> policyChosen, policyRejected, refChosen, refRejected;  // (B)
  std::vector<int64_t> chosenTokens, rejectedTokens;                          // (B)
};

struct SftStepOptions {
  double meanOver = 0;  // 0: the call's own target count
  double gradScale = 1.0;
  bool backward = true;            // false: the loss only (no gradients)
  bool gradCheckpointing = false;  // as DpoStepOptions
  bool targetRequired = true;      // every item has a target (false: one without adds nothing; the pretrainer's)
  int64_t step = 0, micro = 0;
};

struct SftStepResult {
  double loss = 0;     // -(1/meanOver) sum of target log-probs
  int64_t tokens = 0;  // targets in this call
};

struct NamedTensor {
  std::string name;
  Shape shape;
  std::vector<float> data;
};

class Trainer {
 public:
  // Adapters (spec.full false) over a frozen model.
  static Result<std::unique_ptr<Trainer>> create(std::shared_ptr<const LlavaModel> model, const TrainSpec& spec);
  // Every weight of a model of `cfg` (spec.full) on `backend`, all zero until set or read.
  static Result<std::unique_ptr<Trainer>> createFull(Backend& backend, const LlavaConfig& cfg);

  const LlavaConfig& config() const { return cfg_; }
  const TrainSpec& spec() const { return spec_; }
  TrainableParams& params() { return *params_; }
  const TrainableParams& params() const { return *params_; }
  // Activation bytes the last call planned (the arena kept for the next call is at least this).
  size_t lastStepActivationBytes() const { return lastActivationBytes_; }
  // What a call of this shape plans (the same arithmetic the call allocates by).
  StepMemory planStep(const StepShape& shape) const;

  // Summed response log-probs per pair: policy (LoRA on, trained projector) or reference (LoRA off,
  // original projector unless trainedProjector). No dropout, no gradients. Adapters only.
  Status pairLogprobs(std::vector<RefLogps>& out, const ImageBatch& images, const std::vector<PairInput>& pairs, bool policy,
                      train::GatherMode rejectedMode, bool trainedProjector);

  // refs[i]: given reference log-probs, or nullopt to compute them here. Adapters only.
  Status dpoStep(DpoStepResult& out, const ImageBatch& images, const std::vector<PairInput>& pairs,
                 const std::vector<std::optional<RefLogps>>& refs, const DpoStepOptions& opt);

  // The SFT loss of the items and, with opt.backward, the gradients of everything that trains.
  Status sftStep(SftStepResult& out, const ImageBatch& images, const std::vector<SftItem>& items, const SftStepOptions& opt);

  // Clip (optional), AdamW on every trainable tensor but the spec's frozen ones, zero the
  // gradients; a non-finite gradient norm skips the update and the step count.
  Status optimizerStep(OptimizerResult& out, const OptimizerSpec& opt);

  // W + (alpha/r) B A of each LoRA-targeted linear, and the trainable projector, by engine name;
  // `names` empty: all of them. Adapters only.
  Status mergedWeights(std::vector<NamedTensor>& out, const std::vector<std::string>& names) const;
  std::vector<std::string> mergedWeightNames() const;

 private:
  Trainer() = default;
  Status requireAdapters(const char* method) const;

  std::shared_ptr<const LlavaModel> model_;  // the frozen model (adapters); null when everything trains
  LlavaConfig cfg_;
  TrainSpec spec_;
  std::unique_ptr<TrainableParams> params_;
  TrainView view_;
  std::unique_ptr<Arena> callArena_;  // activations of a step, reused by the next
  std::atomic<size_t> lastActivationBytes_{0};  // read by memory() on the JS thread
};

}  // namespace stic::model
