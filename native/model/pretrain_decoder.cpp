// Decoder, embeddings and head for full-parameter pretraining (see pretrain_decoder.h):
//   x = hidden[l];  xmid = x + o_proj(attn(rope(q), rope(k), v))  on RMSNorm(x)
//   hidden[l+1] = xmid + down(silu(gate(h)) * up(h))               on h = RMSNorm(xmid)
//   logp_e = log_softmax(lm_head(RMSNorm(hidden[L][row_e])))[target_e]
// Legend: see pretrain_decoder.h.
#include "model/pretrain_decoder.h"

#include <algorithm>
#include <cmath>
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

// Plans or carves (core/carver.h) every buffer, from this one list.
void carveDecoder(const Ops& ops, Carver& c, DecoderActs& a, const DecoderConfig& cfg, bool backward) {
  // Flat buffers of n elements, each at least one.
  auto f32 = [&c](float** slot, int64_t n) { c.f32(slot, {std::max<int64_t>(n, 1)}, "decoder activations"); };
  auto i64 = [&c](int64_t** slot, int64_t n) { c.i64(slot, {std::max<int64_t>(n, 1)}, "decoder activations"); };
  const int64_t T = a.T, E = a.E, D = cfg.hiddenSize, F = cfg.intermediateSize;
  a.hidden.assign(cfg.numLayers + 1, nullptr);
  a.layers.assign(cfg.numLayers, DecoderLayerActs{});
  for (float*& h : a.hidden) f32(&h, T * D);
  for (DecoderLayerActs& L : a.layers) {
    f32(&L.xn1, T * D);
    f32(&L.qkv, T * cfg.qkvDim());
    f32(&L.attn, T * cfg.qDim());
    f32(&L.lse, T * cfg.numHeads);
    f32(&L.xmid, T * D);
    f32(&L.xn2, T * D);
    f32(&L.gate, T * F);
    f32(&L.up, T * F);
    f32(&L.act, T * F);
  }
  i64(&a.pos, T);
  i64(&a.embedIds, T);
  f32(&a.hg, E * D);
  f32(&a.hn, E * D);
  f32(&a.logp, E);
  f32(&a.lse, E);
  f32(&a.dlogp, E);
  i64(&a.gathered, E);
  c.bytes(&a.headWork, std::max<size_t>(ops.head.fused_head_workspace_bytes(headDims(cfg, E)), 1), "decoder activations");
  if (!backward) return;
  for (float** d : {&a.dx, &a.dtmp, &a.dxn}) f32(d, T * D);
  f32(&a.dqkv, T * cfg.qkvDim());
  f32(&a.dattn, T * cfg.qDim());
  for (float** d : {&a.dgate, &a.dup, &a.dact}) f32(d, T * F);
  f32(&a.dhn, E * D);
  f32(&a.dhg, E * D);
}

float attnScale(const DecoderConfig& cfg) { return 1.0f / std::sqrt(static_cast<float>(cfg.headDim)); }

void embedTokens(const Ops& ops, DecoderActs& a, const PackedBatch& b, const float* features, const float* table, int64_t D) {
  float* x = a.hidden[0];
  for (int64_t t = 0; t < a.T; t++) {
    const bool image = b.layout.featureRow[t] >= 0;
    a.embedIds[t] = image ? 0 : b.layout.ids[t];
    if (image) {
      std::memcpy(x + t * D, features + b.layout.featureRow[t] * D, D * sizeof(float));
    } else {
      ops.embedding.embedding_forward(x + t * D, &b.layout.ids[t], table, 1, D);
    }
  }
}

