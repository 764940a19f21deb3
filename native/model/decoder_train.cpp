// Decoder forward with saved activations and backward, with LoRA (see decoder_train.h).
//   x += o(attn(rope(qkv(n1))))          n1 = RMSNorm(x)          (each linear: base + LoRA)
//   x += down(silu(gate(n2)) * up(n2))   n2 = RMSNorm(x)
// Legend: see decoder_train.h.
#include "model/decoder_train.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/carver.h"
#include "model/weight_ops.h"

namespace stic::model {
namespace {

int64_t loraWorkFloats(const DecoderConfig& cfg, const LoraSpec& lora, int64_t T) {
  const int64_t maxK = std::max({cfg.hiddenSize, cfg.qDim(), cfg.intermediateSize});
  return T * lora.r + (lora.dropout > 0.0f ? T * maxK : 0);
}

const float* bias(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// Column offset of a module's output inside its fused buffer (q|k|v) or its own (T, F) half.
int64_t fusedColumn(const DecoderConfig& cfg, int module) {
  if (module == kLoraK) return cfg.qDim();
  if (module == kLoraV) return cfg.qDim() + cfg.kvDim();
  return 0;
}

// The dimensions and key of one LoRA application.
struct LoraCall {
  const TrainTensor* A = nullptr;
  const TrainTensor* B = nullptr;
  train::LoraDims dims;
  train::DropoutKey key;
};

bool loraCall(LoraCall& c, const LoraUse& lora, const DecoderConfig& cfg, int64_t layer, int module, int64_t T) {
  if (!lora.params || !lora.params->loraA(layer, module)) return false;
  const LoraSpec& spec = lora.params->spec();
  auto [K, N] = loraModuleDims(cfg, module);
  c.A = lora.params->loraA(layer, module);
  c.B = lora.params->loraB(layer, module);
  c.dims = {T, K, N, spec.r, spec.scale(), lora.train ? spec.dropout : 0.0f};
  c.key = lora.key;
  c.key.layer = layer;
  c.key.module = module;
  return true;
}

// out (T, ld) += the module's low-rank path on x (T, K); xa saved.
void loraForward(const Ops& ops, float* out, int64_t ld, float* xa, const float* x, const LoraUse& lora, const DecoderConfig& cfg,
                 int64_t layer, int module, int64_t T, float* work) {
  LoraCall c;
  if (!loraCall(c, lora, cfg, layer, module, T)) return;
  ops.lora.lora_delta_forward(out, ld, xa, work, x, c.A->param, c.B->param, c.dims, c.key);
}

// dx (T, K) += the low-rank path's input gradient; dA, dB accumulated. dout (T, ld).
void loraBackward(const Ops& ops, float* dx, const float* dout, int64_t ld, const float* x, const float* xa, const LoraUse& lora,
                  const DecoderConfig& cfg, int64_t layer, int module, int64_t T, float* work) {
  LoraCall c;
  if (!loraCall(c, lora, cfg, layer, module, T)) return;
  ops.lora.lora_delta_backward(dx, c.A->grad, c.B->grad, work, dout, ld, x, xa, c.A->param, c.B->param, c.dims, c.key);
}

// K and V of a segment: read in place when its key pieces are adjacent rows, else staged.
struct SegmentKv {
  const float* k;
  const float* v;
  int64_t ld;
  bool staged;
};

SegmentKv segmentKv(const AttnSegment& s, const float* qkv, const DecoderConfig& cfg, float* kStage, float* vStage) {
  const int64_t Nqkv = cfg.qkvDim(), qDim = cfg.qDim(), kvDim = cfg.kvDim();
  if (s.contiguous()) {
    const float* base = qkv + s.keys.front().row * Nqkv;
    return {base + qDim, base + qDim + kvDim, Nqkv, false};
  }
  int64_t at = 0;
  for (const KeyPiece& p : s.keys) {
    for (int64_t t = 0; t < p.len; t++, at++) {
      const float* row = qkv + (p.row + t) * Nqkv;
      std::memcpy(kStage + at * kvDim, row + qDim, kvDim * sizeof(float));
      std::memcpy(vStage + at * kvDim, row + qDim + kvDim, kvDim * sizeof(float));
    }
  }
  return {kStage, vStage, kvDim, true};
}

void attendForward(const Ops& ops, const SavedLayer& L, const PassLayout& layout, const DecoderConfig& cfg,
                   TrainActivations& act) {
  const int64_t Nqkv = cfg.qkvDim(), qDim = cfg.qDim(), Hq = cfg.numHeads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(cfg.headDim));
  for (const AttnSegment& s : layout.segments) {
    const int64_t S = s.keyLen();
    SegmentKv kv = segmentKv(s, L.qkv, cfg, act.kStage, act.vStage);
    ops.attention.attention_forward_lse(L.attn + s.qRow * qDim, qDim, L.lse + Hq * s.qRow, L.qkv + s.qRow * Nqkv, Nqkv, kv.k,
                                        kv.ld,
                               kv.v, kv.ld, s.qLen, S, Hq, cfg.numKvHeads, cfg.headDim, true, S - s.qLen, scale);
  }
}

// dqkv (T, Nqkv): q columns overwritten per segment, k/v columns accumulated (zeroed first here),
// so keys shared by two branches collect both branches' gradients.
void attendBackward(const Ops& ops, const SavedLayer& L, const PassLayout& layout, const DecoderConfig& cfg,
                    TrainActivations& act) {
  const int64_t T = layout.rows(), Nqkv = cfg.qkvDim(), qDim = cfg.qDim(), kvDim = cfg.kvDim(), Hq = cfg.numHeads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(cfg.headDim));
  std::memset(act.dqkv, 0, T * Nqkv * sizeof(float));
  for (const AttnSegment& s : layout.segments) {
    const int64_t S = s.keyLen();
    SegmentKv kv = segmentKv(s, L.qkv, cfg, act.kStage, act.vStage);
    float* dk = act.dqkv + s.keys.front().row * Nqkv + qDim;
    float* dv = dk + kvDim;
    if (kv.staged) {
      std::memset(act.dkStage, 0, S * kvDim * sizeof(float));
      std::memset(act.dvStage, 0, S * kvDim * sizeof(float));
      dk = act.dkStage;
      dv = act.dvStage;
    }
    ops.attention.attention_backward(act.dqkv + s.qRow * Nqkv, dk, dv, act.dattn + s.qRow * qDim, L.qkv + s.qRow * Nqkv, Nqkv,
                                     kv.k, kv.ld,
                            kv.v, kv.ld, L.attn + s.qRow * qDim, qDim, L.lse + Hq * s.qRow, s.qLen, S, Hq, cfg.numKvHeads,
                            cfg.headDim, true, S - s.qLen, scale);
    if (!kv.staged) continue;
    int64_t at = 0;  // scatter the staged key/value gradients back to their rows, in key order
    for (const KeyPiece& p : s.keys) {
      for (int64_t t = 0; t < p.len; t++, at++) {
        float* row = act.dqkv + (p.row + t) * Nqkv;
        ops.elementwise.add_inplace(row + qDim, act.dkStage + at * kvDim, kvDim);
        ops.elementwise.add_inplace(row + qDim + kvDim, act.dvStage + at * kvDim, kvDim);
      }
    }
  }
}

void layerForward(const Ops& ops, float* x, const SavedLayer& L, const DecoderLayerWeights& W, const PassLayout& layout,
                  const DecoderConfig& cfg, const LoraUse& lora, int64_t l, TrainActivations& act) {
  const int64_t T = layout.rows(), D = cfg.hiddenSize, F = cfg.intermediateSize, Nqkv = cfg.qkvDim(), qDim = cfg.qDim();
  if (L.xin != x) std::memcpy(L.xin, x, T * D * sizeof(float));
  ops.norm.rmsnorm_forward(act.xn, x, W.attnNorm.data<float>(), T, D, cfg.rmsNormEps);
  linearW(ops, L.qkv, act.xn, W.qkvW, 0, bias(W.qkvB), T, D, Nqkv);
  for (int m : {kLoraQ, kLoraK, kLoraV}) {
    loraForward(ops, L.qkv + fusedColumn(cfg, m), Nqkv, L.xa[m], act.xn, lora, cfg, l, m, T, act.loraWork);
  }
  ops.rope.rope_forward(L.qkv, act.pos, T, cfg.numHeads, cfg.headDim, Nqkv, cfg.ropeTheta);
  ops.rope.rope_forward(L.qkv + qDim, act.pos, T, cfg.numKvHeads, cfg.headDim, Nqkv, cfg.ropeTheta);
  attendForward(ops, L, layout, cfg, act);
  linearW(ops, act.out, L.attn, W.oW, 0, bias(W.oB), T, qDim, D);
  loraForward(ops, act.out, D, L.xa[kLoraO], L.attn, lora, cfg, l, kLoraO, T, act.loraWork);
  ops.elementwise.add_inplace(x, act.out, T * D);

  std::memcpy(L.xmid, x, T * D * sizeof(float));
  ops.norm.rmsnorm_forward(act.xn, x, W.mlpNorm.data<float>(), T, D, cfg.rmsNormEps);
  float* gate = L.gateUp;
  float* up = L.gateUp + T * F;
  const float* gub = bias(W.gateUpB);
  linearW(ops, gate, act.xn, W.gateUpW, 0, gub, T, D, F);
  linearW(ops, up, act.xn, W.gateUpW, F, gub ? gub + F : nullptr, T, D, F);
  loraForward(ops, gate, F, L.xa[kLoraGate], act.xn, lora, cfg, l, kLoraGate, T, act.loraWork);
  loraForward(ops, up, F, L.xa[kLoraUp], act.xn, lora, cfg, l, kLoraUp, T, act.loraWork);
  ops.elementwise.swiglu_forward(act.act, gate, up, T * F);
  linearW(ops, act.out, act.act, W.downW, 0, bias(W.downB), T, F, D);
  loraForward(ops, act.out, D, L.xa[kLoraDown], act.act, lora, cfg, l, kLoraDown, T, act.loraWork);
  ops.elementwise.add_inplace(x, act.out, T * D);
}

// dx: in, d (layer output); out, d (layer input).
void layerBackward(const Ops& ops, float* dx, const SavedLayer& L, const DecoderLayerWeights& W, const PassLayout& layout,
                   const DecoderConfig& cfg, const LoraUse& lora, int64_t l, TrainActivations& act) {
  const int64_t T = layout.rows(), D = cfg.hiddenSize, F = cfg.intermediateSize, Nqkv = cfg.qkvDim(), qDim = cfg.qDim();
  const float eps = cfg.rmsNormEps;
  float* work = act.loraWork;
  // MLP block: recompute n2 and the SwiGLU output rather than keeping them.
  const float* gate = L.gateUp;
  const float* up = L.gateUp + T * F;
  ops.norm.rmsnorm_forward(act.xn, L.xmid, W.mlpNorm.data<float>(), T, D, eps);
  ops.elementwise.swiglu_forward(act.act, gate, up, T * F);
  linearInputGrad(ops, act.dact, dx, W.downW, 0, T, F, D, 0.0f);
  loraBackward(ops, act.dact, dx, D, act.act, L.xa[kLoraDown], lora, cfg, l, kLoraDown, T, work);
  float* dgate = act.dgateUp;
  float* dup = act.dgateUp + T * F;
  ops.elementwise.swiglu_backward(dgate, dup, act.dact, gate, up, T * F);
  linearInputGrad(ops, act.dxn, dgate, W.gateUpW, 0, T, D, F, 0.0f);
  linearInputGrad(ops, act.dxn, dup, W.gateUpW, F, T, D, F, 1.0f);  // += dup W_up
  loraBackward(ops, act.dxn, dgate, F, act.xn, L.xa[kLoraGate], lora, cfg, l, kLoraGate, T, work);
  loraBackward(ops, act.dxn, dup, F, act.xn, L.xa[kLoraUp], lora, cfg, l, kLoraUp, T, work);
  ops.norm.rmsnorm_backward(act.dxn, nullptr, act.dxn, L.xmid, W.mlpNorm.data<float>(), T, D, eps);
  ops.elementwise.add_inplace(dx, act.dxn, T * D);  // dx is now d (mid-layer residual)

  // Attention block.
  ops.norm.rmsnorm_forward(act.xn, L.xin, W.attnNorm.data<float>(), T, D, eps);
  linearInputGrad(ops, act.dattn, dx, W.oW, 0, T, qDim, D, 0.0f);
  loraBackward(ops, act.dattn, dx, D, L.attn, L.xa[kLoraO], lora, cfg, l, kLoraO, T, work);
  attendBackward(ops, L, layout, cfg, act);
  ops.rope.rope_backward(act.dqkv, act.pos, T, cfg.numHeads, cfg.headDim, Nqkv, cfg.ropeTheta);
  ops.rope.rope_backward(act.dqkv + qDim, act.pos, T, cfg.numKvHeads, cfg.headDim, Nqkv, cfg.ropeTheta);
  linearInputGrad(ops, act.dxn, act.dqkv, W.qkvW, 0, T, D, Nqkv, 0.0f);
  for (int m : {kLoraQ, kLoraK, kLoraV}) {
    loraBackward(ops, act.dxn, act.dqkv + fusedColumn(cfg, m), Nqkv, act.xn, L.xa[m], lora, cfg, l, m, T, work);
  }
  ops.norm.rmsnorm_backward(act.dxn, nullptr, act.dxn, L.xin, W.attnNorm.data<float>(), T, D, eps);
  ops.elementwise.add_inplace(dx, act.dxn, T * D);
}

}  // namespace

