// CLIP forward (HF CLIPVisionTransformer without post_layernorm, which LLaVA never reads):
//   x = [class_embedding; patch_embed(img)] + position_embedding;  x = pre_layrnorm(x)  -> hidden 0
//   per layer: x += out_proj(attn(LN1(x)));  x += fc2(act(fc1(LN2(x))))               -> hidden l+1
// Legend: see vision_tower.h.
#include "model/vision_tower.h"

#include <cmath>
#include <cstring>

#include "core/carver.h"
#include "model/projector.h"
#include "model/weight_ops.h"

namespace stic::model {

namespace {

// The one scratch set the inference layers share (see VisionLayerActs): xn1 = xn2, h = a, no lse.
void carveVision(Carver& c, VisionLayerActs& b, const VisionConfig& cfg, int64_t N) {
  const int64_t R = N * cfg.tokens(), Dv = cfg.hiddenSize;
  c.f32(&b.xn1, {R, Dv}, "vision activations");
  c.f32(&b.qkv, {R, 3 * Dv}, "vision activations");
  c.f32(&b.attn, {R, Dv}, "vision activations");
  c.f32(&b.h, {R, cfg.intermediateSize}, "vision activations");
  c.f32(&b.xmid, {R, Dv}, "vision activations");
  b.xn2 = b.xn1;
  b.a = b.h;
  b.lse = nullptr;
}

}  // namespace

void planVision(ArenaPlan& plan, const VisionConfig& cfg, int64_t N) {
  VisionLayerActs b{};
  Carver c = Carver::planning(plan);
  carveVision(c, b, cfg, N);
}

void embedPatches(const Ops& ops, float* embIn, const float* pixels, const float* patchW, const float* cls, const float* pos,
                  const VisionConfig& cfg, int64_t N) {
  const int64_t Dv = cfg.hiddenSize, S = cfg.imageSize, T = cfg.tokens();
  for (int64_t n = 0; n < N; n++) {
    float* rows = embIn + n * T * Dv;
    ops.embedding.patch_embed_forward(rows + Dv, pixels + n * 3 * S * S, patchW, S, S, cfg.patchSize, Dv);
    std::memcpy(rows, cls, Dv * sizeof(float));
    ops.elementwise.add_inplace(rows, pos, T * Dv);  // pos (P+1, Dv) lines up with [cls; patches]
  }
}

void encoderLayerForward(const Ops& ops, float* out, const float* x, const VisionLayerActs& L, const VisionLayerWeights& w,
                         const VisionConfig& cfg, int64_t N) {
  const int64_t T = cfg.tokens(), R = N * T, Dv = cfg.hiddenSize, Iv = cfg.intermediateSize, H = cfg.numHeads, hd = cfg.headDim();
  const float eps = cfg.layerNormEps, scale = 1.0f / std::sqrt(static_cast<float>(hd));
  ops.norm.layernorm_forward(L.xn1, x, w.ln1W.data<float>(), w.ln1B.data<float>(), R, Dv, eps);
  linearW(ops, L.qkv, L.xn1, w.qkvW, 0, w.qkvB.data<float>(), R, Dv, 3 * Dv);
  for (int64_t n = 0; n < N; n++) {  // bidirectional attention within each image only
    const float* q = L.qkv + n * T * 3 * Dv;
    float* o = L.attn + n * T * Dv;
    if (L.lse) {
      ops.attention.attention_forward_lse(o, Dv, L.lse + n * H * T, q, 3 * Dv, q + Dv, 3 * Dv, q + 2 * Dv, 3 * Dv, T, T, H, H,
                                          hd, false, 0, scale);
    } else {
      ops.attention.attention_forward(o, Dv, q, 3 * Dv, q + Dv, 3 * Dv, q + 2 * Dv, 3 * Dv, T, T, H, H, hd, false, 0, scale);
    }
  }
  linearW(ops, L.xmid, L.attn, w.outW, 0, w.outB.data<float>(), R, Dv, Dv);
  ops.elementwise.add_inplace(L.xmid, x, R * Dv);
  ops.norm.layernorm_forward(L.xn2, L.xmid, w.ln2W.data<float>(), w.ln2B.data<float>(), R, Dv, eps);
  linearW(ops, L.h, L.xn2, w.fc1W, 0, w.fc1B.data<float>(), R, Dv, Iv);
  if (L.a != L.h) std::memcpy(L.a, L.h, R * Iv * sizeof(float));
  applyAct(ops, cfg.act, L.a, R * Iv);
  linearW(ops, out, L.a, w.fc2W, 0, w.fc2B.data<float>(), R, Iv, Dv);
  ops.elementwise.add_inplace(out, L.xmid, R * Dv);
}

Status visionForward(const Ops& ops, float* state, std::vector<float*>* hidden, const float* pixels, const VisionWeights& w,
                     const VisionConfig& cfg, int64_t N, int64_t lastIndex, Arena& scratch) {
  STIC_CHECK_ARG(lastIndex >= 0 && lastIndex <= cfg.numLayers, "internal: vision hidden state ", lastIndex, " of ",
                 cfg.numLayers + 1);
  VisionLayerActs b{};
  Carver c = Carver::carving(scratch);
  carveVision(c, b, cfg, N);
  STIC_RETURN_IF_ERROR(c.status());
  const size_t stateBytes = static_cast<size_t>(N * cfg.tokens() * cfg.hiddenSize) * sizeof(float);
  embedPatches(ops, b.xn1, pixels, w.patchW.data<float>(), w.classEmbed.data<float>(), w.posEmbed.data<float>(), cfg, N);
  ops.norm.layernorm_forward(state, b.xn1, w.preLnW.data<float>(), w.preLnB.data<float>(), N * cfg.tokens(), cfg.hiddenSize,
                         cfg.layerNormEps);
  if (hidden) std::memcpy((*hidden)[0], state, stateBytes);
  for (int64_t l = 0; l < lastIndex; l++) {
    encoderLayerForward(ops, state, state, b, w.layers[l], cfg, N);
    if (hidden) std::memcpy((*hidden)[l + 1], state, stateBytes);
  }
  return Status::ok();
}

namespace {

struct ProjectorScratch {
  float* sel;  // (M, Dv) selected rows
  float* h;    // (M, D) linear_1 output (and its activation)
};

void carveProjector(Carver& c, ProjectorScratch& p, const LlavaConfig& cfg, int64_t N) {
  const int64_t rows = N * cfg.vision.featureTokens();
  c.f32(&p.sel, {rows, cfg.vision.hiddenSize}, "selected vision rows");
  c.f32(&p.h, {rows, cfg.decoder.hiddenSize}, "projector hidden");
}

}  // namespace

void planProjector(ArenaPlan& plan, const LlavaConfig& cfg, int64_t N) {
  ProjectorScratch p{};
  Carver c = Carver::planning(plan);
  carveProjector(c, p, cfg, N);
}

Status projectImageFeatures(const Ops& ops, float* out, const float* state, const ProjectorWeights& w, const LlavaConfig& cfg,
                            int64_t N, Arena& scratch) {
  ProjectorScratch p{};
  Carver c = Carver::carving(scratch);
  carveProjector(c, p, cfg, N);
  STIC_RETURN_IF_ERROR(c.status());
  selectFeatureRows(p.sel, state, cfg.vision, N);
  projectorForward(ops, out, p.h, p.h, p.sel, projectorView(w), cfg, N * cfg.vision.featureTokens());
  return Status::ok();
}

}  // namespace stic::model
