// Layout and views of the full-parameter training state (see pretrain_params.h).
// Legend: n elements of a tensor.
#include "model/pretrain_params.h"

#include <map>

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

// The table of every weight (llavaTensorSpecs order, groups by rank) and its storage order: each
// fused group laid out whole, members after the first `fused`, where its first member appears.
std::vector<size_t> storageOrder(const LlavaConfig& cfg, std::vector<ParamSpec>& table) {
  std::map<std::string, size_t> byName;
  for (size_t i = 0; i < table.size(); i++) byName[table[i].name] = i;
  std::map<std::string, size_t> groupOf;
  const auto groups = fusedGroups(cfg);
  for (size_t i = 0; i < groups.size(); i++) {
    for (const std::string& n : groups[i]) groupOf[n] = i;
  }
  std::vector<size_t> out;
  std::vector<bool> placed(table.size(), false);
  for (size_t i = 0; i < table.size(); i++) {
    if (placed[i]) continue;
    auto g = groupOf.find(table[i].name);
    if (g == groupOf.end()) {
      out.push_back(i);
      placed[i] = true;
      continue;
    }
    bool first = true;
    for (const std::string& n : groups[g->second]) {
      auto it = byName.find(n);
      if (it == byName.end()) continue;  // biases absent from this config
      table[it->second].fused = !first;
      first = false;
      out.push_back(it->second);
      placed[it->second] = true;
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<ParamStore>> createPretrainStore(const LlavaConfig& cfg) {
  STIC_RETURN_IF_ERROR(cfg.validate());
  std::vector<ParamSpec> table;
  for (const TensorSpec& s : llavaTensorSpecs(cfg)) {
    table.push_back({s.name, s.shape, s.shape.size() >= 2 ? kDecayGroup : kNoDecayGroup});
  }
  const std::vector<size_t> storage = storageOrder(cfg, table);
  auto store = ParamStore::create(cpuBackend(), std::move(table), storage);
  if (!store.isOk()) return store.status().withContext("pretraining parameters");
  return store;
}

ModelPtrs modelPtrs(const ParamStore& store, const LlavaConfig& cfg, ParamKind kind) {
  float* base = store.data(kind);
  auto at = [&](const std::string& name) -> float* {
    const ParamTensor* t = store.find(name);
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
  for (int64_t l = 0; l < cfg.vision.numLayers; l++) {
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
  for (int64_t l = 0; l < cfg.decoder.numLayers; l++) {
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
  d.lmHead = cfg.decoder.tieWordEmbeddings ? d.embed : at("language_model.lm_head.weight");
  return m;
}

}  // namespace stic::model
