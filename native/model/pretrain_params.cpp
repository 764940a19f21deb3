// Layout and views of the full-parameter training state (see pretrain_params.h).
// Legend: n elements of a tensor.
#include "model/pretrain_params.h"

#include <cstring>
#include <set>

namespace stic::model {
namespace {

// Name groups that must be adjacent in storage, in the order the fused matrix stacks them.
std::vector<std::vector<std::string>> fusedGroups(const LlavaConfig& cfg) {
  std::vector<std::vector<std::string>> g;
  for (int64_t l = 0; l < cfg.vision.numLayers; l++) {
    const std::string a = "vision_tower.encoder.layers." + std::to_string(l) + ".self_attn.";
    g.push_back({a + "q_proj.weight", a + "k_proj.weight", a + "v_proj.weight"});
    g.push_back({a + "q_proj.bias", a + "k_proj.bias", a + "v_proj.bias"});
  }
  for (int64_t l = 0; l < cfg.decoder.numLayers; l++) {
    const std::string p = "language_model.model.layers." + std::to_string(l) + ".";
    g.push_back({p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"});
    g.push_back({p + "self_attn.q_proj.bias", p + "self_attn.k_proj.bias", p + "self_attn.v_proj.bias"});
    g.push_back({p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"});
    g.push_back({p + "mlp.gate_proj.bias", p + "mlp.up_proj.bias"});
  }
  return g;
}

// The specs in storage order: each fused group emitted whole where its first member appears.
std::vector<TensorSpec> storageOrder(const LlavaConfig& cfg, const std::vector<TensorSpec>& specs) {
  std::map<std::string, const TensorSpec*> byName;
  for (const TensorSpec& s : specs) byName[s.name] = &s;
  std::map<std::string, size_t> groupOf;
  const auto groups = fusedGroups(cfg);
  for (size_t i = 0; i < groups.size(); i++) {
    for (const std::string& n : groups[i]) groupOf[n] = i;
  }
  std::vector<TensorSpec> out;
  std::set<std::string> placed;
  for (const TensorSpec& s : specs) {
    if (placed.count(s.name)) continue;
    auto g = groupOf.find(s.name);
    if (g == groupOf.end()) {
      out.push_back(s);
      placed.insert(s.name);
      continue;
    }
    for (const std::string& n : groups[g->second]) {
      auto it = byName.find(n);
      if (it == byName.end()) continue;  // biases absent from this config
      out.push_back(*it->second);
      placed.insert(n);
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<PretrainParams>> PretrainParams::create(const LlavaConfig& cfg) {
  STIC_RETURN_IF_ERROR(cfg.validate());
  auto p = std::unique_ptr<PretrainParams>(new PretrainParams());
  p->cfg_ = cfg;
  const std::vector<TensorSpec> specs = llavaTensorSpecs(cfg);
  std::map<std::string, int64_t> offsetOf;
  for (const TensorSpec& s : storageOrder(cfg, specs)) {
    offsetOf[s.name] = p->numel_;
    p->numel_ += shapeNumel(s.shape);
  }
  for (const TensorSpec& s : specs) {
    const int64_t group = s.shape.size() >= 2 ? kDecayGroup : kNoDecayGroup;
    p->index_[s.name] = p->tensors_.size();
    p->tensors_.push_back({s.name, s.shape, offsetOf.at(s.name), shapeNumel(s.shape), group});
  }
  const Lifetime lifetimes[4] = {Lifetime::Weights, Lifetime::Gradients, Lifetime::OptimizerState, Lifetime::OptimizerState};
  const char* what[4] = {"parameters", "gradients", "exp_avg", "exp_avg_sq"};
  for (int k = 0; k < 4; k++) {
    ArenaPlan plan;
    plan.add(DType::F32, {p->numel_});
    auto arena = Arena::create(cpuBackend(), lifetimes[k], plan);
    if (!arena.isOk()) return arena.status().withContext(std::string("pretraining ") + what[k]);
    p->arenas_[k] = arena.take();
    auto flat = p->arenas_[k]->allocate(DType::F32, {p->numel_}, what[k]);
    if (!flat.isOk()) return flat.status();
    p->flat_[k] = flat.take();
    std::memset(p->flat_[k].raw(), 0, p->flat_[k].bytes());
  }
  return p;
}

const PretrainTensor* PretrainParams::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

float* PretrainParams::data(PretrainKind kind) const { return flat_[static_cast<int>(kind)].data<float>(); }

Result<Tensor> PretrainParams::view(PretrainKind kind, const PretrainTensor& t) const {
  auto range = flat_[static_cast<int>(kind)].slice0(t.offset, t.offset + t.numel);
  if (!range.isOk()) return range.status();
  return range.value().reshape(t.shape);
}

ModelPtrs PretrainParams::ptrs(PretrainKind kind) const {
  float* base = data(kind);
  auto at = [&](const std::string& name) -> float* {
    const PretrainTensor* t = find(name);
    return t ? base + t->offset : nullptr;
  };
  ModelPtrs m{};
  VisionPtrs& v = m.vision;
  const std::string e = "vision_tower.embeddings.";
  v.patchW = at(e + "patch_embedding.weight");
  v.classEmbed = at(e + "class_embedding");
  v.posEmbed = at(e + "position_embedding.weight");
  v.preLnW = at("vision_tower.pre_layrnorm.weight");
  v.preLnB = at("vision_tower.pre_layrnorm.bias");
  for (int64_t l = 0; l < cfg_.vision.numLayers; l++) {
    const std::string p = "vision_tower.encoder.layers." + std::to_string(l) + ".";
    VisionLayerPtrs L{};
    L.ln1W = at(p + "layer_norm1.weight");
    L.ln1B = at(p + "layer_norm1.bias");
    L.qkvW = at(p + "self_attn.q_proj.weight");
    L.qkvB = at(p + "self_attn.q_proj.bias");
    L.outW = at(p + "self_attn.out_proj.weight");
    L.outB = at(p + "self_attn.out_proj.bias");
    L.ln2W = at(p + "layer_norm2.weight");
    L.ln2B = at(p + "layer_norm2.bias");
    L.fc1W = at(p + "mlp.fc1.weight");
    L.fc1B = at(p + "mlp.fc1.bias");
    L.fc2W = at(p + "mlp.fc2.weight");
    L.fc2B = at(p + "mlp.fc2.bias");
    v.layers.push_back(L);
  }
  m.projector = {at("multi_modal_projector.linear_1.weight"), at("multi_modal_projector.linear_1.bias"),
                 at("multi_modal_projector.linear_2.weight"), at("multi_modal_projector.linear_2.bias")};
  DecoderPtrs& d = m.decoder;
  d.embed = at("language_model.model.embed_tokens.weight");
  for (int64_t l = 0; l < cfg_.decoder.numLayers; l++) {
    const std::string p = "language_model.model.layers." + std::to_string(l) + ".";
    DecoderLayerPtrs L{};
    L.attnNorm = at(p + "input_layernorm.weight");
    L.qkvW = at(p + "self_attn.q_proj.weight");
    L.qkvB = at(p + "self_attn.q_proj.bias");
    L.oW = at(p + "self_attn.o_proj.weight");
    L.oB = at(p + "self_attn.o_proj.bias");
    L.mlpNorm = at(p + "post_attention_layernorm.weight");
    L.gateUpW = at(p + "mlp.gate_proj.weight");
    L.gateUpB = at(p + "mlp.gate_proj.bias");
    L.downW = at(p + "mlp.down_proj.weight");
    L.downB = at(p + "mlp.down_proj.bias");
    d.layers.push_back(L);
  }
  d.norm = at("language_model.model.norm.weight");
  d.lmHead = cfg_.decoder.tieWordEmbeddings ? d.embed : at("language_model.lm_head.weight");
  return m;
}

std::vector<train::ParamSlot> PretrainParams::slots() const {
  std::vector<train::ParamSlot> out;
  for (const PretrainTensor& t : tensors_) {
    out.push_back({data(PretrainKind::Param, t), data(PretrainKind::Grad, t), data(PretrainKind::ExpAvg, t),
                   data(PretrainKind::ExpAvgSq, t), t.numel, t.group});
  }
  return out;
}

void PretrainParams::zeroGrad() { std::memset(flat_[1].raw(), 0, flat_[1].bytes()); }

}  // namespace stic::model
