// Full-parameter pretraining of a small LLaVA model on the CPU (stic toy pretrain): every weight
// of the vision tower, projector and decoder trains, on the SFT loss (mean cross-entropy of the
// masked target tokens, the assistant's), with AdamW and global-norm clipping.
//   step: validate and pack the items (one row range per sequence, no padding), encode each image
//     of the call once (vision_tower.h, projector.h, keeping their activations), splice the features
//     into the token embeddings, run the decoder and the head (pretrain_decoder.h), and when
//     training, the backward through all of it.
//     Gradients ACCUMULATE until optimizerStep or zeroGrad.
//   optimizerStep: clip, AdamW (weight decay on matrices only, pretrain_params.h; frozen tensors left
//                  out), zero the grads.
// Activations live in one arena that is kept between calls and regrown only when a call needs more.
// Legend: N images of a call, S image side, T packed rows, E target tokens, M = N*Ti feature rows,
// D decoder hidden.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/ops.h"
#include "io/safetensors_read.h"
#include "model/llava_config.h"
#include "model/pretrain_params.h"

namespace stic::model {

struct PretrainItem {
  std::vector<int64_t> ids;     // (T) token ids, image tokens expanded (Ti per image)
  std::vector<uint8_t> mask;    // (T) nonzero: ids[t] is a target, predicted from ids[0..t)
  std::vector<int64_t> images;  // indices into the call's images, one per run of Ti image tokens
};

struct PretrainStepOptions {
  double meanOver = 0;   // the loss is a mean over this many targets (0: this call's own count)
  double gradScale = 1;  // gradients of gradScale x loss
};

struct PretrainStepResult {
  double loss = 0;     // -(1/meanOver) sum of target log-probs
  int64_t tokens = 0;  // targets in this call
};

struct PretrainOptimizer {
  double lr = 1e-3;
  double weightDecay = 0.0;  // on matrices only
  train::AdamWHyper hyper;
  double maxGradNorm = 0;  // <= 0: no clipping
  // Tensors left as they are (by engine name): no update, no weight decay, and outside the gradient
  // norm that clipping measures (their gradients are still computed and then dropped).
  std::vector<std::string> frozen;
};

class Pretrainer {
 public:
  static Result<std::unique_ptr<Pretrainer>> create(const LlavaConfig& cfg);

  const LlavaConfig& config() const { return cfg_; }
  ParamStore& params() { return *params_; }
  size_t lastActivationBytes() const { return lastActivationBytes_; }

  // Reads the named tensors of `kind` from checkpoint files (engine names); every source must name
  // a tensor of the model with its shape. Floating dtypes are converted.
  Status readTensors(ParamKind kind, const std::vector<io::TensorSource>& sources);

  // Checks an item against the config and an image batch of N; `where` names it ("items[2]").
  Status validateItem(const PretrainItem& item, int64_t N, const std::string& where) const;

  // Forward (and, when `backward`, the backward accumulating every gradient) over the items.
  Status step(PretrainStepResult& out, const float* pixels, int64_t N, const std::vector<PretrainItem>& items,
              const PretrainStepOptions& opt, bool backward);

  // Clips, updates every tensor, zeroes the gradients. A non-finite gradient norm skips the update
  // and the step count (the gradients are still zeroed).
  Status optimizerStep(OptimizerResult& out, const PretrainOptimizer& opt);

 private:
  Status ensureArena(const ArenaPlan& plan);

  LlavaConfig cfg_;
  const Ops* ops_ = nullptr;  // the table of the backend params_ live on
  std::unique_ptr<ParamStore> params_;  // createPretrainStore
  std::unique_ptr<Arena> arena_;
  size_t lastActivationBytes_ = 0;
};

}  // namespace stic::model