namespace {

// Every buffer of a pass, from this one list: into `saved` what the forward keeps for the backward
// (every layer's set, or with checkpointing every layer's xin), into `scratch` the rest (the
// recomputed layer's set included). Planning, they are two plans; carving, one arena.
void carveTrainActivations(Carver& saved, Carver& scratch, TrainActivations& a, const DecoderConfig& cfg, const LoraSpec& lora,
                           const TrainShape& sh) {
  const int64_t T = std::max<int64_t>(sh.rows, 1), S = std::max<int64_t>(sh.maxKeys, 1), D = cfg.hiddenSize,
                F = cfg.intermediateSize, kv = cfg.kvDim();
  const bool ckpt = sh.backward && sh.checkpointed;
  a.shape = sh;
  // Everything of a set but xin.
  auto carveSet = [&](Carver& c, SavedLayer& L) {
    c.f32(&L.xmid, {T, D}, "saved activations");
    c.f32(&L.qkv, {T, cfg.qkvDim()}, "saved activations");
    c.f32(&L.attn, {T, cfg.qDim()}, "saved activations");
    c.f32(&L.lse, {cfg.numHeads, T}, "saved activations");
    c.f32(&L.gateUp, {2 * T, F}, "saved activations");
    L.xa.fill(nullptr);
    for (int m = 0; m < kLoraModules; m++) {
      if (lora.targets[m]) c.f32(&L.xa[m], {T, lora.r}, "saved LoRA activations");
    }
  };
  SavedLayer shared{};
  if (ckpt) {
    carveSet(scratch, shared);
    scratch.f32(&a.xrec, {T, D}, "recomputed layer input");
  }
  a.saved.resize(sh.layers);
  for (SavedLayer& L : a.saved) {
    if (ckpt) {
      L = shared;
    } else {
      carveSet(saved, L);
    }
    saved.f32(&L.xin, {T, D}, "saved activations");
  }
  scratch.f32(&a.xn, {T, D}, "activations");
  scratch.f32(&a.out, {T, D}, "activations");
  scratch.f32(&a.act, {T, F}, "activations");
  scratch.f32(&a.loraWork, {loraWorkFloats(cfg, lora, T)}, "LoRA scratch");
  scratch.f32(&a.kStage, {S, kv}, "key staging");
  scratch.f32(&a.vStage, {S, kv}, "value staging");
  scratch.i64(&a.pos, {T}, "rotary positions");
  if (!sh.backward) return;
  scratch.f32(&a.dxn, {T, D}, "gradients of activations");
  scratch.f32(&a.dqkv, {T, cfg.qkvDim()}, "gradients of activations");
  scratch.f32(&a.dattn, {T, cfg.qDim()}, "gradients of activations");
  scratch.f32(&a.dact, {T, F}, "gradients of activations");
  scratch.f32(&a.dgateUp, {2 * T, F}, "gradients of activations");
  scratch.f32(&a.dkStage, {S, kv}, "key gradient staging");
  scratch.f32(&a.dvStage, {S, kv}, "value gradient staging");
}

}  // namespace

