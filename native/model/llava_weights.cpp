#include "model/llava_weights.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

namespace stic::model {
namespace {

// One weight tensor to fill: a checkpoint tensor as a whole, or several stacked along the leading
// dimension in order (q|k|v, gate|up). parts: (engine name, rows); rows -1 for a whole tensor.
struct Slot {
  Tensor* dst = nullptr;
  std::vector<std::pair<std::string, int64_t>> parts;
  Shape shape;
};

// Collects the slots; loadLlavaWeights then decides each one's dtype and home and fills it.
class WeightBuilder {
 public:
  void whole(Tensor& dst, const std::string& name, const Shape& shape) { slots_.push_back({&dst, {{name, -1}}, shape}); }
  void fused(Tensor& dst, const std::vector<std::pair<std::string, int64_t>>& parts, const Shape& rest) {
    int64_t rows = 0;
    for (auto& part : parts) rows += part.second;
    Shape shape{rows};
    shape.insert(shape.end(), rest.begin(), rest.end());
    slots_.push_back({&dst, parts, shape});
  }
  std::vector<Slot>& slots() { return slots_; }

 private:
  std::vector<Slot> slots_;
};

void buildVision(WeightBuilder& b, const VisionConfig& v, VisionWeights& w) {
  const int64_t Dv = v.hiddenSize;
  b.whole(w.patchW, "vision_tower.embeddings.patch_embedding.weight", {Dv, v.numChannels, v.patchSize, v.patchSize});
  b.whole(w.classEmbed, "vision_tower.embeddings.class_embedding", {Dv});
  b.whole(w.posEmbed, "vision_tower.embeddings.position_embedding.weight", {v.tokens(), Dv});
  b.whole(w.preLnW, "vision_tower.pre_layrnorm.weight", {Dv});
  b.whole(w.preLnB, "vision_tower.pre_layrnorm.bias", {Dv});
  w.layers.resize(v.numLayers);
  for (int64_t l = 0; l < v.numLayers; l++) {
    VisionLayerWeights& L = w.layers[l];
    std::string p = "vision_tower.encoder.layers." + std::to_string(l) + ".";
    std::string a = p + "self_attn.";
    b.whole(L.ln1W, p + "layer_norm1.weight", {Dv});
    b.whole(L.ln1B, p + "layer_norm1.bias", {Dv});
    b.fused(L.qkvW, {{a + "q_proj.weight", Dv}, {a + "k_proj.weight", Dv}, {a + "v_proj.weight", Dv}}, {Dv});
    b.fused(L.qkvB, {{a + "q_proj.bias", Dv}, {a + "k_proj.bias", Dv}, {a + "v_proj.bias", Dv}}, {});
    b.whole(L.outW, a + "out_proj.weight", {Dv, Dv});
    b.whole(L.outB, a + "out_proj.bias", {Dv});
    b.whole(L.ln2W, p + "layer_norm2.weight", {Dv});
    b.whole(L.ln2B, p + "layer_norm2.bias", {Dv});
    b.whole(L.fc1W, p + "mlp.fc1.weight", {v.intermediateSize, Dv});
    b.whole(L.fc1B, p + "mlp.fc1.bias", {v.intermediateSize});
    b.whole(L.fc2W, p + "mlp.fc2.weight", {Dv, v.intermediateSize});
    b.whole(L.fc2B, p + "mlp.fc2.bias", {Dv});
  }
}

void buildProjector(WeightBuilder& b, const LlavaConfig& cfg, ProjectorWeights& w) {
  const int64_t D = cfg.decoder.hiddenSize;
  b.whole(w.w1, "multi_modal_projector.linear_1.weight", {D, cfg.vision.hiddenSize});
  if (cfg.projector.bias) b.whole(w.b1, "multi_modal_projector.linear_1.bias", {D});
  if (cfg.projector.mlp2x) {
    b.whole(w.w2, "multi_modal_projector.linear_2.weight", {D, D});
    if (cfg.projector.bias) b.whole(w.b2, "multi_modal_projector.linear_2.bias", {D});
  }
}

void buildDecoder(WeightBuilder& b, const DecoderConfig& d, DecoderWeights& w) {
  const int64_t D = d.hiddenSize, F = d.intermediateSize;
  b.whole(w.embed, "language_model.model.embed_tokens.weight", {d.vocabSize, D});
  w.layers.resize(d.numLayers);
  for (int64_t l = 0; l < d.numLayers; l++) {
    DecoderLayerWeights& L = w.layers[l];
    std::string p = "language_model.model.layers." + std::to_string(l) + ".";
    std::string a = p + "self_attn.", m = p + "mlp.";
    b.whole(L.attnNorm, p + "input_layernorm.weight", {D});
    b.fused(L.qkvW, {{a + "q_proj.weight", d.qDim()}, {a + "k_proj.weight", d.kvDim()}, {a + "v_proj.weight", d.kvDim()}}, {D});
    b.whole(L.oW, a + "o_proj.weight", {D, d.qDim()});
    if (d.attentionBias) {
      b.fused(L.qkvB, {{a + "q_proj.bias", d.qDim()}, {a + "k_proj.bias", d.kvDim()}, {a + "v_proj.bias", d.kvDim()}}, {});
      b.whole(L.oB, a + "o_proj.bias", {D});
    }
    b.whole(L.mlpNorm, p + "post_attention_layernorm.weight", {D});
    b.fused(L.gateUpW, {{m + "gate_proj.weight", F}, {m + "up_proj.weight", F}}, {D});
    b.whole(L.downW, m + "down_proj.weight", {D, F});
    if (d.mlpBias) {
      b.fused(L.gateUpB, {{m + "gate_proj.bias", F}, {m + "up_proj.bias", F}}, {});
      b.whole(L.downB, m + "down_proj.bias", {D});
    }
  }
  b.whole(w.norm, "language_model.model.norm.weight", {D});
  if (!d.tieWordEmbeddings) b.whole(w.lmHead, "language_model.lm_head.weight", {d.vocabSize, D});  // else set after loading
}

// Matrices are the weights the GEMMs and the embedding lookup read: every rank-2 weight except the
// projector's (trainable, so F32) and the CLIP position table (added, not multiplied).
bool isMatrix(const Slot& slot) {
  const std::string& name = slot.parts.front().first;
  return slot.shape.size() == 2 && name.rfind("multi_modal_projector.", 0) != 0 && name.find("position_embedding") == std::string::npos;
}

bool storable(DType t) { return t == DType::F32 || t == DType::BF16 || t == DType::F16; }

// The checkpoint sources of a slot's parts, checked against the shapes the config implies.
Result<std::vector<const io::TensorSource*>> slotSources(const Slot& slot, const std::map<std::string, const io::TensorSource*>& byName) {
  std::vector<const io::TensorSource*> out;
  for (auto& [name, rows] : slot.parts) {
    Shape want = slot.shape;
    if (rows >= 0) want[0] = rows;
    auto src = byName.find(name);
    if (src == byName.end()) return error(Code::NotFound, "missing weight ", name, ": no tensor source was given for it");
    if (src->second->shape != want) {
      return error(Code::InvalidArgument, "weight ", name, " in ", src->second->file, ": expected shape ", shapeString(want),
                   " but the checkpoint has ", shapeString(src->second->shape));
    }
    out.push_back(src->second);
  }
  return out;
}

// True when the parts lie back to back, in order, in one file, aligned for their element type.
bool adjacent(const std::vector<const io::TensorSource*>& parts) {
  if (parts.front()->offset % dtypeSize(parts.front()->dtype) != 0) return false;
  for (size_t i = 1; i < parts.size(); i++) {
    const io::TensorSource& prev = *parts[i - 1];
    if (parts[i]->file != prev.file || parts[i]->dtype != prev.dtype || parts[i]->offset != prev.offset + prev.nbytes) return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<LlavaWeights>> loadLlavaWeights(Backend& backend, const LlavaConfig& cfg,
                                                       const std::vector<io::TensorSource>& sources,
                                                       const WeightLoadOptions& opt) {
  STIC_RETURN_IF_ERROR(cfg.validate());
  if (backend.device() != Device::Cpu) {
    return error(Code::Unsupported, "loading LLaVA weights onto the ", backend.name(),
                 " backend is not supported yet: weights are read and mapped straight into host memory (the cpu backend)");
  }
  auto w = std::make_unique<LlavaWeights>();
  WeightBuilder b;
  buildVision(b, cfg.vision, w->vision);
  buildProjector(b, cfg, w->projector);
  buildDecoder(b, cfg.decoder, w->decoder);
  if (cfg.imageNewline) b.whole(w->imageNewline, "image_newline", {cfg.decoder.hiddenSize});
  std::map<std::string, const io::TensorSource*> byName;
  for (const io::TensorSource& s : sources) byName[s.name] = &s;
  const std::set<std::string> writable(opt.writable.begin(), opt.writable.end());

  // Decide each slot's dtype and whether it maps; plan the arena for the copies.
  struct Plan {
    std::vector<const io::TensorSource*> parts;
    DType dtype = DType::F32;
    bool map = false;
  };
  std::vector<Plan> plans;
  ArenaPlan arenaPlan;
  size_t matrixBytes[3] = {0, 0, 0};  // F32, BF16, F16
  for (const Slot& slot : b.slots()) {
    auto parts = slotSources(slot, byName);
    if (!parts.isOk()) return parts.status();
    Plan p;
    p.parts = parts.take();
    const DType stored = p.parts.front()->dtype;
    bool same = true;
    for (auto* part : p.parts) same = same && part->dtype == stored;
    if (isMatrix(slot) && !opt.forceF32 && same && storable(stored)) p.dtype = stored;
    bool locked = false;
    for (auto& part : slot.parts) locked = locked || writable.count(part.first) > 0;
    p.map = isMatrix(slot) && p.dtype == stored && !locked && adjacent(p.parts);
    if (!p.map) arenaPlan.add(p.dtype, slot.shape, isMatrix(slot) ? "matrices" : "float32 vectors and tables");
    if (isMatrix(slot)) matrixBytes[p.dtype == DType::BF16 ? 1 : p.dtype == DType::F16 ? 2 : 0] += shapeNumel(slot.shape) * dtypeSize(p.dtype);
    plans.push_back(std::move(p));
  }
  w->matrixDType = matrixBytes[1] >= std::max(matrixBytes[0], matrixBytes[2]) && matrixBytes[1] > 0 ? DType::BF16
                   : matrixBytes[2] > matrixBytes[0]                                                ? DType::F16
                                                                                                    : DType::F32;
  auto arena = Arena::create(backend, Lifetime::Weights, arenaPlan);
  if (!arena.isOk()) return arena.status().withContext("loading LLaVA weights");
  w->arena = arena.take();

  // Point mapped slots into their files; carve the others and queue their reads.
  std::unordered_map<std::string, std::shared_ptr<io::MappedFile>> files;
  std::set<io::MappedFile*> kept;
  std::vector<io::TensorSource> reads;
  std::vector<Tensor> views;
  views.reserve(sources.size() + 3 * b.slots().size());
  for (size_t i = 0; i < b.slots().size(); i++) {
    const Slot& slot = b.slots()[i];
    const Plan& p = plans[i];
    if (p.map) {
      const io::TensorSource& first = *p.parts.front();
      auto it = files.find(first.file);
      if (it == files.end()) {
        auto mf = io::MappedFile::open(first.file, first.name);
        if (!mf.isOk()) return mf.status();
        it = files.emplace(first.file, std::shared_ptr<io::MappedFile>(mf.take())).first;
      }
      for (auto* part : p.parts) STIC_RETURN_IF_ERROR(it->second->checkRange(*part));
      const size_t bytes = static_cast<size_t>(shapeNumel(slot.shape)) * dtypeSize(p.dtype);
      it->second->prefetch(first.offset, bytes);
      *slot.dst = Tensor(p.dtype, slot.shape, const_cast<char*>(it->second->data() + first.offset), nullptr);
      w->mappedBytes += bytes;
      if (kept.insert(it->second.get()).second) w->mapped.push_back(it->second);
      continue;
    }
    auto t = w->arena->allocate(p.dtype, slot.shape, "weight");
    if (!t.isOk()) return t.status().withContext(slot.parts.front().first);
    *slot.dst = t.take();
    int64_t row = 0;
    for (size_t k = 0; k < p.parts.size(); k++) {
      const int64_t rows = slot.parts[k].second;
      if (rows < 0) {
        views.push_back(*slot.dst);
      } else {
        auto view = slot.dst->slice0(row, row + rows);
        if (!view.isOk()) return view.status();
        views.push_back(view.take());
        row += rows;
      }
      reads.push_back(*p.parts[k]);
    }
  }
  std::vector<Tensor*> dsts;
  for (Tensor& v : views) dsts.push_back(&v);
  STIC_RETURN_IF_ERROR(io::readTensorsMapped(reads, dsts, files));
  if (cfg.decoder.tieWordEmbeddings) w->decoder.lmHead = w->decoder.embed;
  return w;
}

}  // namespace stic::model
