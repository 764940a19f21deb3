// Structured pointers into a whole-model store (see model_ptrs.h).
#include "model/model_ptrs.h"

namespace stic::model {

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
  m.imageNewline = at("image_newline");
  return m;
}

}  // namespace stic::model
