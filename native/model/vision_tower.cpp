// CLIP forward (HF CLIPVisionTransformer without post_layernorm, which LLaVA never reads):
//   x = [class_embedding; patch_embed(img)] + position_embedding;  x = pre_layrnorm(x)  -> hidden 0
//   per layer: x += out_proj(attn(LN1(x)));  x += fc2(act(fc1(LN2(x))))               -> hidden l+1
// Legend: see vision_tower.h.
#include "model/vision_tower.h"

#include <cmath>
#include <cstring>

#include "cpu/ops.h"
#include "cpu/ops_backward.h"
#include "model/projector.h"
#include "model/weight_ops.h"

namespace stic::model {

void planVision(ArenaPlan& plan, const VisionConfig& cfg, int64_t N) {
  const int64_t R = N * cfg.tokens(), Dv = cfg.hiddenSize;
  plan.add(DType::F32, {R, Dv});                    // xn1 = xn2: normed input of a sublayer
  plan.add(DType::F32, {R, 3 * Dv});                // qkv
  plan.add(DType::F32, {R, Dv});                    // attn
  plan.add(DType::F32, {R, cfg.intermediateSize});  // h = a: mlp hidden
  plan.add(DType::F32, {R, Dv});                    // xmid: residual stream after the attention block
}

void embedPatches(float* embIn, const float* pixels, const float* patchW, const float* cls, const float* pos, const VisionConfig& cfg,
                  int64_t N) {
  const int64_t Dv = cfg.hiddenSize, S = cfg.imageSize, T = cfg.tokens();
  for (int64_t n = 0; n < N; n++) {
    float* rows = embIn + n * T * Dv;
    cpu::patch_embed_forward(rows + Dv, pixels + n * 3 * S * S, patchW, S, S, cfg.patchSize, Dv);
    std::memcpy(rows, cls, Dv * sizeof(float));
    cpu::add_inplace(rows, pos, T * Dv);  // pos (P+1, Dv) lines up with [cls; patches]
  }
}

void encoderLayerForward(float* out, const float* x, const VisionLayerActs& L, const VisionLayerWeights& w, const VisionConfig& cfg,
                         int64_t N) {
  const int64_t T = cfg.tokens(), R = N * T, Dv = cfg.hiddenSize, Iv = cfg.intermediateSize, H = cfg.numHeads, hd = cfg.headDim();
  const float eps = cfg.layerNormEps, scale = 1.0f / std::sqrt(static_cast<float>(hd));
  cpu::layernorm_forward(L.xn1, x, w.ln1W.data<float>(), w.ln1B.data<float>(), R, Dv, eps);
  linearW(L.qkv, L.xn1, w.qkvW, 0, w.qkvB.data<float>(), R, Dv, 3 * Dv);
  for (int64_t n = 0; n < N; n++) {  // bidirectional attention within each image only
    const float* q = L.qkv + n * T * 3 * Dv;
    float* o = L.attn + n * T * Dv;
    if (L.lse) {
      cpu::attention_forward_lse(o, Dv, L.lse + n * H * T, q, 3 * Dv, q + Dv, 3 * Dv, q + 2 * Dv, 3 * Dv, T, T, H, H, hd, false, 0, scale);
    } else {
      cpu::attention_forward(o, Dv, q, 3 * Dv, q + Dv, 3 * Dv, q + 2 * Dv, 3 * Dv, T, T, H, H, hd, false, 0, scale);
    }
  }
  linearW(L.xmid, L.attn, w.outW, 0, w.outB.data<float>(), R, Dv, Dv);
  cpu::add_inplace(L.xmid, x, R * Dv);
  cpu::layernorm_forward(L.xn2, L.xmid, w.ln2W.data<float>(), w.ln2B.data<float>(), R, Dv, eps);
  linearW(L.h, L.xn2, w.fc1W, 0, w.fc1B.data<float>(), R, Dv, Iv);
  if (L.a != L.h) std::memcpy(L.a, L.h, R * Iv * sizeof(float));
  applyAct(cfg.act, L.a, R * Iv);
  linearW(out, L.a, w.fc2W, 0, w.fc2B.data<float>(), R, Iv, Dv);
  cpu::add_inplace(out, L.xmid, R * Dv);
}

namespace {

// One scratch set shared by every layer (see VisionLayerActs).
Result<VisionLayerActs> allocVision(Arena& a, const VisionConfig& cfg, int64_t N) {
  const int64_t R = N * cfg.tokens(), Dv = cfg.hiddenSize;
  float* bufs[5];
  const int64_t cols[] = {Dv, 3 * Dv, Dv, cfg.intermediateSize, Dv};
  for (int i = 0; i < 5; i++) {
    auto t = a.allocate(DType::F32, {R, cols[i]}, "vision activations");
    if (!t.isOk()) return t.status();
    bufs[i] = t.value().data<float>();
  }
  return VisionLayerActs{bufs[0], bufs[1], bufs[2], nullptr, bufs[4], bufs[0], bufs[3], bufs[3]};
}

}  // namespace

Status visionForward(float* state, std::vector<float*>* hidden, const float* pixels, const VisionWeights& w,
                     const VisionConfig& cfg, int64_t N, int64_t lastIndex, Arena& scratch) {
  STIC_CHECK_ARG(lastIndex >= 0 && lastIndex <= cfg.numLayers, "internal: vision hidden state ", lastIndex, " of ",
                 cfg.numLayers + 1);
  auto bufs = allocVision(scratch, cfg, N);
  if (!bufs.isOk()) return bufs.status();
  const VisionLayerActs& b = bufs.value();
  const size_t stateBytes = static_cast<size_t>(N * cfg.tokens() * cfg.hiddenSize) * sizeof(float);
  embedPatches(b.xn1, pixels, w.patchW.data<float>(), w.classEmbed.data<float>(), w.posEmbed.data<float>(), cfg, N);
  cpu::layernorm_forward(state, b.xn1, w.preLnW.data<float>(), w.preLnB.data<float>(), N * cfg.tokens(), cfg.hiddenSize,
                         cfg.layerNormEps);
  if (hidden) std::memcpy((*hidden)[0], state, stateBytes);
  for (int64_t l = 0; l < lastIndex; l++) {
    encoderLayerForward(state, state, b, w.layers[l], cfg, N);
    if (hidden) std::memcpy((*hidden)[l + 1], state, stateBytes);
  }
  return Status::ok();
}

void planProjector(ArenaPlan& plan, const LlavaConfig& cfg, int64_t N) {
  const int64_t rows = N * cfg.vision.featureTokens();
  plan.add(DType::F32, {rows, cfg.vision.hiddenSize});  // selected rows
  plan.add(DType::F32, {rows, cfg.decoder.hiddenSize});  // linear_1 output
}

Status projectImageFeatures(float* out, const float* state, const ProjectorWeights& w, const LlavaConfig& cfg, int64_t N,
                            Arena& scratch) {
  const int64_t rows = N * cfg.vision.featureTokens();
  auto sel = scratch.allocate(DType::F32, {rows, cfg.vision.hiddenSize}, "selected vision rows");
  if (!sel.isOk()) return sel.status();
  auto mid = scratch.allocate(DType::F32, {rows, cfg.decoder.hiddenSize}, "projector hidden");
  if (!mid.isOk()) return mid.status();
  float* s = sel.value().data<float>();
  float* h = mid.value().data<float>();
  selectFeatureRows(s, state, cfg.vision, N);
  projectorForward(out, h, h, s, projectorView(w), cfg, rows);
  return Status::ok();
}

}  // namespace stic::model
