// A LLaVA trainer: LoRA (and optionally the projector) trained on DPO or SFT micro-steps over a
// frozen model, with AdamW updates, tensor access by PEFT name, and merged weights for export.
//   dpoStep: encode each distinct image once (frozen tower); project (trainable copy, saving its
//     activations, and the frozen original for the reference when a reference is needed); then per
//     group of pairs under a row budget: reference pass (LoRA off) if a pair came without
//     reference log-probs, policy pass with saved activations, fused head, DPO loss, backward into
//     LoRA and the image rows; finally the projector backward. Gradients ACCUMULATE.
//   sftStep: the same with masked token cross-entropy.
// Groups bound activation memory: a pair's loss gradient depends only on its own log-probs, so
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
#include "model/train_params.h"
#include "model/pass_layout.h"

namespace stic::model {

// The sizes of a step call's activation arena: its images and its largest pass.
struct StepShape {
  int64_t featureRows = 0;  // M = C*Ti rows of the call's crops (the feature buffers add the image_newline row)
  int64_t rows = 0;         // T of the largest pass
  int64_t keys = 0;         // S of the longest attention segment
  int64_t entries = 0;      // E, most scored tokens of a pass
  bool backward = false;
  bool refFeatures = false;   // the reference needs its own projector output
  bool checkpointed = false;  // gradient checkpointing (with backward)
};

// A step call's activation arena, by what its bytes hold: the activations the forward keeps for the
// backward, and everything else (working buffers, the recomputed layer's set, the head, the projector).
struct StepMemory {
  size_t saved = 0;
  size_t scratch = 0;
  size_t total() const { return saved + scratch; }
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

struct SftItem {
  Sequence seq;
  std::vector<uint8_t> mask;  // (T) nonzero: ids[t] is a target
};

struct SftStepOptions {
  double meanOver = 0;  // 0: the call's own target count
  double gradScale = 1.0;
  bool gradCheckpointing = false;  // as DpoStepOptions
  int64_t step = 0, micro = 0;
};

struct OptimizerOptions {
  train::ParamGroup lora, projector;
  train::AdamWHyper hyper;
  double maxGradNorm = 0;  // <= 0: no clipping
};

struct NamedTensor {
  std::string name;
  Shape shape;
  std::vector<float> data;
};

class LlavaTrainer {
 public:
  static Result<std::unique_ptr<LlavaTrainer>> create(std::shared_ptr<const LlavaModel> model, const LoraSpec& spec,
                                                      bool trainProjector);

  const LlavaModel& model() const { return *model_; }
  TrainableParams& params() { return *params_; }
  // Activation bytes the last call planned (the arena kept for the next call is at least this).
  size_t lastStepActivationBytes() const { return lastActivationBytes_; }
  // What a call of this shape plans (the same arithmetic the call allocates by).
  StepMemory planStep(const StepShape& shape) const;

  // Checks a pair against the model and the call's images (tokenRows); `where` names it ("pairs[2]").
  Status validatePair(const PairInput& pair, const TokenRows& tokenRows, const std::string& where) const;

  // Summed response log-probs per pair: policy (LoRA on, trained projector) or reference (LoRA off,
  // original projector unless trainedProjector). No dropout, no gradients.
  Status pairLogprobs(std::vector<RefLogps>& out, const ImageBatch& images, const std::vector<PairInput>& pairs, bool policy,
                      train::GatherMode rejectedMode, bool trainedProjector);

  // refs[i]: given reference log-probs, or nullopt to compute them here.
  Status dpoStep(DpoStepResult& out, const ImageBatch& images, const std::vector<PairInput>& pairs,
                 const std::vector<std::optional<RefLogps>>& refs, const DpoStepOptions& opt);

  // out: loss (-(1/meanOver) sum of target log-probs), tokens: target count of this call.
  Status sftStep(double& loss, int64_t& tokens, const ImageBatch& images, const std::vector<SftItem>& items,
                 const SftStepOptions& opt);

  // Clip (optional), AdamW on every trainable tensor, zero the gradients; a non-finite gradient
  // norm skips the update and the step count.
  Status optimizerStep(OptimizerResult& out, const OptimizerOptions& opt);

  // W + (alpha/r) B A of each LoRA-targeted linear, and the trainable projector, by engine name;
  // `names` empty: all of them.
  Status mergedWeights(std::vector<NamedTensor>& out, const std::vector<std::string>& names) const;
  std::vector<std::string> mergedWeightNames() const;

 private:
  std::shared_ptr<const LlavaModel> model_;
  std::unique_ptr<TrainableParams> params_;
  std::unique_ptr<Arena> callArena_;  // activations of a step, reused by the next
  std::atomic<size_t> lastActivationBytes_{0};  // read by memory() on the JS thread
};

}  // namespace stic::model
