#include "addon/llava_args.h"

#include "addon/args.h"
#include "addon/worker.h"

namespace stic::addon {

namespace {

model::Act act(const Args& a, const char* key) {
  auto act = model::parseAct(a.string(key));
  if (!act.isOk()) a.fail(key, "one of quick_gelu, gelu, gelu_pytorch_tanh, relu, silu");
  return act.value();
}

model::VisionConfig parseVision(const Args& v) {
  model::VisionConfig c;
  c.imageSize = v.integer("imageSize");
  c.patchSize = v.integer("patchSize");
  c.numChannels = v.integer("numChannels");
  c.hiddenSize = v.integer("hiddenSize");
  c.intermediateSize = v.integer("intermediateSize");
  c.numLayers = v.integer("numLayers");
  c.numHeads = v.integer("numHeads");
  c.act = act(v, "act");
  c.layerNormEps = static_cast<float>(v.number("layerNormEps"));
  c.featureLayer = v.integer("featureLayer");
  c.keepCls = v.choice("selectStrategy", {"default", "full"}) == 1;
  return c;
}

model::DecoderConfig parseDecoder(const Args& d) {
  model::DecoderConfig c;
  c.hiddenSize = d.integer("hiddenSize");
  c.intermediateSize = d.integer("intermediateSize");
  c.numLayers = d.integer("numLayers");
  c.numHeads = d.integer("numHeads");
  c.numKvHeads = d.integer("numKvHeads");
  c.headDim = d.integer("headDim");
  c.vocabSize = d.integer("vocabSize");
  c.ropeTheta = static_cast<float>(d.number("ropeTheta"));
  c.rmsNormEps = static_cast<float>(d.number("rmsNormEps"));
  c.tieWordEmbeddings = d.boolean("tieWordEmbeddings");
  c.attentionBias = d.boolean("attentionBias");
  c.mlpBias = d.boolean("mlpBias");
  return c;
}

}  // namespace

model::LlavaConfig parseLlavaConfig(const Napi::Value& value) {
  const Args c(value, "config");
  model::LlavaConfig cfg;
  cfg.vision = parseVision(c.object("vision"));
  const Args p = c.object("projector");
  cfg.projector.mlp2x = p.choice("type", {"mlp2x_gelu", "linear"}) == 0;
  cfg.projector.act = act(p, "act");
  cfg.projector.bias = p.boolean("bias");
  cfg.decoder = parseDecoder(c.object("decoder"));
  cfg.imageTokenId = c.integer("imageTokenId");
  cfg.imageTokenCount = c.integer("imageTokenCount");
  // LLaVA-NeXT: an anyres section (EngineConfig.anyres) means the checkpoint has image_newline.
  cfg.imageNewline = c.has("anyres") && c.get("anyres").IsObject();
  Status s = cfg.validate();
  if (!s.isOk()) throw statusToError(c.env(), s);
  return cfg;
}

std::vector<io::TensorSource> parseTensorSources(const Napi::Value& value) {
  Napi::Array a = requireArray(value, "sources", "an array of tensor sources");
  std::vector<io::TensorSource> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    const Args o(a.Get(i), "sources[" + std::to_string(i) + "]");
    io::TensorSource& s = out[i];
    s.name = o.string("name");
    s.file = o.string("file");
    s.offset = static_cast<uint64_t>(o.integer("offset"));
    s.nbytes = static_cast<uint64_t>(o.integer("nbytes"));
    s.dtype = o.dtype("dtype");
    s.shape = o.intArray("shape");
  }
  return out;
}

}  // namespace stic::addon
