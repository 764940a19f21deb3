#include "model/llava_weights.h"

#include <map>

namespace stic::model {
namespace {

// Allocation of the fused tensors plus the destination view of every checkpoint tensor.
class WeightBuilder {
 public:
  explicit WeightBuilder(Arena& arena) : arena_(arena) {}

  // A tensor that receives one checkpoint tensor as a whole.
  Result<Tensor> whole(const std::string& name, const Shape& shape) {
    auto t = arena_.allocate(DType::F32, shape, "weight");
    if (!t.isOk()) return t.status().withContext(name);
    views_[name] = t.value();
    return t;
  }

  // A tensor whose leading-dimension row ranges receive several checkpoint tensors in order
  // (q|k|v, gate|up). parts: (name, rows).
  Result<Tensor> fused(const std::vector<std::pair<std::string, int64_t>>& parts, Shape rest, const char* what) {
    int64_t rows = 0;
    for (auto& [name, n] : parts) rows += n;
    Shape shape{rows};
    shape.insert(shape.end(), rest.begin(), rest.end());
    auto t = arena_.allocate(DType::F32, shape, what);
    if (!t.isOk()) return t.status().withContext(parts.front().first);
    int64_t begin = 0;
    for (auto& [name, n] : parts) {
      auto view = t.value().slice0(begin, begin + n);
      if (!view.isOk()) return view.status();
      views_[name] = view.value();
      begin += n;
    }
    return t;
  }

  std::map<std::string, Tensor>& views() { return views_; }

