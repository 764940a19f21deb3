// Trainable parameters of a LLaVA trainer (see train_params.h). Legend: r rank, K in, N out features.
#include "model/train_params.h"

#include <cmath>
#include <cstring>

#include "core/counter_rng.h"
#include "model/full_params.h"

namespace stic::model {
namespace {

constexpr const char* kModuleNames[kLoraModules] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
constexpr const char* kLoraPrefix = "base_model.model.model.language_model.layers.";
constexpr const char* kPeftProjectorPrefix = "base_model.model.model.";

// The counter stream of LoRA A's init for (layer, module): step -1 keeps it apart from every
// dropout stream (steps count from 0).
uint64_t initStream(uint64_t seed, int64_t layer, int module) {
  return train::streamOf(train::DropoutKey{seed, -1, 0, layer, module});
}

// kaiming_uniform_(a = sqrt(5)) on a (r, K) tensor: gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / K)
// = 1 / sqrt(K) (PEFT's LoRA A init).
void initLoraA(float* A, int64_t r, int64_t K, uint64_t stream) {
  const float bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(K)));
  for (int64_t i = 0; i < r * K; i++) A[i] = (2.0f * train::counterUniform(stream, static_cast<uint32_t>(i)) - 1.0f) * bound;
}

}  // namespace

const char* loraModuleName(int module) { return kModuleNames[module]; }

int loraModuleByName(const std::string& name) {
  for (int m = 0; m < kLoraModules; m++) {
    if (name == kModuleNames[m]) return m;
  }
  return -1;
}

bool loraModuleIsAttention(int module) { return module <= kLoraO; }

std::pair<int64_t, int64_t> loraModuleDims(const DecoderConfig& cfg, int module) {
  const int64_t D = cfg.hiddenSize, F = cfg.intermediateSize;
  switch (module) {
    case kLoraQ: return {D, cfg.qDim()};
    case kLoraK:
    case kLoraV: return {D, cfg.kvDim()};
    case kLoraO: return {cfg.qDim(), D};
    case kLoraGate:
    case kLoraUp: return {D, F};
    default: return {F, D};
  }
}

std::string loraTensorName(int64_t layer, int module, char which) {
  return std::string(kLoraPrefix) + std::to_string(layer) + (loraModuleIsAttention(module) ? ".self_attn." : ".mlp.") +
         kModuleNames[module] + ".lora_" + which + ".weight";
}

std::string canonicalTrainName(const std::string& name) {
  std::string s = name;
  // PEFT's in-memory names carry the adapter name: lora_A.default.weight -> lora_A.weight.
  for (const char* ab : {".lora_A.default.weight", ".lora_B.default.weight"}) {
    const std::string pat(ab);
    if (s.size() > pat.size() && s.compare(s.size() - pat.size(), pat.size(), pat) == 0) {
      s = s.substr(0, s.size() - pat.size()) + pat.substr(0, 7) + ".weight";
    }
  }
  const std::string proj = std::string(kPeftProjectorPrefix) + "multi_modal_projector.";
  if (s.rfind(proj, 0) == 0) s = s.substr(std::string(kPeftProjectorPrefix).size());
  return s;
}

Result<std::unique_ptr<TrainableParams>> TrainableParams::create(const LlavaModel& model, const LoraSpec& spec,
                                                                 bool trainProjector) {
  const LlavaConfig& cfg = model.config();
  const DecoderConfig& d = cfg.decoder;
  STIC_CHECK_ARG(spec.r >= 1, "lora.r: expected a positive integer but found ", spec.r);
  STIC_CHECK_ARG(spec.alpha > 0 && std::isfinite(spec.alpha), "lora.alpha: expected a positive number but found ", spec.alpha);
  STIC_CHECK_ARG(spec.dropout >= 0.0f && spec.dropout < 1.0f, "lora.dropout: expected a probability in [0, 1) but found ",
                 spec.dropout);
  bool any = false;
  for (bool t : spec.targets) any = any || t;
  STIC_CHECK_ARG(any, "lora.targets: expected at least one module but found none");

  auto p = std::unique_ptr<TrainableParams>(new TrainableParams());
  p->spec_ = spec;
  p->trainProjector_ = trainProjector;
  // The table of tensors first (names, shapes), then the store allocates every buffer, all zero.
  std::vector<ParamSpec> table;
  for (int64_t l = 0; l < d.numLayers; l++) {
    for (int m = 0; m < kLoraModules; m++) {
      if (!spec.targets[m]) continue;
      auto [K, N] = loraModuleDims(d, m);
      table.push_back({loraTensorName(l, m, 'A'), {spec.r, K}, kLoraGroup});
      table.push_back({loraTensorName(l, m, 'B'), {N, spec.r}, kLoraGroup});
    }
  }
  const ProjectorWeights& pw = model.weights().projector;
  const std::vector<std::pair<const char*, const Tensor*>> projector = {
      {"multi_modal_projector.linear_1.weight", &pw.w1}, {"multi_modal_projector.linear_1.bias", &pw.b1},
      {"multi_modal_projector.linear_2.weight", &pw.w2}, {"multi_modal_projector.linear_2.bias", &pw.b2}};
  if (trainProjector) {
    for (auto& [name, t] : projector) {
      if (t->defined()) table.push_back({name, t->shape(), kProjectorGroup});
    }
  }
  auto store = ParamStore::create(model.backend(), std::move(table));
  if (!store.isOk()) return store.status().withContext("trainer");
  p->store_ = store.take();
  // Index the LoRA pairs and the projector, and initialise (B stays zero).
  const std::vector<TrainTensor>& ts = p->store_->tensors();
  p->lora_.assign(d.numLayers, {});
  size_t i = 0;
  for (int64_t l = 0; l < d.numLayers; l++) {
    for (int m = 0; m < kLoraModules; m++) {
      p->lora_[l][m] = {nullptr, nullptr};
      if (!spec.targets[m]) continue;
      const TrainTensor& A = ts[i++];
      const TrainTensor& B = ts[i++];
      initLoraA(A.param, A.shape[0], A.shape[1], initStream(spec.seed, l, m));
      p->lora_[l][m] = {&A, &B};
    }
  }
  const TrainTensor** proj[] = {&p->projector_.w1, &p->projector_.b1, &p->projector_.w2, &p->projector_.b2};
  for (size_t k = 0; k < projector.size(); k++) {
    if (!trainProjector || !projector[k].second->defined()) continue;
    const TrainTensor& t = ts[i++];
    std::memcpy(t.param, projector[k].second->data<float>(), t.numel * sizeof(float));
    *proj[k] = &t;
  }
  return p;
}

Result<std::unique_ptr<TrainableParams>> TrainableParams::createFull(Backend& backend, const LlavaConfig& cfg) {
  auto store = createFullParamStore(backend, cfg);
  if (!store.isOk()) return store.status();
  auto p = std::unique_ptr<TrainableParams>(new TrainableParams());
  p->full_ = true;
  p->store_ = store.take();
  p->lora_.assign(cfg.decoder.numLayers, {});  // no LoRA: loraA / loraB give null
  p->weights_ = modelPtrs(*p->store_, cfg, ParamKind::Param);
  p->grads_ = modelPtrs(*p->store_, cfg, ParamKind::Grad);
  return p;
}

const TrainTensor* TrainableParams::find(const std::string& name) const {
  const std::string c = canonicalTrainName(name);
  return store_->find(c);
}

}  // namespace stic::model
