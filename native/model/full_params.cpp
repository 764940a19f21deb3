// The store layout of full-parameter training (see full_params.h).
// Legend: n elements of a tensor.
#include "model/full_params.h"

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

Result<std::unique_ptr<ParamStore>> createFullParamStore(Backend& backend, const LlavaConfig& cfg) {
  STIC_RETURN_IF_ERROR(cfg.validate());
  std::vector<ParamSpec> table;
  for (const TensorSpec& s : llavaTensorSpecs(cfg)) {
    table.push_back({s.name, s.shape, s.shape.size() >= 2 ? kDecayGroup : kNoDecayGroup});
  }
  const std::vector<size_t> storage = storageOrder(cfg, table);
  auto store = ParamStore::create(backend, std::move(table), storage);
  if (!store.isOk()) return store.status().withContext("pretraining parameters");
  return store;
}

}  // namespace stic::model
