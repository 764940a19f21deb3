// The language side of pretraining over the decoder (see pretrain_decoder.h):
//   x = embed(ids) with image rows from the features;  x = decoder(x)
//   logp_e = log_softmax(lm_head(RMSNorm(x[row_e])))[target_e]
// Legend: see pretrain_decoder.h.
#include "model/pretrain_decoder.h"

#include <algorithm>

#include "core/carver.h"

namespace stic::model {
namespace {

// Every layer kept with a backward (no checkpointing), one set without; every segment is a whole
// sequence (contiguous keys), so nothing is staged.
DecoderShape decoderShape(const DecoderConfig& cfg, int64_t T, bool backward) {
  return {std::max<int64_t>(T, 1), 0, backward ? cfg.numLayers : 1, true, backward, false};
}

// The pass's own buffers (the decoder's and the head's are carved by their owners).
void carvePass(Carver& c, PretrainActs& a, const DecoderConfig& cfg, bool backward) {
  const int64_t T = std::max<int64_t>(a.T, 1), D = cfg.hiddenSize;
  c.f32(&a.x, {T, D}, "residual stream");
  c.i64(&a.embedIds, {T}, "embedding ids");
  if (backward) c.f32(&a.dx, {T, D}, "decoder gradients");
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
  Carver c = Carver::planning(plan);
  carveDecoderActs(c, c, a.decoder, cfg, nullptr, decoderShape(cfg, T, backward));
  planHead(ops, plan, cfg, E, true);
  carvePass(c, a, cfg, backward);
}

Result<PretrainActs> allocPretrainActs(const Ops& ops, Arena& arena, const DecoderConfig& cfg, int64_t T, int64_t E, bool backward) {
  PretrainActs a{};
  a.T = T;
  Carver c = Carver::carving(arena);
  carveDecoderActs(c, c, a.decoder, cfg, nullptr, decoderShape(cfg, T, backward));
  auto head = allocHead(ops, arena, cfg, E, true);
  if (!head.isOk()) return head.status();
  a.head = head.take();
  carvePass(c, a, cfg, backward);
  STIC_RETURN_IF_ERROR(c.status());
  return a;
}

Status pretrainForward(const Ops& ops, PretrainActs& a, double& loss, const PackedBatch& b, const float* features,
                       const ModelPtrs& w, const DecoderConfig& cfg, double meanOver, double gradScale) {
  const int64_t E = b.targetCount();
  const DecoderView view = decoderView(w.decoder);
  fillEmbedIds(a, b.layout);
  embedPass(ops, a.x, b.layout, features, view.embed, cfg.hiddenSize);
  STIC_RETURN_IF_ERROR(decoderForward(ops, a.x, b.layout, view, cfg, LoraUse{}, nullptr, a.decoder));
  headForward(ops, a.head, a.x, b.heads, {{0, E, train::GatherMode::Label}}, view, cfg, false);
  loss = 0.0;
  if (E == 0) return Status::ok();
  loss = ops.loss.sft_loss(a.head.dlogp, a.head.logp, a.head.targets, E, meanOver);
  for (int64_t e = 0; e < E; e++) a.head.dlogp[e] = static_cast<float>(a.head.dlogp[e] * gradScale);
  return Status::ok();
}

void pretrainBackward(const Ops& ops, PretrainActs& a, float* dfeatures, const PackedBatch& b, const ModelPtrs& w,
                      const ModelPtrs& g, const DecoderConfig& cfg) {
  const int64_t T = a.T, D = cfg.hiddenSize;
  const DecoderView view = decoderView(w.decoder);
  const HeadGrads headGrads{g.decoder.lmHead, g.decoder.norm};
  headBackward(ops, a.dx, T, a.head, b.heads, view, cfg, &headGrads);
  decoderBackward(ops, a.dx, b.layout, view, cfg, LoraUse{}, &g.decoder, a.decoder);
  // a.dx = d (input embeddings): image rows go to their features, text rows to the table.
  for (int64_t t = 0; t < T; t++) {
    if (b.layout.featureRow[t] < 0) continue;
    ops.elementwise.add_inplace(dfeatures + b.layout.featureRow[t] * D, a.dx + t * D, D);
    ops.memory.fill(a.dx + t * D, 0.0f, D);
  }
  ops.embedding.embedding_backward(g.decoder.embed, a.dx, a.embedIds, T, D);
}

}  // namespace stic::model