void planTrainActivations(ArenaPlan& saved, ArenaPlan& scratch, const DecoderConfig& cfg, const LoraSpec& lora,
                          const TrainShape& shape) {
  TrainActivations a{};
  Carver s = Carver::planning(saved), r = Carver::planning(scratch);
  carveTrainActivations(s, r, a, cfg, lora, shape);
}

Result<TrainActivations> allocTrainActivations(Arena& arena, const DecoderConfig& cfg, const LoraSpec& lora,
                                               const TrainShape& shape) {
  TrainActivations a{};
  Carver c = Carver::carving(arena);
  carveTrainActivations(c, c, a, cfg, lora, shape);
  STIC_RETURN_IF_ERROR(c.status());
  return a;
}

void embedPass(const Ops& ops, float* x, const PassLayout& layout, const float* features, const DecoderWeights& w,
               const DecoderConfig& cfg) {
  const int64_t D = cfg.hiddenSize;
  for (int64_t t = 0; t < layout.rows(); t++) {
    if (layout.featureRow[t] >= 0) {
      std::memcpy(x + t * D, features + layout.featureRow[t] * D, D * sizeof(float));
    } else {
      embedRow(ops, x + t * D, w.embed, layout.ids[t]);
    }
  }
}

Status decoderTrainForward(const Ops& ops, float* x, const PassLayout& layout, const DecoderWeights& w, const DecoderConfig& cfg,
                           const LoraUse& lora, TrainActivations& act) {
  const int64_t T = layout.rows();
  STIC_CHECK_ARG(T <= act.shape.rows && layout.maxKeys() <= act.shape.maxKeys, "internal: training pass of ", T,
                 " rows but activations for ", act.shape.rows);
  int64_t covered = 0;
  for (const AttnSegment& s : layout.segments) {
    STIC_CHECK_ARG(s.qRow == covered && s.qLen > 0 && s.keyLen() >= s.qLen, "internal: attention segments must tile the rows in order");
    covered += s.qLen;
  }
  STIC_CHECK_ARG(covered == T, "internal: attention segments cover ", covered, " of ", T, " rows");
  std::copy(layout.pos.begin(), layout.pos.end(), act.pos);
  for (int64_t l = 0; l < cfg.numLayers; l++) {
    const SavedLayer& L = act.saved[std::min<int64_t>(l, act.shape.layers - 1)];
    layerForward(ops, x, L, w.layers[l], layout, cfg, lora, l, act);
  }
  return Status::ok();
}

void decoderTrainBackward(const Ops& ops, float* dx, const PassLayout& layout, const DecoderWeights& w, const DecoderConfig& cfg,
                          const LoraUse& lora, TrainActivations& act) {
  const int64_t T = layout.rows(), D = cfg.hiddenSize;
  const bool ckpt = act.shape.checkpointed;
  std::copy(layout.pos.begin(), layout.pos.end(), act.pos);
  for (int64_t l = cfg.numLayers - 1; l >= 0; l--) {
    const SavedLayer& L = act.saved[l];
    if (ckpt && l < cfg.numLayers - 1) {  // the last layer's set is still the forward's
      std::memcpy(act.xrec, L.xin, T * D * sizeof(float));
      layerForward(ops, act.xrec, L, w.layers[l], layout, cfg, lora, l, act);
    }
    layerBackward(ops, dx, L, w.layers[l], layout, cfg, lora, l, act);
  }
}

}  // namespace stic::model