 private:
  Arena& arena_;
  std::map<std::string, Tensor> views_;
};

#define ASSIGN_OR_RETURN(lhs, expr)      \
  do {                                   \
    auto r_ = (expr);                    \
    if (!r_.isOk()) return r_.status();  \
    lhs = r_.take();                     \
  } while (0)

Status buildVision(WeightBuilder& b, const VisionConfig& v, VisionWeights& w) {
  const int64_t Dv = v.hiddenSize;
  ASSIGN_OR_RETURN(w.patchW, b.whole("vision_tower.embeddings.patch_embedding.weight", {Dv, v.numChannels, v.patchSize, v.patchSize}));
  ASSIGN_OR_RETURN(w.classEmbed, b.whole("vision_tower.embeddings.class_embedding", {Dv}));
  ASSIGN_OR_RETURN(w.posEmbed, b.whole("vision_tower.embeddings.position_embedding.weight", {v.tokens(), Dv}));
  ASSIGN_OR_RETURN(w.preLnW, b.whole("vision_tower.pre_layrnorm.weight", {Dv}));
  ASSIGN_OR_RETURN(w.preLnB, b.whole("vision_tower.pre_layrnorm.bias", {Dv}));
  w.layers.resize(v.numLayers);
  for (int64_t l = 0; l < v.numLayers; l++) {
    VisionLayerWeights& L = w.layers[l];
    std::string p = "vision_tower.encoder.layers." + std::to_string(l) + ".";
    std::string a = p + "self_attn.";
    ASSIGN_OR_RETURN(L.ln1W, b.whole(p + "layer_norm1.weight", {Dv}));
    ASSIGN_OR_RETURN(L.ln1B, b.whole(p + "layer_norm1.bias", {Dv}));
    ASSIGN_OR_RETURN(L.qkvW, b.fused({{a + "q_proj.weight", Dv}, {a + "k_proj.weight", Dv}, {a + "v_proj.weight", Dv}}, {Dv}, "weight"));
    ASSIGN_OR_RETURN(L.qkvB, b.fused({{a + "q_proj.bias", Dv}, {a + "k_proj.bias", Dv}, {a + "v_proj.bias", Dv}}, {}, "bias"));
    ASSIGN_OR_RETURN(L.outW, b.whole(a + "out_proj.weight", {Dv, Dv}));
    ASSIGN_OR_RETURN(L.outB, b.whole(a + "out_proj.bias", {Dv}));
    ASSIGN_OR_RETURN(L.ln2W, b.whole(p + "layer_norm2.weight", {Dv}));
    ASSIGN_OR_RETURN(L.ln2B, b.whole(p + "layer_norm2.bias", {Dv}));
    ASSIGN_OR_RETURN(L.fc1W, b.whole(p + "mlp.fc1.weight", {v.intermediateSize, Dv}));
    ASSIGN_OR_RETURN(L.fc1B, b.whole(p + "mlp.fc1.bias", {v.intermediateSize}));
    ASSIGN_OR_RETURN(L.fc2W, b.whole(p + "mlp.fc2.weight", {Dv, v.intermediateSize}));
    ASSIGN_OR_RETURN(L.fc2B, b.whole(p + "mlp.fc2.bias", {Dv}));
  }
  return Status::ok();
}

Status buildProjector(WeightBuilder& b, const LlavaConfig& cfg, ProjectorWeights& w) {
  const int64_t D = cfg.decoder.hiddenSize;
  ASSIGN_OR_RETURN(w.w1, b.whole("multi_modal_projector.linear_1.weight", {D, cfg.vision.hiddenSize}));
  if (cfg.projector.bias) ASSIGN_OR_RETURN(w.b1, b.whole("multi_modal_projector.linear_1.bias", {D}));
  if (cfg.projector.mlp2x) {
    ASSIGN_OR_RETURN(w.w2, b.whole("multi_modal_projector.linear_2.weight", {D, D}));
    if (cfg.projector.bias) ASSIGN_OR_RETURN(w.b2, b.whole("multi_modal_projector.linear_2.bias", {D}));
  }
  return Status::ok();
}

Status buildDecoder(WeightBuilder& b, const DecoderConfig& d, DecoderWeights& w) {
  const int64_t D = d.hiddenSize, F = d.intermediateSize;
  ASSIGN_OR_RETURN(w.embed, b.whole("language_model.model.embed_tokens.weight", {d.vocabSize, D}));
  w.layers.resize(d.numLayers);
  for (int64_t l = 0; l < d.numLayers; l++) {
    DecoderLayerWeights& L = w.layers[l];
    std::string p = "language_model.model.layers." + std::to_string(l) + ".";
    std::string a = p + "self_attn.", m = p + "mlp.";
    ASSIGN_OR_RETURN(L.attnNorm, b.whole(p + "input_layernorm.weight", {D}));
    ASSIGN_OR_RETURN(L.qkvW, b.fused({{a + "q_proj.weight", d.qDim()}, {a + "k_proj.weight", d.kvDim()}, {a + "v_proj.weight", d.kvDim()}},
                                     {D}, "weight"));
    ASSIGN_OR_RETURN(L.oW, b.whole(a + "o_proj.weight", {D, d.qDim()}));
    if (d.attentionBias) {
      ASSIGN_OR_RETURN(L.qkvB, b.fused({{a + "q_proj.bias", d.qDim()}, {a + "k_proj.bias", d.kvDim()}, {a + "v_proj.bias", d.kvDim()}},
                                       {}, "bias"));
      ASSIGN_OR_RETURN(L.oB, b.whole(a + "o_proj.bias", {D}));
    }
    ASSIGN_OR_RETURN(L.mlpNorm, b.whole(p + "post_attention_layernorm.weight", {D}));
    ASSIGN_OR_RETURN(L.gateUpW, b.fused({{m + "gate_proj.weight", F}, {m + "up_proj.weight", F}}, {D}, "weight"));
    ASSIGN_OR_RETURN(L.downW, b.whole(m + "down_proj.weight", {D, F}));
    if (d.mlpBias) {
      ASSIGN_OR_RETURN(L.gateUpB, b.fused({{m + "gate_proj.bias", F}, {m + "up_proj.bias", F}}, {}, "bias"));
      ASSIGN_OR_RETURN(L.downB, b.whole(m + "down_proj.bias", {D}));
    }
  }
  ASSIGN_OR_RETURN(w.norm, b.whole("language_model.model.norm.weight", {D}));
  if (d.tieWordEmbeddings) {
    w.lmHead = w.embed;
  } else {
    ASSIGN_OR_RETURN(w.lmHead, b.whole("language_model.lm_head.weight", {d.vocabSize, D}));
  }
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<LlavaWeights>> loadLlavaWeights(const LlavaConfig& cfg, const std::vector<io::TensorSource>& sources) {
  STIC_RETURN_IF_ERROR(cfg.validate());
  std::vector<TensorSpec> specs = llavaTensorSpecs(cfg);
  ArenaPlan plan;
  for (const TensorSpec& s : specs) plan.add(DType::F32, s.shape);
  auto arena = Arena::create(cpuBackend(), Lifetime::Weights, plan.bytes());
  if (!arena.isOk()) return arena.status().withContext("loading LLaVA weights");
  auto w = std::make_unique<LlavaWeights>();
  w->arena = arena.take();
  WeightBuilder b(*w->arena);
  STIC_RETURN_IF_ERROR(buildVision(b, cfg.vision, w->vision));
  STIC_RETURN_IF_ERROR(buildProjector(b, cfg, w->projector));
  STIC_RETURN_IF_ERROR(buildDecoder(b, cfg.decoder, w->decoder));
  if (cfg.imageNewline) ASSIGN_OR_RETURN(w->imageNewline, b.whole("image_newline", {cfg.decoder.hiddenSize}));

  std::map<std::string, const io::TensorSource*> byName;
  for (const io::TensorSource& s : sources) byName[s.name] = &s;
  std::vector<io::TensorSource> reads;
  std::vector<Tensor*> dsts;
  for (const TensorSpec& spec : specs) {
    auto view = b.views().find(spec.name);
    if (view == b.views().end() || view->second.shape() != spec.shape) {
      return error(Code::Internal, "internal: no destination of shape ", shapeString(spec.shape), " for weight ", spec.name);
    }
    auto src = byName.find(spec.name);
    if (src == byName.end()) return error(Code::NotFound, "missing weight ", spec.name, ": no tensor source was given for it");
    if (src->second->shape != spec.shape) {
      return error(Code::InvalidArgument, "weight ", spec.name, " in ", src->second->file, ": expected shape ",
                   shapeString(spec.shape), " but the checkpoint has ", shapeString(src->second->shape));
    }
    reads.push_back(*src->second);
    dsts.push_back(&view->second);
  }
  STIC_RETURN_IF_ERROR(io::readTensors(reads, dsts));
  return w;
}

}  // namespace stic::model