void layerForward(const Ops& ops, float* out, const float* x, DecoderLayerActs& L, const DecoderLayerPtrs& w,
                  const PackedBatch& b, const DecoderActs& a, const DecoderConfig& cfg) {
  const int64_t T = a.T, D = cfg.hiddenSize, F = cfg.intermediateSize, Nqkv = cfg.qkvDim(), qDim = cfg.qDim(), kvDim = cfg.kvDim();
  ops.norm.rmsnorm_forward(L.xn1, x, w.attnNorm, T, D, cfg.rmsNormEps);
  ops.linear.linear_forward(L.qkv, L.xn1, w.qkvW, DType::F32, w.qkvB, T, D, Nqkv);
  ops.rope.rope_forward(L.qkv, a.pos, T, cfg.numHeads, cfg.headDim, Nqkv, cfg.ropeTheta);
  ops.rope.rope_forward(L.qkv + qDim, a.pos, T, cfg.numKvHeads, cfg.headDim, Nqkv, cfg.ropeTheta);
  for (const AttnSegment& s : b.layout.segments) {  // each a whole causal sequence (its own keys)
    const float* q = L.qkv + s.qRow * Nqkv;
    ops.attention.attention_forward_lse(L.attn + s.qRow * qDim, qDim, L.lse + cfg.numHeads * s.qRow, q, Nqkv, q + qDim, Nqkv,
                                        q + qDim + kvDim,
                               Nqkv, s.qLen, s.qLen, cfg.numHeads, cfg.numKvHeads, cfg.headDim, true, 0, attnScale(cfg));
  }
  ops.linear.linear_forward(L.xmid, L.attn, w.oW, DType::F32, w.oB, T, qDim, D);
  ops.elementwise.add_inplace(L.xmid, x, T * D);
  ops.norm.rmsnorm_forward(L.xn2, L.xmid, w.mlpNorm, T, D, cfg.rmsNormEps);
  ops.linear.linear_forward(L.gate, L.xn2, w.gateUpW, DType::F32, w.gateUpB, T, D, F);
  ops.linear.linear_forward(L.up, L.xn2, w.gateUpW + F * D, DType::F32, w.gateUpB ? w.gateUpB + F : nullptr, T, D, F);
  ops.elementwise.swiglu_forward(L.act, L.gate, L.up, T * F);
  ops.linear.linear_forward(out, L.act, w.downW, DType::F32, w.downB, T, F, D);
  ops.elementwise.add_inplace(out, L.xmid, T * D);
}

// a.dx (T, D): in, d loss / d (layer output); out, d loss / d (layer input x). Accumulates g.
void layerBackward(const Ops& ops, DecoderActs& a, const float* x, const DecoderLayerActs& L, const DecoderLayerPtrs& w,
                   const DecoderLayerPtrs& g, const PackedBatch& b, const DecoderConfig& cfg) {
  const int64_t T = a.T, D = cfg.hiddenSize, F = cfg.intermediateSize, Nqkv = cfg.qkvDim(), qDim = cfg.qDim(), kvDim = cfg.kvDim();
  // MLP block: out = xmid + down(silu(gate(xn2)) * up(xn2)), xn2 = RMSNorm(xmid)
  ops.linear.linear_backward(a.dact, g.downW, g.downB, a.dx, L.act, w.downW, T, F, D);
  ops.elementwise.swiglu_backward(a.dgate, a.dup, a.dact, L.gate, L.up, T * F);
  ops.linear.linear_backward(a.dxn, g.gateUpW, g.gateUpB, a.dgate, L.xn2, w.gateUpW, T, D, F);
  ops.linear.linear_backward(a.dtmp, g.gateUpW + F * D, g.gateUpB ? g.gateUpB + F : nullptr, a.dup, L.xn2, w.gateUpW + F * D, T,
                             D, F);
  ops.elementwise.add_inplace(a.dxn, a.dtmp, T * D);
  ops.norm.rmsnorm_backward(a.dtmp, g.mlpNorm, a.dxn, L.xmid, w.mlpNorm, T, D, cfg.rmsNormEps);
  ops.elementwise.add_inplace(a.dx, a.dtmp, T * D);  // d xmid
  // Attention block: xmid = x + o_proj(attn(rope(q), rope(k), v)), q|k|v = qkv(RMSNorm(x))
  ops.linear.linear_backward(a.dattn, g.oW, g.oB, a.dx, L.attn, w.oW, T, qDim, D);
  std::memset(a.dqkv, 0, T * Nqkv * sizeof(float));  // dk, dv accumulate
  for (const AttnSegment& s : b.layout.segments) {
    const float* q = L.qkv + s.qRow * Nqkv;
    float* dq = a.dqkv + s.qRow * Nqkv;
    ops.attention.attention_backward(dq, dq + qDim, dq + qDim + kvDim, a.dattn + s.qRow * qDim, q, Nqkv, q + qDim, Nqkv,
                                     q + qDim + kvDim, Nqkv,
                            L.attn + s.qRow * qDim, qDim, L.lse + cfg.numHeads * s.qRow, s.qLen, s.qLen, cfg.numHeads, cfg.numKvHeads,
                            cfg.headDim, true, 0, attnScale(cfg));
  }
  ops.rope.rope_backward(a.dqkv, a.pos, T, cfg.numHeads, cfg.headDim, Nqkv, cfg.ropeTheta);
  ops.rope.rope_backward(a.dqkv + qDim, a.pos, T, cfg.numKvHeads, cfg.headDim, Nqkv, cfg.ropeTheta);
  ops.linear.linear_backward(a.dxn, g.qkvW, g.qkvB, a.dqkv, L.xn1, w.qkvW, T, D, Nqkv);
  ops.norm.rmsnorm_backward(a.dtmp, g.attnNorm, a.dxn, x, w.attnNorm, T, D, cfg.rmsNormEps);
  ops.elementwise.add_inplace(a.dx, a.dtmp, T * D);  // d x
}

}  // namespace

