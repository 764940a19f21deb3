// Trainer: the optimizer step and merged weights for export (see trainer.h).
// Legend: r LoRA rank, K a module's input features, N its output features, F decoder MLP.
#include "model/lora_merge.h"
#include "model/trainer.h"

namespace stic::model {
namespace {

// The engine name of a decoder linear, e.g. language_model.model.layers.3.mlp.up_proj.weight.
std::string linearName(int64_t layer, int module) {
  return "language_model.model.layers." + std::to_string(layer) + (loraModuleIsAttention(module) ? ".self_attn." : ".mlp.") +
         loraModuleName(module) + ".weight";
}

}  // namespace

Status Trainer::optimizerStep(OptimizerResult& out, const OptimizerSpec& opt) { return model::optimizerStep(params_->store(), opt, out); }

std::vector<std::string> Trainer::mergedWeightNames() const {
  std::vector<std::string> names;
  if (spec_.full) return names;
  const DecoderConfig& cfg = cfg_.decoder;
  for (int64_t l = 0; l < cfg.numLayers; l++) {
    for (int m = 0; m < kLoraModules; m++) {
      if (params_->loraA(l, m)) names.push_back(linearName(l, m));
    }
  }
  for (const TrainTensor& t : params_->tensors()) {
    if (t.group == kProjectorGroup) names.push_back(t.name);
  }
  return names;
}

Status Trainer::mergedWeights(std::vector<NamedTensor>& out, const std::vector<std::string>& names) const {
  STIC_RETURN_IF_ERROR(requireAdapters("mergedWeights"));
  const DecoderConfig& cfg = cfg_.decoder;
  const std::vector<std::string> all = mergedWeightNames();
  const std::vector<std::string>& want = names.empty() ? all : names;
  out.clear();
  for (const std::string& name : want) {
    bool found = false;
    for (int64_t l = 0; l < cfg.numLayers && !found; l++) {
      for (int m = 0; m < kLoraModules && !found; m++) {
        const TrainTensor* A = params_->loraA(l, m);
        if (!A || linearName(l, m) != name) continue;
        const TrainTensor* B = params_->loraB(l, m);
        auto [K, N] = loraModuleDims(cfg, m);
        NamedTensor t{name, {N, K}, std::vector<float>(N * K)};
        const LinearRef base = decoderLinear(model_->weights().decoder, cfg, name);
        widenRows(model_->ops(), t.data.data(), *base.tensor, base.row0, N);
        // W (N, K) += (alpha / r) B (N, r) A (r, K): PEFT's merge.
        const int64_t r = params_->spec().r;
        model_->ops().linear.sgemm(false, false, N, K, r, params_->spec().scale(), B->param, r, A->param, K, 1.0f, t.data.data(),
                                   K);
        out.push_back(std::move(t));
        found = true;
      }
    }
    const TrainTensor* p = params_->find(name);
    if (!found && p && p->group == kProjectorGroup) {
      out.push_back({p->name, p->shape, std::vector<float>(p->param, p->param + p->numel)});
      found = true;
    }
    STIC_CHECK_ARG(found, "mergedWeights: no merged tensor is named \"", name, "\" (expected a LoRA-targeted linear such as ",
                   all.front(), ", or a trainable projector tensor)");
  }
  return Status::ok();
}

}  // namespace stic::model
