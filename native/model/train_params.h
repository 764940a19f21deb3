// The trainable state of a LLaVA trainer (trainer.h), as its spec says:
//   adapters: LoRA A/B on the chosen decoder linears (Hu et al. 2021, with PEFT's layout and init),
//     optionally a trainable copy of the projector. The model's own weights are never written: the
//     frozen projector stays the reference's "original projector" (STIC.md, defect (c)).
//     Every tensor at an aligned offset of the store's four flat buffers.
//   full: every weight of the model (full_params.h: engine names, fused parts adjacent), with
//     structured pointers to the parameters and the gradients (model_ptrs.h).
// Storage: one ParamStore (param_store.h): each tensor, its gradient and AdamW moments.
// Legend: r LoRA rank, K a module's input features, N its output features, D decoder hidden,
// Dv vision hidden, F decoder MLP, L layers.
#pragma once
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "model/llava.h"
#include "model/lora_spec.h"
#include "model/model_ptrs.h"
#include "model/param_store.h"

namespace stic::model {

// The AdamW groups of the trainer's tensors (OptimizerOptions' lora and projector).
constexpr int64_t kLoraGroup = 0;
constexpr int64_t kProjectorGroup = 1;

// One trainable tensor: the store's (param_store.h), named by its PEFT saved name (LoRA) or engine
// name (projector).
using TrainTensor = ParamTensor;

// The trainable projector: pointers into TrainTensors (null where the config has no such tensor).
struct ProjectorParams {
  const TrainTensor* w1 = nullptr;  // (D, Dv)
  const TrainTensor* b1 = nullptr;  // (D)
  const TrainTensor* w2 = nullptr;  // (D, D)
  const TrainTensor* b2 = nullptr;  // (D)
};

class TrainableParams {
 public:
  // Allocates every tensor; LoRA A ~ U(-1/sqrt(K), 1/sqrt(K)) (kaiming_uniform_ with a = sqrt(5), as
  // PEFT) from counter streams of spec.seed, B = 0; the projector copied from the model; gradients
  // and moments zero. On the model's backend.
  static Result<std::unique_ptr<TrainableParams>> create(const LlavaModel& model, const LoraSpec& spec, bool trainProjector);
  // Every weight of a model of `cfg` on `backend`, all zero (the caller sets or reads the parameters).
  static Result<std::unique_ptr<TrainableParams>> createFull(Backend& backend, const LlavaConfig& cfg);

  bool full() const { return full_; }
  const LoraSpec& spec() const { return spec_; }  // adapters
  bool trainProjector() const { return trainProjector_; }  // adapters
  // Every tensor, its gradient and moments, the step count, zeroGrad and the byte counts.
  ParamStore& store() { return *store_; }
  const ParamStore& store() const { return *store_; }
  const std::vector<TrainTensor>& tensors() const { return store_->tensors(); }
  // The tensor of a name or an accepted alias (PEFT in-memory `.default.` names,
  // `base_model.model.model.multi_modal_projector.*`); null when unknown.
  const TrainTensor* find(const std::string& name) const;
  // LoRA A (r, K) and B (N, r) of (layer, module); null when the module is not targeted.
  const TrainTensor* loraA(int64_t layer, int module) const { return lora_[layer][module][0]; }
  const TrainTensor* loraB(int64_t layer, int module) const { return lora_[layer][module][1]; }
  const ProjectorParams& projector() const { return projector_; }
  // full: the parameters and the gradients of every weight.
  const ModelPtrs& weights() const { return weights_; }
  const ModelPtrs& grads() const { return grads_; }

 private:
  bool full_ = false;
  LoraSpec spec_;
  bool trainProjector_ = false;
  std::unique_ptr<ParamStore> store_;
  std::vector<std::array<std::array<const TrainTensor*, 2>, kLoraModules>> lora_;  // [L][module][A, B]
  ProjectorParams projector_;
  ModelPtrs weights_{}, grads_{};
};

// The PEFT saved name of LoRA `which` ('A' or 'B') of (layer, module), e.g.
// base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight
std::string loraTensorName(int64_t layer, int module, char which);
// Canonical form of an accepted alias (see TrainableParams::find).
std::string canonicalTrainName(const std::string& name);

}  // namespace stic::model
