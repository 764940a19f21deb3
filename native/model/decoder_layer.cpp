// One decoder layer, forward and backward (see decoder_layer.h).
//   x += o(attn(rope(qkv(n1))))          n1 = RMSNorm(x)
//   x += down(silu(gate(n2)) * up(n2))   n2 = RMSNorm(x)
// Legend: see decoder_layer.h.
#include "model/decoder_layer.h"

#include <cmath>

#include "model/train_params.h"

namespace stic::model {
namespace {

float attnScale(const DecoderConfig& cfg) { return 1.0f / std::sqrt(static_cast<float>(cfg.headDim)); }

// out[T,N] = inp[T,K] @ W[row0 : row0 + N, :]^T + bias[N] (bias may be null).
void linear(const Ops& ops, float* out, const float* inp, const MatrixRef& W, int64_t row0, const float* bias, int64_t T, int64_t K,
            int64_t N) {
  ops.linear.linear_forward(out, inp, W.rows(row0, K), W.dtype, bias, T, K, N);
}

// dinp[T,K] = beta dinp + dout[T,N] @ W[row0 : row0 + N, :]; with dW: dW[N,K] += dout^T inp and
// dB[N] += the column sums of dout (dB may be null).
void linearBackward(const Ops& ops, float* dinp, float beta, const float* dout, const float* inp, const MatrixRef& W, int64_t row0,
                    float* dW, float* dB, int64_t T, int64_t K, int64_t N) {
  ops.linear.gemm_typed_b(false, false, T, K, N, 1.0f, dout, N, W.rows(row0, K), W.dtype, K, beta, dinp, K);
  if (dW) ops.linear.linear_backward(nullptr, dW + row0 * K, dB ? dB + row0 : nullptr, dout, inp, nullptr, T, K, N);
}

// Column offset of a module's output inside its fused buffer (q|k|v) or its own (T, F) half.
int64_t fusedColumn(const DecoderConfig& cfg, int module) {
  if (module == kLoraK) return cfg.qDim();
  if (module == kLoraV) return cfg.qDim() + cfg.kvDim();
  return 0;
}

// The tensors, dimensions and key of one LoRA application; false when the module is not targeted.
struct LoraCall {
  const TrainTensor* A = nullptr;
  const TrainTensor* B = nullptr;
  train::LoraDims dims;
  train::DropoutKey key;
};

bool loraCall(LoraCall& c, const LayerPass& p, int64_t layer, int module) {
  const LoraUse& lora = p.lora;
  if (!lora.params || !lora.params->loraA(layer, module)) return false;
  const LoraSpec& spec = lora.params->spec();
  auto [K, N] = loraModuleDims(p.cfg, module);
  c.A = lora.params->loraA(layer, module);
  c.B = lora.params->loraB(layer, module);
  c.dims = {p.layout.rows(), K, N, spec.r, spec.scale(), lora.train ? spec.dropout : 0.0f};
  c.key = lora.key;
  c.key.layer = layer;
  c.key.module = module;
  return true;
}

// out (T, ld) += the module's low-rank path on x (T, K); xa saved.
void loraForward(const LayerPass& p, float* out, int64_t ld, float* xa, const float* x, int64_t layer, int module) {
  LoraCall c;
  if (!loraCall(c, p, layer, module)) return;
  p.ops.lora.lora_delta_forward(out, ld, xa, p.s.loraWork, x, c.A->param, c.B->param, c.dims, c.key);
}

// dx (T, K) += the low-rank path's input gradient; dA, dB accumulated. dout (T, ld).
void loraBackward(const LayerPass& p, float* dx, const float* dout, int64_t ld, const float* x, const float* xa, int64_t layer,
                  int module) {
  LoraCall c;
  if (!loraCall(c, p, layer, module)) return;
  p.ops.lora.lora_delta_backward(dx, c.A->grad, c.B->grad, p.s.loraWork, dout, ld, x, xa, c.A->param, c.B->param, c.dims, c.key);
}

// K and V of a segment, each (S, Hkv*hd) with row stride ld: in place when its key pieces are
// adjacent rows of the pass, staged when not, the cache slot's rows with a slot.
struct SegmentKv {
  const float* k;
  const float* v;
  int64_t ld;
  bool staged;
};

// Appends the segment's keys and values to its cache slot and returns the slot's rows [0, S).
SegmentKv cachedKv(const LayerPass& p, const AttnSegment& s, const float* qkv, int64_t layer) {
  const int64_t Nqkv = p.cfg.qkvDim(), qDim = p.cfg.qDim(), kvDim = p.cfg.kvDim();
  float* kc = p.cache->k(layer, s.slot);
  float* vc = p.cache->v(layer, s.slot);
  for (int64_t t = 0; t < s.qLen; t++) {
    const float* row = qkv + (s.qRow + t) * Nqkv;
    p.ops.memory.copy(kc + (s.cached + t) * kvDim, row + qDim, kvDim * sizeof(float));
    p.ops.memory.copy(vc + (s.cached + t) * kvDim, row + qDim + kvDim, kvDim * sizeof(float));
  }
  return {kc, vc, kvDim, false};
}

SegmentKv segmentKv(const LayerPass& p, const AttnSegment& s, const float* qkv, int64_t layer) {
  const int64_t Nqkv = p.cfg.qkvDim(), qDim = p.cfg.qDim(), kvDim = p.cfg.kvDim();
  if (s.slot >= 0) return cachedKv(p, s, qkv, layer);
  if (s.contiguous()) {
    const float* base = qkv + s.keys.front().row * Nqkv;
    return {base + qDim, base + qDim + kvDim, Nqkv, false};
  }
  int64_t at = 0;
  for (const KeyPiece& piece : s.keys) {
    for (int64_t t = 0; t < piece.len; t++, at++) {
      const float* row = qkv + (piece.row + t) * Nqkv;
      p.ops.memory.copy(p.s.kStage + at * kvDim, row + qDim, kvDim * sizeof(float));
      p.ops.memory.copy(p.s.vStage + at * kvDim, row + qDim + kvDim, kvDim * sizeof(float));
    }
  }
  return {p.s.kStage, p.s.vStage, kvDim, true};
}

// L.attn from L.qkv (roped), segment by segment; L.lse too when it is kept.
void attendForward(const LayerPass& p, const LayerActs& L, int64_t layer) {
  const DecoderConfig& cfg = p.cfg;
  const int64_t Nqkv = cfg.qkvDim(), qDim = cfg.qDim(), Hq = cfg.numHeads;
  for (const AttnSegment& s : p.layout.segments) {
    const int64_t S = s.keyLen();
    const SegmentKv kv = segmentKv(p, s, L.qkv, layer);
    float* out = L.attn + s.qRow * qDim;
    const float* q = L.qkv + s.qRow * Nqkv;
    if (L.lse) {
      p.ops.attention.attention_forward_lse(out, qDim, L.lse + Hq * s.qRow, q, Nqkv, kv.k, kv.ld, kv.v, kv.ld, s.qLen, S, Hq,
                                            cfg.numKvHeads, cfg.headDim, true, S - s.qLen, attnScale(cfg));
    } else {
      p.ops.attention.attention_forward(out, qDim, q, Nqkv, kv.k, kv.ld, kv.v, kv.ld, s.qLen, S, Hq, cfg.numKvHeads, cfg.headDim,
                                        true, S - s.qLen, attnScale(cfg));
    }
  }
}

// Adds staged key/value gradients (S, Hkv*hd) back to their rows of dqkv, in key order.
void scatterStaged(const LayerPass& p, const AttnSegment& s) {
  const int64_t Nqkv = p.cfg.qkvDim(), qDim = p.cfg.qDim(), kvDim = p.cfg.kvDim();
  int64_t at = 0;
  for (const KeyPiece& piece : s.keys) {
    for (int64_t t = 0; t < piece.len; t++, at++) {
      float* row = p.s.dqkv + (piece.row + t) * Nqkv;
      p.ops.elementwise.add_inplace(row + qDim, p.s.dkStage + at * kvDim, kvDim);
      p.ops.elementwise.add_inplace(row + qDim + kvDim, p.s.dvStage + at * kvDim, kvDim);
    }
  }
}

// dqkv (T, Nqkv): q columns overwritten per segment, k/v columns accumulated (zeroed first here),
// so keys shared by two branches collect both branches' gradients.
void attendBackward(const LayerPass& p, const LayerActs& L, int64_t layer) {
  const DecoderConfig& cfg = p.cfg;
  const int64_t T = p.layout.rows(), Nqkv = cfg.qkvDim(), qDim = cfg.qDim(), kvDim = cfg.kvDim(), Hq = cfg.numHeads;
  const LayerScratch& sc = p.s;
  p.ops.memory.fill(sc.dqkv, 0.0f, T * Nqkv);
  for (const AttnSegment& s : p.layout.segments) {
    const int64_t S = s.keyLen();
    const SegmentKv kv = segmentKv(p, s, L.qkv, layer);
    float* dk = sc.dqkv + s.keys.front().row * Nqkv + qDim;
    float* dv = dk + kvDim;
    if (kv.staged) {
      p.ops.memory.fill(sc.dkStage, 0.0f, S * kvDim);
      p.ops.memory.fill(sc.dvStage, 0.0f, S * kvDim);
      dk = sc.dkStage;
      dv = sc.dvStage;
    }
    p.ops.attention.attention_backward(sc.dqkv + s.qRow * Nqkv, dk, dv, sc.dattn + s.qRow * qDim, L.qkv + s.qRow * Nqkv, Nqkv, kv.k,
                                       kv.ld, kv.v, kv.ld, L.attn + s.qRow * qDim, qDim, L.lse + Hq * s.qRow, s.qLen, S, Hq,
                                       cfg.numKvHeads, cfg.headDim, true, S - s.qLen, attnScale(cfg));
    if (kv.staged) scatterStaged(p, s);
  }
}

void attentionBlockForward(const LayerPass& p, float* x, const LayerActs& L, const LayerWeights& w, int64_t l) {
  const DecoderConfig& cfg = p.cfg;
  const Ops& ops = p.ops;
  const LayerScratch& s = p.s;
  const int64_t T = p.layout.rows(), D = cfg.hiddenSize, Nqkv = cfg.qkvDim(), qDim = cfg.qDim();
  ops.norm.rmsnorm_forward(s.xn, x, w.attnNorm, T, D, cfg.rmsNormEps);
  linear(ops, L.qkv, s.xn, w.qkvW, 0, w.qkvB, T, D, Nqkv);
  for (int m : {kLoraQ, kLoraK, kLoraV}) loraForward(p, L.qkv + fusedColumn(cfg, m), Nqkv, L.xa[m], s.xn, l, m);
  ops.rope.rope_forward(L.qkv, s.pos, T, cfg.numHeads, cfg.headDim, Nqkv, cfg.ropeTheta);
  ops.rope.rope_forward(L.qkv + qDim, s.pos, T, cfg.numKvHeads, cfg.headDim, Nqkv, cfg.ropeTheta);
  attendForward(p, L, l);
  linear(ops, s.out, L.attn, w.oW, 0, w.oB, T, qDim, D);
  loraForward(p, s.out, D, L.xa[kLoraO], L.attn, l, kLoraO);
  ops.elementwise.add_inplace(x, s.out, T * D);
}

void mlpBlockForward(const LayerPass& p, float* x, const LayerActs& L, const LayerWeights& w, int64_t l) {
  const DecoderConfig& cfg = p.cfg;
  const Ops& ops = p.ops;
  const LayerScratch& s = p.s;
  const int64_t T = p.layout.rows(), D = cfg.hiddenSize, F = cfg.intermediateSize;
  ops.norm.rmsnorm_forward(s.xn, x, w.mlpNorm, T, D, cfg.rmsNormEps);
  // Two GEMMs into the halves of L.gateUp (gate (T, F), then up (T, F)) so SwiGLU is one
  // contiguous elementwise pass; the weight rows are stored fused [gate; up].
  float* gate = L.gateUp;
  float* up = L.gateUp + T * F;
  linear(ops, gate, s.xn, w.gateUpW, 0, w.gateUpB, T, D, F);
  linear(ops, up, s.xn, w.gateUpW, F, w.gateUpB ? w.gateUpB + F : nullptr, T, D, F);
  loraForward(p, gate, F, L.xa[kLoraGate], s.xn, l, kLoraGate);
  loraForward(p, up, F, L.xa[kLoraUp], s.xn, l, kLoraUp);
  ops.elementwise.swiglu_forward(s.act, gate, up, T * F);
  linear(ops, s.out, s.act, w.downW, 0, w.downB, T, F, D);
  loraForward(p, s.out, D, L.xa[kLoraDown], s.act, l, kLoraDown);
  ops.elementwise.add_inplace(x, s.out, T * D);
}

// dx: in, d (layer output); out, d (mid-layer residual).
void mlpBlockBackward(const LayerPass& p, float* dx, const LayerActs& L, const LayerWeights& w, const DecoderLayerPtrs* g, int64_t l) {
  const DecoderConfig& cfg = p.cfg;
  const Ops& ops = p.ops;
  const LayerScratch& s = p.s;
  const int64_t T = p.layout.rows(), D = cfg.hiddenSize, F = cfg.intermediateSize;
  const float* gate = L.gateUp;
  const float* up = L.gateUp + T * F;
  ops.norm.rmsnorm_forward(s.xn, L.xmid, w.mlpNorm, T, D, cfg.rmsNormEps);  // recomputed n2 and SwiGLU output
  ops.elementwise.swiglu_forward(s.act, gate, up, T * F);
  linearBackward(ops, s.dact, 0.0f, dx, s.act, w.downW, 0, g ? g->downW : nullptr, g ? g->downB : nullptr, T, F, D);
  loraBackward(p, s.dact, dx, D, s.act, L.xa[kLoraDown], l, kLoraDown);
  float* dgate = s.dgateUp;
  float* dup = s.dgateUp + T * F;
  ops.elementwise.swiglu_backward(dgate, dup, s.dact, gate, up, T * F);
  float* dW = g ? g->gateUpW : nullptr;
  float* dB = g ? g->gateUpB : nullptr;
  linearBackward(ops, s.dxn, 0.0f, dgate, s.xn, w.gateUpW, 0, dW, dB, T, D, F);
  linearBackward(ops, s.dxn, 1.0f, dup, s.xn, w.gateUpW, F, dW, dB, T, D, F);  // += dup W_up
  loraBackward(p, s.dxn, dgate, F, s.xn, L.xa[kLoraGate], l, kLoraGate);
  loraBackward(p, s.dxn, dup, F, s.xn, L.xa[kLoraUp], l, kLoraUp);
  ops.norm.rmsnorm_backward(s.dxn, g ? g->mlpNorm : nullptr, s.dxn, L.xmid, w.mlpNorm, T, D, cfg.rmsNormEps);
  ops.elementwise.add_inplace(dx, s.dxn, T * D);
}

// dx: in, d (mid-layer residual); out, d (layer input).
void attentionBlockBackward(const LayerPass& p, float* dx, const LayerActs& L, const LayerWeights& w, const DecoderLayerPtrs* g,
                            int64_t l) {
  const DecoderConfig& cfg = p.cfg;
  const Ops& ops = p.ops;
  const LayerScratch& s = p.s;
  const int64_t T = p.layout.rows(), D = cfg.hiddenSize, Nqkv = cfg.qkvDim(), qDim = cfg.qDim();
  ops.norm.rmsnorm_forward(s.xn, L.xin, w.attnNorm, T, D, cfg.rmsNormEps);  // recomputed n1
  linearBackward(ops, s.dattn, 0.0f, dx, L.attn, w.oW, 0, g ? g->oW : nullptr, g ? g->oB : nullptr, T, qDim, D);
  loraBackward(p, s.dattn, dx, D, L.attn, L.xa[kLoraO], l, kLoraO);
  attendBackward(p, L, l);
  ops.rope.rope_backward(s.dqkv, s.pos, T, cfg.numHeads, cfg.headDim, Nqkv, cfg.ropeTheta);
  ops.rope.rope_backward(s.dqkv + qDim, s.pos, T, cfg.numKvHeads, cfg.headDim, Nqkv, cfg.ropeTheta);
  linearBackward(ops, s.dxn, 0.0f, s.dqkv, s.xn, w.qkvW, 0, g ? g->qkvW : nullptr, g ? g->qkvB : nullptr, T, D, Nqkv);
  for (int m : {kLoraQ, kLoraK, kLoraV}) loraBackward(p, s.dxn, s.dqkv + fusedColumn(cfg, m), Nqkv, s.xn, L.xa[m], l, m);
  ops.norm.rmsnorm_backward(s.dxn, g ? g->attnNorm : nullptr, s.dxn, L.xin, w.attnNorm, T, D, cfg.rmsNormEps);
  ops.elementwise.add_inplace(dx, s.dxn, T * D);
}

}  // namespace

void layerForward(const LayerPass& p, float* x, const LayerActs& L, const LayerWeights& w, int64_t layer) {
  const int64_t T = p.layout.rows(), D = p.cfg.hiddenSize;
  if (L.xin && L.xin != x) p.ops.memory.copy(L.xin, x, T * D * sizeof(float));
  attentionBlockForward(p, x, L, w, layer);
  if (L.xmid) p.ops.memory.copy(L.xmid, x, T * D * sizeof(float));
  mlpBlockForward(p, x, L, w, layer);
}

void layerBackward(const LayerPass& p, float* dx, const LayerActs& L, const LayerWeights& w, const DecoderLayerPtrs* g,
                   int64_t layer) {
  mlpBlockBackward(p, dx, L, w, g, layer);
  attentionBlockBackward(p, dx, L, w, g, layer);
}

}  // namespace stic::model
