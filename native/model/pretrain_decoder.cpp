// The language side of pretraining over the decoder (see pretrain_decoder.h):
//   x = embed(ids) with image rows from the features;  x = decoder(x)
//   logp_e = log_softmax(lm_head(RMSNorm(x[row_e])))[target_e]
// Legend: see pretrain_decoder.h.
#include "model/pretrain_decoder.h"

#include <algorithm>
#include <cstring>

#include "core/carver.h"

namespace stic::model {
namespace {

train::HeadDims headDims(const DecoderConfig& cfg, int64_t E) {
  train::HeadDims d;
  d.T = E;
  d.D = cfg.hiddenSize;
  d.V = cfg.vocabSize;
  return d;
}

// Every layer kept with a backward (no checkpointing), one set without; every segment is a whole
// sequence (contiguous keys), so nothing is staged.
DecoderShape decoderShape(const DecoderConfig& cfg, int64_t T, bool backward) {
  return {std::max<int64_t>(T, 1), 0, backward ? cfg.numLayers : 1, true, backward, false};
}

// Plans or carves (core/carver.h) every buffer, from this one list.
void carvePretrain(const Ops& ops, Carver& c, PretrainActs& a, const DecoderConfig& cfg, bool backward) {
  // Flat buffers of n elements, each at least one.
  auto f32 = [&c](float** slot, int64_t n) { c.f32(slot, {std::max<int64_t>(n, 1)}, "decoder activations"); };
  auto i64 = [&c](int64_t** slot, int64_t n) { c.i64(slot, {std::max<int64_t>(n, 1)}, "decoder activations"); };
  const int64_t T = a.T, E = a.E, D = cfg.hiddenSize;
  carveDecoderActs(c, c, a.decoder, cfg, nullptr, decoderShape(cfg, T, backward));
  f32(&a.x, T * D);
  i64(&a.embedIds, T);
  f32(&a.hg, E * D);
  f32(&a.hn, E * D);
  f32(&a.logp, E);
  f32(&a.lse, E);
  f32(&a.dlogp, E);
  i64(&a.gathered, E);
  c.bytes(&a.headWork, std::max<size_t>(ops.head.fused_head_workspace_bytes(headDims(cfg, E)), 1), "decoder activations");
  if (!backward) return;
  f32(&a.dx, T * D);
  f32(&a.dhn, E * D);
  f32(&a.dhg, E * D);
}

// The ids the embedding table's backward scatters to: image rows read features, so they map to 0
// and their gradient rows are zeroed before the scatter.
void fillEmbedIds(PretrainActs& a, const PassLayout& layout) {
  for (int64_t t = 0; t < a.T; t++) a.embedIds[t] = layout.featureRow[t] >= 0 ? 0 : layout.ids[t];
}

}  // namespace

void planPretrainActs(const Ops& ops, ArenaPlan& plan, const DecoderConfig& cfg, int64_t T, int64_t E, bool backward) {
  PretrainActs a{};
  a.T = T;
  a.E = E;
  Carver c = Carver::planning(plan);
  carvePretrain(ops, c, a, cfg, backward);
}

Result<PretrainActs> allocPretrainActs(const Ops& ops, Arena& arena, const DecoderConfig& cfg, int64_t T, int64_t E, bool backward) {
  PretrainActs a{};
  a.T = T;
  a.E = E;
  Carver c = Carver::carving(arena);
  carvePretrain(ops, c, a, cfg, backward);
  if (!c.status().isOk()) return c.status();
  return a;
}

Status pretrainForward(const Ops& ops, PretrainActs& a, double& loss, const PackedBatch& b, const float* features,
                       const ModelPtrs& w, const DecoderConfig& cfg, double meanOver, double gradScale) {
  const int64_t D = cfg.hiddenSize, E = a.E;
  const DecoderView view = decoderView(w.decoder);
  fillEmbedIds(a, b.layout);
  embedPass(ops, a.x, b.layout, features, view.embed, D);
  STIC_RETURN_IF_ERROR(decoderForward(ops, a.x, b.layout, view, cfg, LoraUse{}, nullptr, a.decoder));
  for (int64_t e = 0; e < E; e++) std::memcpy(a.hg + e * D, a.x + b.heads[e].row * D, D * sizeof(float));
  ops.norm.rmsnorm_forward(a.hn, a.hg, view.norm, E, D, cfg.rmsNormEps);
  loss = 0.0;
  if (E == 0) return Status::ok();
  ops.head.fused_head_forward(a.logp, a.gathered, a.lse, nullptr, a.headWork, a.hn, view.lmHead.data, b.targets.data(),
                              headDims(cfg, E), train::GatherMode::Label);
  loss = ops.loss.sft_loss(a.dlogp, a.logp, b.targets.data(), E, meanOver);
  for (int64_t e = 0; e < E; e++) a.dlogp[e] = static_cast<float>(a.dlogp[e] * gradScale);
  return Status::ok();
}

void pretrainBackward(const Ops& ops, PretrainActs& a, float* dfeatures, const PackedBatch& b, const ModelPtrs& w,
                      const ModelPtrs& g, const DecoderConfig& cfg) {
  const int64_t T = a.T, D = cfg.hiddenSize, E = a.E;
  const DecoderView view = decoderView(w.decoder);
  std::memset(a.dx, 0, T * D * sizeof(float));
  if (E > 0) {
    // dhn (E, D) overwritten, g.lmHead accumulated: the logits recomputed block by block from the saved lse
    ops.head.fused_head_backward(a.dhn, g.decoder.lmHead, a.headWork, a.dlogp, a.hn, view.lmHead.data, a.gathered, a.lse,
                                 headDims(cfg, E));
    ops.norm.rmsnorm_backward(a.dhg, g.decoder.norm, a.dhn, a.hg, view.norm, E, D, cfg.rmsNormEps);
    for (int64_t e = 0; e < E; e++) ops.elementwise.add_inplace(a.dx + b.heads[e].row * D, a.dhg + e * D, D);
  }
  decoderBackward(ops, a.dx, b.layout, view, cfg, LoraUse{}, &g.decoder, a.decoder);
  // a.dx = d (input embeddings): image rows go to their features, text rows to the table.
  for (int64_t t = 0; t < T; t++) {
    if (b.layout.featureRow[t] < 0) continue;
    ops.elementwise.add_inplace(dfeatures + b.layout.featureRow[t] * D, a.dx + t * D, D);
    std::memset(a.dx + t * D, 0, D * sizeof(float));
  }
  ops.embedding.embedding_backward(g.decoder.embed, a.dx, a.embedIds, T, D);
}

}  // namespace stic::model
