// The decoder over packed passes (see decoder.h): weight views, the activations' one carve list,
// embeddings, the layer loops forward and backward, and the logits of chosen rows.
// Legend: see decoder.h.
#include "model/decoder.h"

#include <algorithm>

namespace stic::model {
namespace {

const float* bias(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }
MatrixRef matrix(const Tensor& t) { return {t.raw(), t.dtype()}; }
MatrixRef matrix(const float* p) { return {p, DType::F32}; }

int64_t loraWorkFloats(const DecoderConfig& cfg, const LoraSpec& lora, int64_t T) {
  const int64_t maxK = std::max({cfg.hiddenSize, cfg.qDim(), cfg.intermediateSize});
  return T * lora.r + (lora.dropout > 0.0f ? T * maxK : 0);
}

// A layer's set but xin: what the forward writes (xmid and lse only when kept for a backward).
void carveSet(Carver& c, LayerActs& L, const DecoderConfig& cfg, const LoraSpec* lora, const DecoderShape& sh, int64_t T) {
  const int64_t D = cfg.hiddenSize, F = cfg.intermediateSize;
  L = LayerActs{};
  if (sh.saves) c.f32(&L.xmid, {T, D}, "decoder activations");
  c.f32(&L.qkv, {T, cfg.qkvDim()}, "decoder activations");
  c.f32(&L.attn, {T, cfg.qDim()}, "decoder activations");
  if (sh.saves) c.f32(&L.lse, {cfg.numHeads, T}, "decoder activations");
  c.f32(&L.gateUp, {2 * T, F}, "decoder activations");
  for (int m = 0; lora && m < kLoraModules; m++) {
    if (lora->targets[m]) c.f32(&L.xa[m], {T, lora->r}, "LoRA activations");
  }
}

void carveScratch(Carver& c, LayerScratch& s, const DecoderConfig& cfg, const LoraSpec* lora, const DecoderShape& sh, int64_t T) {
  const int64_t D = cfg.hiddenSize, F = cfg.intermediateSize, kv = cfg.kvDim(), S = sh.maxKeys;
  s = LayerScratch{};
  c.f32(&s.xn, {T, D}, "decoder activations");
  c.f32(&s.out, {T, D}, "decoder activations");
  c.f32(&s.act, {T, F}, "decoder activations");
  if (lora) c.f32(&s.loraWork, {loraWorkFloats(cfg, *lora, T)}, "LoRA scratch");
  if (S > 0) c.f32(&s.kStage, {S, kv}, "key/value staging");
  if (S > 0) c.f32(&s.vStage, {S, kv}, "key/value staging");
  c.i64(&s.pos, {T}, "rotary positions");
  if (!sh.backward) return;
  c.f32(&s.dxn, {T, D}, "decoder gradients");
  c.f32(&s.dqkv, {T, cfg.qkvDim()}, "decoder gradients");
  c.f32(&s.dattn, {T, cfg.qDim()}, "decoder gradients");
  c.f32(&s.dact, {T, F}, "decoder gradients");
  c.f32(&s.dgateUp, {2 * T, F}, "decoder gradients");
  if (S > 0) c.f32(&s.dkStage, {S, kv}, "key/value gradient staging");
  if (S > 0) c.f32(&s.dvStage, {S, kv}, "key/value gradient staging");
}

// Internal errors for a layout the activations or the cache cannot run: segments must tile the
// rows in order, staged keys fit the staging buffers, a slot's segment appends its own rows.
Status checkLayout(const PassLayout& layout, const DecoderShape& sh, const KvCache* cache) {
  const int64_t T = layout.rows();
  STIC_CHECK_ARG(T <= sh.rows, "internal: decoder pass of ", T, " rows but activations for ", sh.rows);
  int64_t covered = 0;
  for (const AttnSegment& s : layout.segments) {
    STIC_CHECK_ARG(s.qRow == covered && s.qLen > 0 && s.keyLen() >= s.qLen && !s.keys.empty(),
                   "internal: attention segments must tile the rows in order");
    STIC_CHECK_ARG(s.contiguous() || s.keyLen() <= sh.maxKeys, "internal: a segment stages ", s.keyLen(),
                   " keys but the activations hold ", sh.maxKeys);
    if (s.slot >= 0) {
      STIC_CHECK_ARG(cache && s.slot < cache->slots() && s.cached + s.qLen <= cache->capacity(s.slot), "internal: KV-cache slot ",
                     s.slot, " cannot hold positions up to ", s.cached + s.qLen);
      STIC_CHECK_ARG(s.keys.size() == 1 && s.keys[0].row == s.qRow && s.keys[0].len == s.qLen,
                     "internal: a segment with a KV-cache slot appends its own rows' keys only");
    } else {
      STIC_CHECK_ARG(s.cached == 0, "internal: a segment without a KV-cache slot has no cached keys");
    }
    covered += s.qLen;
  }
  STIC_CHECK_ARG(covered == T, "internal: attention segments cover ", covered, " of ", T, " rows");
  return Status::ok();
}

}  // namespace

DecoderView decoderView(const DecoderWeights& w) {
  DecoderView v;
  v.embed = matrix(w.embed);
  for (const DecoderLayerWeights& L : w.layers) {
    v.layers.push_back({L.attnNorm.data<float>(), matrix(L.qkvW), bias(L.qkvB), matrix(L.oW), bias(L.oB), L.mlpNorm.data<float>(),
                        matrix(L.gateUpW), bias(L.gateUpB), matrix(L.downW), bias(L.downB)});
  }
  v.norm = w.norm.data<float>();
  v.lmHead = matrix(w.lmHead);
  return v;
}

DecoderView decoderView(const DecoderPtrs& p) {
  DecoderView v;
  v.embed = matrix(p.embed);
  for (const DecoderLayerPtrs& L : p.layers) {
    v.layers.push_back({L.attnNorm, matrix(L.qkvW), L.qkvB, matrix(L.oW), L.oB, L.mlpNorm, matrix(L.gateUpW), L.gateUpB,
                        matrix(L.downW), L.downB});
  }
  v.norm = p.norm;
  v.lmHead = matrix(p.lmHead);
  return v;
}

void carveDecoderActs(Carver& saved, Carver& scratch, DecoderActs& a, const DecoderConfig& cfg, const LoraSpec* lora,
                      const DecoderShape& sh) {
  const int64_t T = std::max<int64_t>(sh.rows, 1), D = cfg.hiddenSize;
  const bool ckpt = sh.backward && sh.checkpointed;
  a.shape = sh;
  LayerActs shared{};
  if (ckpt) {
    carveSet(scratch, shared, cfg, lora, sh, T);
    scratch.f32(&a.xrec, {T, D}, "decoder recomputed layer input");
  }
  a.saved.resize(sh.layers);
  for (LayerActs& L : a.saved) {
    if (ckpt) {
      L = shared;
    } else {
      carveSet(saved, L, cfg, lora, sh, T);
    }
    if (sh.saves) saved.f32(&L.xin, {T, D}, "decoder activations");
  }
  carveScratch(scratch, a.scratch, cfg, lora, sh, T);
}

Result<DecoderActs> allocDecoderActs(Arena& arena, const DecoderConfig& cfg, const LoraSpec* lora, const DecoderShape& shape) {
  DecoderActs a{};
  Carver c = Carver::carving(arena);
  carveDecoderActs(c, c, a, cfg, lora, shape);
  STIC_RETURN_IF_ERROR(c.status());
  return a;
}

void embedPass(const Ops& ops, float* x, const PassLayout& layout, const float* features, const MatrixRef& table, int64_t D) {
  for (int64_t t = 0; t < layout.rows(); t++) {
    float* dst = x + t * D;
    const void* src = layout.featureRow[t] >= 0 ? features + layout.featureRow[t] * D : table.rows(layout.ids[t], D);
    const DType type = layout.featureRow[t] >= 0 ? DType::F32 : table.dtype;
    if (type == DType::F32) {
      ops.memory.copy(dst, src, D * sizeof(float));
    } else {
      (void)ops.convert.convert(dst, DType::F32, src, type, static_cast<size_t>(D));  // F32 <- BF16/F16 cannot fail
    }
  }
}

Status decoderForward(const Ops& ops, float* x, const PassLayout& layout, const DecoderView& w, const DecoderConfig& cfg,
                      const LoraUse& lora, KvCache* cache, DecoderActs& act) {
  STIC_RETURN_IF_ERROR(checkLayout(layout, act.shape, cache));
  ops.memory.copy(act.scratch.pos, layout.pos.data(), layout.pos.size() * sizeof(int64_t));
  const LayerPass pass{ops, cfg, layout, lora, cache, act.scratch};
  for (int64_t l = 0; l < cfg.numLayers; l++) {
    layerForward(pass, x, act.saved[std::min<int64_t>(l, act.shape.layers - 1)], w.layers[l], l);
  }
  return Status::ok();
}

void decoderBackward(const Ops& ops, float* dx, const PassLayout& layout, const DecoderView& w, const DecoderConfig& cfg,
                     const LoraUse& lora, const DecoderPtrs* grads, DecoderActs& act) {
  const int64_t T = layout.rows(), D = cfg.hiddenSize;
  const bool ckpt = act.shape.checkpointed;
  ops.memory.copy(act.scratch.pos, layout.pos.data(), layout.pos.size() * sizeof(int64_t));
  const LayerPass pass{ops, cfg, layout, lora, nullptr, act.scratch};
  for (int64_t l = cfg.numLayers - 1; l >= 0; l--) {
    const LayerActs& L = act.saved[l];
    if (ckpt && l < cfg.numLayers - 1) {  // the last layer's set is still the forward's
      ops.memory.copy(act.xrec, L.xin, T * D * sizeof(float));
      layerForward(pass, act.xrec, L, w.layers[l], l);
    }
    layerBackward(pass, dx, L, w.layers[l], grads ? &grads->layers[l] : nullptr, l);
  }
}

void decoderLogits(const Ops& ops, float* logits, float* scratch, const float* x, const int64_t* rows, int64_t n,
                   const DecoderView& w, const DecoderConfig& cfg) {
  const int64_t D = cfg.hiddenSize;
  float* gathered = scratch;
  float* normed = scratch + n * D;
  for (int64_t i = 0; i < n; i++) ops.memory.copy(gathered + i * D, x + rows[i] * D, D * sizeof(float));
  ops.norm.rmsnorm_forward(normed, gathered, w.norm, n, D, cfg.rmsNormEps);
  ops.linear.linear_forward(logits, normed, w.lmHead.data, w.lmHead.dtype, nullptr, n, D, cfg.vocabSize);
}

}  // namespace stic::model
