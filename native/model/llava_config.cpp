#include "model/llava_config.h"

namespace stic::model {

Result<Act> parseAct(const std::string& name) {
  if (name == "quick_gelu") return Act::QuickGelu;
  if (name == "gelu") return Act::Gelu;
  if (name == "gelu_pytorch_tanh") return Act::GeluTanh;
  if (name == "relu") return Act::Relu;
  if (name == "silu") return Act::Silu;
  return error(Code::Unsupported, "activation \"", name, "\" is not supported (expected quick_gelu, gelu, gelu_pytorch_tanh, relu or silu)");
}

void applyAct(const Ops& ops, Act act, float* out, const float* inp, int64_t n) {
  switch (act) {
    case Act::QuickGelu: ops.elementwise.quick_gelu_forward(out, inp, n); return;
    case Act::Gelu: ops.elementwise.gelu_forward(out, inp, n); return;
    case Act::GeluTanh: ops.elementwise.gelu_tanh_forward(out, inp, n); return;
    case Act::Relu: ops.elementwise.relu_forward(out, inp, n); return;
    case Act::Silu: ops.elementwise.silu_forward(out, inp, n); return;
  }
}

void actBackward(const Ops& ops, Act act, float* dinp, const float* dout, const float* inp, int64_t n) {
  switch (act) {
    case Act::QuickGelu: ops.elementwise.quick_gelu_backward(dinp, dout, inp, n); return;
    case Act::Gelu: ops.elementwise.gelu_backward(dinp, dout, inp, n); return;
    case Act::GeluTanh: ops.elementwise.gelu_tanh_backward(dinp, dout, inp, n); return;
    case Act::Relu: ops.elementwise.relu_backward(dinp, dout, inp, n); return;
    case Act::Silu: ops.elementwise.silu_backward(dinp, dout, inp, n); return;
  }
}

namespace {

Status positive(int64_t v, const char* field) {
  STIC_CHECK_ARG(v > 0, "config.", field, ": expected a positive integer but found ", v);
  return Status::ok();
}

}  // namespace

Status LlavaConfig::validate() const {
  const VisionConfig& v = vision;
  const DecoderConfig& d = decoder;
  STIC_RETURN_IF_ERROR(positive(v.imageSize, "vision.imageSize"));
  STIC_RETURN_IF_ERROR(positive(v.patchSize, "vision.patchSize"));
  STIC_RETURN_IF_ERROR(positive(v.hiddenSize, "vision.hiddenSize"));
  STIC_RETURN_IF_ERROR(positive(v.intermediateSize, "vision.intermediateSize"));
  STIC_RETURN_IF_ERROR(positive(v.numLayers, "vision.numLayers"));
  STIC_RETURN_IF_ERROR(positive(v.numHeads, "vision.numHeads"));
  STIC_CHECK_ARG(v.numChannels == 3, "config.vision.numChannels: expected 3 but found ", v.numChannels);
  STIC_CHECK_ARG(v.imageSize % v.patchSize == 0, "config.vision: imageSize ", v.imageSize, " is not a multiple of patchSize ",
                 v.patchSize);
  STIC_CHECK_ARG(v.hiddenSize % v.numHeads == 0, "config.vision: hiddenSize ", v.hiddenSize, " is not a multiple of numHeads ",
                 v.numHeads);
  int64_t fi = v.featureIndex();
  STIC_CHECK_ARG(fi >= 0 && fi <= v.numLayers, "config.vision.featureLayer: expected an index into the ", v.numLayers + 1,
                 " hidden states (", -(v.numLayers + 1), " to ", v.numLayers, ") but found ", v.featureLayer);
  STIC_RETURN_IF_ERROR(positive(d.hiddenSize, "decoder.hiddenSize"));
  STIC_RETURN_IF_ERROR(positive(d.intermediateSize, "decoder.intermediateSize"));
  STIC_RETURN_IF_ERROR(positive(d.numLayers, "decoder.numLayers"));
  STIC_RETURN_IF_ERROR(positive(d.numHeads, "decoder.numHeads"));
  STIC_RETURN_IF_ERROR(positive(d.numKvHeads, "decoder.numKvHeads"));
  STIC_RETURN_IF_ERROR(positive(d.headDim, "decoder.headDim"));
  STIC_RETURN_IF_ERROR(positive(d.vocabSize, "decoder.vocabSize"));
  STIC_CHECK_ARG(d.headDim % 2 == 0, "config.decoder.headDim: rotary embeddings need an even head dim but found ", d.headDim);
  STIC_CHECK_ARG(d.numHeads % d.numKvHeads == 0, "config.decoder: numHeads ", d.numHeads,
                 " is not a multiple of numKvHeads ", d.numKvHeads);
  STIC_CHECK_ARG(d.ropeTheta > 0, "config.decoder.ropeTheta: expected a positive number but found ", d.ropeTheta);
  STIC_CHECK_ARG(imageTokenCount == v.featureTokens(), "config.imageTokenCount: the vision tower gives ", v.featureTokens(),
                 " feature rows per image (", v.numPatches(), " patches", v.keepCls ? " + CLS" : "", ") but found ",
                 imageTokenCount);
  STIC_CHECK_ARG(!(imageNewline && v.keepCls), "config.vision.selectStrategy: anyres (LLaVA-NeXT) images need 'default' (the CLS row dropped), ",
                 "so each crop's features form a square grid, but found 'full'");
  return Status::ok();
}

std::vector<TensorSpec> llavaTensorSpecs(const LlavaConfig& cfg) {
  const VisionConfig& v = cfg.vision;
  const DecoderConfig& d = cfg.decoder;
  std::vector<TensorSpec> out;
  auto add = [&](std::string name, Shape shape) { out.push_back({std::move(name), std::move(shape)}); };
  const int64_t Dv = v.hiddenSize, Iv = v.intermediateSize, D = d.hiddenSize, F = d.intermediateSize;

  add("vision_tower.embeddings.patch_embedding.weight", {Dv, v.numChannels, v.patchSize, v.patchSize});
  add("vision_tower.embeddings.class_embedding", {Dv});
  add("vision_tower.embeddings.position_embedding.weight", {v.tokens(), Dv});
  add("vision_tower.pre_layrnorm.weight", {Dv});
  add("vision_tower.pre_layrnorm.bias", {Dv});
  for (int64_t l = 0; l < v.numLayers; l++) {
    std::string p = "vision_tower.encoder.layers." + std::to_string(l) + ".";
    add(p + "layer_norm1.weight", {Dv});
    add(p + "layer_norm1.bias", {Dv});
    for (const char* m : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      add(p + "self_attn." + m + ".weight", {Dv, Dv});
      add(p + "self_attn." + m + ".bias", {Dv});
    }
    add(p + "layer_norm2.weight", {Dv});
    add(p + "layer_norm2.bias", {Dv});
    add(p + "mlp.fc1.weight", {Iv, Dv});
    add(p + "mlp.fc1.bias", {Iv});
    add(p + "mlp.fc2.weight", {Dv, Iv});
    add(p + "mlp.fc2.bias", {Dv});
  }

  add("multi_modal_projector.linear_1.weight", {D, Dv});
  if (cfg.projector.bias) add("multi_modal_projector.linear_1.bias", {D});
  if (cfg.projector.mlp2x) {
    add("multi_modal_projector.linear_2.weight", {D, D});
    if (cfg.projector.bias) add("multi_modal_projector.linear_2.bias", {D});
  }

  add("language_model.model.embed_tokens.weight", {d.vocabSize, D});
  for (int64_t l = 0; l < d.numLayers; l++) {
    std::string p = "language_model.model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {D});
    add(p + "self_attn.q_proj.weight", {d.qDim(), D});
    add(p + "self_attn.k_proj.weight", {d.kvDim(), D});
    add(p + "self_attn.v_proj.weight", {d.kvDim(), D});
    add(p + "self_attn.o_proj.weight", {D, d.qDim()});
    if (d.attentionBias) {
      add(p + "self_attn.q_proj.bias", {d.qDim()});
      add(p + "self_attn.k_proj.bias", {d.kvDim()});
      add(p + "self_attn.v_proj.bias", {d.kvDim()});
      add(p + "self_attn.o_proj.bias", {D});
    }
    add(p + "post_attention_layernorm.weight", {D});
    add(p + "mlp.gate_proj.weight", {F, D});
    add(p + "mlp.up_proj.weight", {F, D});
    add(p + "mlp.down_proj.weight", {D, F});
    if (d.mlpBias) {
      add(p + "mlp.gate_proj.bias", {F});
      add(p + "mlp.up_proj.bias", {F});
      add(p + "mlp.down_proj.bias", {D});
    }
  }
  add("language_model.model.norm.weight", {D});
  if (cfg.imageNewline) add("image_newline", {D});
  if (!d.tieWordEmbeddings) add("language_model.lm_head.weight", {d.vocabSize, D});
  return out;
}

}  // namespace stic::model
