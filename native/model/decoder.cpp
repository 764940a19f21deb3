// Llama/Mistral decoder layer (HF LlamaDecoderLayer / MistralDecoderLayer):
//   x += o_proj(attn(rope(q), rope(k), v))   on RMSNorm(x)
//   x += down(silu(gate(h)) * up(h))          on h = RMSNorm(x)
// Legend: see decoder.h.
#include "model/decoder.h"

#include <cmath>
#include <cstring>

#include "model/weight_ops.h"

namespace stic::model {

Result<std::unique_ptr<KvCache>> KvCache::create(const DecoderConfig& cfg, const std::vector<int64_t>& capacities) {
  auto c = std::unique_ptr<KvCache>(new KvCache());
  c->kvDim_ = cfg.kvDim();
  int64_t rows = 0;
  for (int64_t cap : capacities) {
    c->base_.push_back(rows);
    c->capacity_.push_back(cap);
    rows += cap;
  }
  ArenaPlan plan;
  for (int64_t l = 0; l < 2 * cfg.numLayers; l++) plan.add(DType::F32, {rows, c->kvDim_}, l % 2 ? "values" : "keys");
  auto arena = Arena::create(cpuBackend(), Lifetime::KvCache, plan);
  if (!arena.isOk()) return arena.status().withContext("KV cache");
  c->arena_ = arena.take();
  for (int64_t l = 0; l < cfg.numLayers; l++) {
    auto k = c->arena_->allocate(DType::F32, {rows, c->kvDim_}, "keys");
    auto v = c->arena_->allocate(DType::F32, {rows, c->kvDim_}, "values");
    if (!k.isOk()) return k.status();
    if (!v.isOk()) return v.status();
    c->k_.push_back(k.take());
    c->v_.push_back(v.take());
  }
  return c;
}

void carveDecoderBuffers(Carver& c, DecoderBuffers& b, const DecoderConfig& cfg, int64_t T) {
  const int64_t D = cfg.hiddenSize, F = cfg.intermediateSize;
  b.maxRows = T;
  c.f32(&b.xn, {T, D}, "decoder activations");
  c.f32(&b.qkv, {T, cfg.qkvDim()}, "decoder activations");
  c.f32(&b.attn, {T, cfg.qDim()}, "decoder activations");
  c.f32(&b.out, {T, D}, "decoder activations");
  c.f32(&b.gateUp, {T, 2 * F}, "decoder activations");
  c.f32(&b.act, {T, F}, "decoder activations");
  c.i64(&b.pos, {T}, "rotary positions");
}

namespace {

// Self-attention of one layer over every segment; reads buf.qkv (roped), writes buf.attn.
void attendSegments(const Ops& ops, const DecoderBuffers& buf, const std::vector<Segment>& segments, const DecoderConfig& cfg,
                    KvCache* cache, int64_t layer) {
  const int64_t Nqkv = cfg.qkvDim(), qDim = cfg.qDim(), kvDim = cfg.kvDim();
  const float scale = 1.0f / std::sqrt(static_cast<float>(cfg.headDim));
  for (const Segment& s : segments) {
    const float* q = buf.qkv + s.row * Nqkv;
    const float* k = q + qDim;
    const float* v = q + qDim + kvDim;
    int64_t ldkv = Nqkv;
    if (cache) {
      float* kc = cache->k(layer, s.slot);
      float* vc = cache->v(layer, s.slot);
      for (int64_t t = 0; t < s.len; t++) {
        std::memcpy(kc + (s.pos0 + t) * kvDim, k + t * Nqkv, kvDim * sizeof(float));
        std::memcpy(vc + (s.pos0 + t) * kvDim, v + t * Nqkv, kvDim * sizeof(float));
      }
      k = kc;
      v = vc;
      ldkv = kvDim;
    }
    ops.attention.attention_forward(buf.attn + s.row * qDim, qDim, q, Nqkv, k, ldkv, v, ldkv, s.len, s.pos0 + s.len, cfg.numHeads,
                           cfg.numKvHeads, cfg.headDim, true, s.pos0, scale);
  }
}

void decoderLayer(const Ops& ops, float* x, int64_t T, const std::vector<Segment>& segments, const DecoderLayerWeights& L,
                  const DecoderConfig& cfg, KvCache* cache, int64_t layer, const DecoderBuffers& buf) {
  const int64_t D = cfg.hiddenSize, F = cfg.intermediateSize, Nqkv = cfg.qkvDim();
  auto bias = [](const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; };
  ops.norm.rmsnorm_forward(buf.xn, x, L.attnNorm.data<float>(), T, D, cfg.rmsNormEps);
  linearW(ops, buf.qkv, buf.xn, L.qkvW, 0, bias(L.qkvB), T, D, Nqkv);
  ops.rope.rope_forward(buf.qkv, buf.pos, T, cfg.numHeads, cfg.headDim, Nqkv, cfg.ropeTheta);
  ops.rope.rope_forward(buf.qkv + cfg.qDim(), buf.pos, T, cfg.numKvHeads, cfg.headDim, Nqkv, cfg.ropeTheta);
  attendSegments(ops, buf, segments, cfg, cache, layer);
  linearW(ops, buf.out, buf.attn, L.oW, 0, bias(L.oB), T, cfg.qDim(), D);
  ops.elementwise.add_inplace(x, buf.out, T * D);

  ops.norm.rmsnorm_forward(buf.xn, x, L.mlpNorm.data<float>(), T, D, cfg.rmsNormEps);
  // Two GEMMs into the halves of buf.gateUp (gate (T, F), then up (T, F)) so SwiGLU is one
  // contiguous elementwise pass; the weight rows are stored fused [gate; up].
  float* gate = buf.gateUp;
  float* up = buf.gateUp + T * F;
  const float* gateUpB = bias(L.gateUpB);
  linearW(ops, gate, buf.xn, L.gateUpW, 0, gateUpB, T, D, F);
  linearW(ops, up, buf.xn, L.gateUpW, F, gateUpB ? gateUpB + F : nullptr, T, D, F);
  ops.elementwise.swiglu_forward(buf.act, gate, up, T * F);
  linearW(ops, buf.out, buf.act, L.downW, 0, bias(L.downB), T, F, D);
  ops.elementwise.add_inplace(x, buf.out, T * D);
}

}  // namespace

Status decoderForward(const Ops& ops, float* x, int64_t T, const std::vector<Segment>& segments, const DecoderWeights& w,
                      const DecoderConfig& cfg, KvCache* cache, const DecoderBuffers& buf) {
  STIC_CHECK_ARG(T <= buf.maxRows, "internal: decoder pass of ", T, " rows but buffers for ", buf.maxRows);
  int64_t covered = 0;
  for (const Segment& s : segments) {
    STIC_CHECK_ARG(s.row == covered && s.len > 0, "internal: decoder segments must tile the packed rows in order");
    if (cache) {
      STIC_CHECK_ARG(s.slot >= 0 && s.slot < cache->slots() && s.pos0 + s.len <= cache->capacity(s.slot),
                     "internal: KV-cache slot ", s.slot, " cannot hold positions up to ", s.pos0 + s.len);
    } else {
      STIC_CHECK_ARG(s.pos0 == 0, "internal: a pass without a KV cache must start every sequence at position 0");
    }
    for (int64_t t = 0; t < s.len; t++) buf.pos[s.row + t] = s.pos0 + t;
    covered += s.len;
  }
  STIC_CHECK_ARG(covered == T, "internal: decoder segments cover ", covered, " of ", T, " rows");
  for (int64_t l = 0; l < cfg.numLayers; l++) decoderLayer(ops, x, T, segments, w.layers[l], cfg, cache, l, buf);
  return Status::ok();
}

void decoderLogits(const Ops& ops, float* logits, float* scratch, const float* x, const int64_t* rows, int64_t n,
                   const DecoderWeights& w, const DecoderConfig& cfg) {
  const int64_t D = cfg.hiddenSize;
  float* gathered = scratch;
  float* normed = scratch + n * D;
  for (int64_t i = 0; i < n; i++) std::memcpy(gathered + i * D, x + rows[i] * D, D * sizeof(float));
  ops.norm.rmsnorm_forward(normed, gathered, w.norm.data<float>(), n, D, cfg.rmsNormEps);
  linearW(ops, logits, normed, w.lmHead, 0, nullptr, n, D, cfg.vocabSize);
}

}  // namespace stic::model
