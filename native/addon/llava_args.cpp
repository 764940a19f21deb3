#include "addon/llava_args.h"

#include "addon/convert.h"
#include "addon/worker.h"

namespace stic::addon {

bool requireBool(const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) throwExpected(o.Env(), "a boolean", where + "." + key, v);
  return v.As<Napi::Boolean>().Value();
}

model::Act requireAct(const Napi::Object& o, const char* key, const std::string& where) {
  auto act = model::parseAct(requireString(o, key, where));
  if (!act.isOk()) throwExpected(o.Env(), "one of quick_gelu, gelu, gelu_pytorch_tanh, relu, silu", where + "." + key, o.Get(key));
  return act.value();
}

model::LlavaConfig parseLlavaConfig(const Napi::Value& value) {
  Napi::Object c = requireObject(value, "config");
  model::LlavaConfig cfg;
  Napi::Object v = requireObject(c.Get("vision"), "config.vision");
  const std::string vw = "config.vision";
  cfg.vision.imageSize = requireInt(v, "imageSize", vw);
  cfg.vision.patchSize = requireInt(v, "patchSize", vw);
  cfg.vision.numChannels = requireInt(v, "numChannels", vw);
  cfg.vision.hiddenSize = requireInt(v, "hiddenSize", vw);
  cfg.vision.intermediateSize = requireInt(v, "intermediateSize", vw);
  cfg.vision.numLayers = requireInt(v, "numLayers", vw);
  cfg.vision.numHeads = requireInt(v, "numHeads", vw);
  cfg.vision.act = requireAct(v, "act", vw);
  cfg.vision.layerNormEps = static_cast<float>(requireNumber(v, "layerNormEps", vw));
  cfg.vision.featureLayer = requireInt(v, "featureLayer", vw);
  std::string select = requireString(v, "selectStrategy", vw);
  if (select != "default" && select != "full") throwExpected(c.Env(), "'default' or 'full'", vw + ".selectStrategy", v.Get("selectStrategy"));
  cfg.vision.keepCls = select == "full";

  Napi::Object p = requireObject(c.Get("projector"), "config.projector");
  const std::string pw = "config.projector";
  std::string type = requireString(p, "type", pw);
  if (type != "mlp2x_gelu" && type != "linear") throwExpected(c.Env(), "'mlp2x_gelu' or 'linear'", pw + ".type", p.Get("type"));
  cfg.projector.mlp2x = type == "mlp2x_gelu";
  cfg.projector.act = requireAct(p, "act", pw);
  cfg.projector.bias = requireBool(p, "bias", pw);

  Napi::Object d = requireObject(c.Get("decoder"), "config.decoder");
  const std::string dw = "config.decoder";
  cfg.decoder.hiddenSize = requireInt(d, "hiddenSize", dw);
  cfg.decoder.intermediateSize = requireInt(d, "intermediateSize", dw);
  cfg.decoder.numLayers = requireInt(d, "numLayers", dw);
  cfg.decoder.numHeads = requireInt(d, "numHeads", dw);
  cfg.decoder.numKvHeads = requireInt(d, "numKvHeads", dw);
  cfg.decoder.headDim = requireInt(d, "headDim", dw);
  cfg.decoder.vocabSize = requireInt(d, "vocabSize", dw);
  cfg.decoder.ropeTheta = static_cast<float>(requireNumber(d, "ropeTheta", dw));
  cfg.decoder.rmsNormEps = static_cast<float>(requireNumber(d, "rmsNormEps", dw));
  cfg.decoder.tieWordEmbeddings = requireBool(d, "tieWordEmbeddings", dw);
  cfg.decoder.attentionBias = requireBool(d, "attentionBias", dw);
  cfg.decoder.mlpBias = requireBool(d, "mlpBias", dw);
  cfg.imageTokenId = requireInt(c, "imageTokenId", "config");
  cfg.imageTokenCount = requireInt(c, "imageTokenCount", "config");
  // LLaVA-NeXT: an anyres section (EngineConfig.anyres) means the checkpoint has image_newline.
  cfg.imageNewline = c.Has("anyres") && c.Get("anyres").IsObject();
  Status s = cfg.validate();
  if (!s.isOk()) throw statusToError(c.Env(), s);
  return cfg;
}

std::vector<io::TensorSource> parseTensorSources(const Napi::Value& value) {
  if (!value.IsArray()) throwExpected(value.Env(), "an array of tensor sources", "sources", value);
  Napi::Array a = value.As<Napi::Array>();
  std::vector<io::TensorSource> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    std::string where = "sources[" + std::to_string(i) + "]";
    Napi::Object o = requireObject(a.Get(i), where);
    io::TensorSource& s = out[i];
    s.name = requireString(o, "name", where);
    s.file = requireString(o, "file", where);
    s.offset = static_cast<uint64_t>(requireInt(o, "offset", where));
    s.nbytes = static_cast<uint64_t>(requireInt(o, "nbytes", where));
    s.dtype = requireDType(o, "dtype", where);
    s.shape = requireIntArray(o, "shape", where);
  }
  return out;
}

}  // namespace stic::addon