void planDecoderActs(const Ops& ops, ArenaPlan& plan, const DecoderConfig& cfg, int64_t T, int64_t E, bool backward) {
  DecoderActs a{};
  a.T = T;
  a.E = E;
  Carver c = Carver::planning(plan);
  carveDecoder(ops, c, a, cfg, backward);
}

Result<DecoderActs> allocDecoderActs(const Ops& ops, Arena& arena, const DecoderConfig& cfg, int64_t T, int64_t E,
                                     bool backward) {
  DecoderActs a{};
  a.T = T;
  a.E = E;
  Carver c = Carver::carving(arena);
  carveDecoder(ops, c, a, cfg, backward);
  if (!c.status().isOk()) return c.status();
  return a;
}

double decoderTrainForward(const Ops& ops, DecoderActs& a, const PackedBatch& b, const float* features, const ModelPtrs& w,
                           const DecoderConfig& cfg, double meanOver, double gradScale) {
  const int64_t D = cfg.hiddenSize, E = a.E;
  std::copy(b.layout.pos.begin(), b.layout.pos.end(), a.pos);
  embedTokens(ops, a, b, features, w.decoder.embed, D);
  for (int64_t l = 0; l < cfg.numLayers; l++) layerForward(ops, a.hidden[l + 1], a.hidden[l], a.layers[l], w.decoder.layers[l],
                                                           b, a, cfg);
  const float* last = a.hidden[cfg.numLayers];
  for (int64_t e = 0; e < E; e++) std::memcpy(a.hg + e * D, last + b.heads[e].row * D, D * sizeof(float));
  ops.norm.rmsnorm_forward(a.hn, a.hg, w.decoder.norm, E, D, cfg.rmsNormEps);
  if (E == 0) return 0.0;
  ops.head.fused_head_forward(a.logp, a.gathered, a.lse, nullptr, a.headWork, a.hn, w.decoder.lmHead, b.targets.data(),
                              headDims(cfg, E),
                            train::GatherMode::Label);
  const double loss = ops.loss.sft_loss(a.dlogp, a.logp, b.targets.data(), E, meanOver);
  for (int64_t e = 0; e < E; e++) a.dlogp[e] = static_cast<float>(a.dlogp[e] * gradScale);
  return loss;
}

void decoderTrainBackward(const Ops& ops, DecoderActs& a, float* dfeatures, const PackedBatch& b, const ModelPtrs& w,
                          const ModelPtrs& g, const DecoderConfig& cfg) {
  const int64_t T = a.T, D = cfg.hiddenSize, E = a.E;
  std::memset(a.dx, 0, T * D * sizeof(float));
  if (E > 0) {
    // dhn (E, D) overwritten, g.lmHead accumulated: the logits recomputed block by block from the saved lse
    ops.head.fused_head_backward(a.dhn, g.decoder.lmHead, a.headWork, a.dlogp, a.hn, w.decoder.lmHead, a.gathered, a.lse,
                                 headDims(cfg, E));
    ops.norm.rmsnorm_backward(a.dhg, g.decoder.norm, a.dhn, a.hg, w.decoder.norm, E, D, cfg.rmsNormEps);
    for (int64_t e = 0; e < E; e++) ops.elementwise.add_inplace(a.dx + b.heads[e].row * D, a.dhg + e * D, D);
  }
  for (int64_t l = cfg.numLayers; l-- > 0;) layerBackward(ops, a, a.hidden[l], a.layers[l], w.decoder.layers[l],
                                                          g.decoder.layers[l], b, cfg);
  // a.dx = d (input embeddings): image rows go to their features, text rows to the table.
  for (int64_t t = 0; t < T; t++) {
    if (b.layout.featureRow[t] < 0) continue;
    ops.elementwise.add_inplace(dfeatures + b.layout.featureRow[t] * D, a.dx + t * D, D);
    std::memset(a.dx + t * D, 0, D * sizeof(float));
  }
  ops.embedding.embedding_backward(g.decoder.embed, a.dx, a.embedIds, T, D);
}

}  // namespace stic::model
