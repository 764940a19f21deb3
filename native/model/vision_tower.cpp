// CLIP forward (HF CLIPVisionTransformer without post_layernorm, which LLaVA never reads):
//   x = [class_embedding; patch_embed(img)] + position_embedding;  x = pre_layrnorm(x)  -> hidden 0
//   per layer: x += out_proj(attn(LN1(x)));  x += fc2(act(fc1(LN2(x))))               -> hidden l+1
// Legend: see vision_tower.h.
#include "model/vision_tower.h"

#include <cmath>
#include <cstring>

#include "cpu/ops.h"
#include "model/projector.h"
#include "model/weight_ops.h"

namespace stic::model {

void planVision(ArenaPlan& plan, const VisionConfig& cfg, int64_t N) {
  const int64_t R = N * cfg.tokens(), Dv = cfg.hiddenSize;
  plan.add(DType::F32, {R, Dv});                    // xn: normed input of a sublayer
  plan.add(DType::F32, {R, 3 * Dv});                // qkv
  plan.add(DType::F32, {R, Dv});                    // attn
  plan.add(DType::F32, {R, cfg.intermediateSize});  // mlp hidden
  plan.add(DType::F32, {R, Dv});                    // sublayer output before the residual add
}

namespace {

struct VisionBuffers {
  float* xn;    // (R, Dv)
  float* qkv;   // (R, 3*Dv)
  float* attn;  // (R, Dv)
  float* mlp;   // (R, Iv)
  float* out;   // (R, Dv)
};

Result<VisionBuffers> allocVision(Arena& a, const VisionConfig& cfg, int64_t N) {
  const int64_t R = N * cfg.tokens(), Dv = cfg.hiddenSize;
  VisionBuffers b{};
  float** slots[] = {&b.xn, &b.qkv, &b.attn, &b.mlp, &b.out};
  const int64_t cols[] = {Dv, 3 * Dv, Dv, cfg.intermediateSize, Dv};
  for (int i = 0; i < 5; i++) {
    auto t = a.allocate(DType::F32, {R, cols[i]}, "vision activations");
    if (!t.isOk()) return t.status();
    *slots[i] = t.value().data<float>();
  }
  return b;
}

// state (N*(P+1), Dv) = [cls; patches] + pos, then pre-layernorm (hidden state 0). xn is scratch.
void embedImages(float* state, float* xn, const float* pixels, const VisionWeights& w, const VisionConfig& cfg, int64_t N) {
  const int64_t Dv = cfg.hiddenSize, S = cfg.imageSize, T = cfg.tokens();
  const float* cls = w.classEmbed.data<float>();
  const float* pos = w.posEmbed.data<float>();
  for (int64_t n = 0; n < N; n++) {
    float* rows = xn + n * T * Dv;
    cpu::patch_embed_forward(rows + Dv, pixels + n * 3 * S * S, w.patchW.data<float>(), S, S, cfg.patchSize, Dv);
    std::memcpy(rows, cls, Dv * sizeof(float));
    cpu::add_inplace(rows, pos, T * Dv);  // pos (P+1, Dv) lines up with [cls; patches]
  }
  cpu::layernorm_forward(state, xn, w.preLnW.data<float>(), w.preLnB.data<float>(), N * T, Dv, cfg.layerNormEps);
}

void encoderLayer(float* x, const VisionBuffers& b, const VisionLayerWeights& L, const VisionConfig& cfg, int64_t N) {
  const int64_t T = cfg.tokens(), R = N * T, Dv = cfg.hiddenSize, H = cfg.numHeads, hd = cfg.headDim();
  const float eps = cfg.layerNormEps;
  cpu::layernorm_forward(b.xn, x, L.ln1W.data<float>(), L.ln1B.data<float>(), R, Dv, eps);
  linearW(b.qkv, b.xn, L.qkvW, 0, L.qkvB.data<float>(), R, Dv, 3 * Dv);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int64_t n = 0; n < N; n++) {  // bidirectional attention within each image only
    const float* q = b.qkv + n * T * 3 * Dv;
    cpu::attention_forward(b.attn + n * T * Dv, Dv, q, 3 * Dv, q + Dv, 3 * Dv, q + 2 * Dv, 3 * Dv, T, T, H, H, hd, false, 0,
                           scale);
  }
  linearW(b.out, b.attn, L.outW, 0, L.outB.data<float>(), R, Dv, Dv);
  cpu::add_inplace(x, b.out, R * Dv);
  cpu::layernorm_forward(b.xn, x, L.ln2W.data<float>(), L.ln2B.data<float>(), R, Dv, eps);
  linearW(b.mlp, b.xn, L.fc1W, 0, L.fc1B.data<float>(), R, Dv, cfg.intermediateSize);
  applyAct(cfg.act, b.mlp, R * cfg.intermediateSize);
  linearW(b.out, b.mlp, L.fc2W, 0, L.fc2B.data<float>(), R, cfg.intermediateSize, Dv);
  cpu::add_inplace(x, b.out, R * Dv);
}

}  // namespace

Status visionForward(float* state, std::vector<float*>* hidden, const float* pixels, const VisionWeights& w,
                     const VisionConfig& cfg, int64_t N, int64_t lastIndex, Arena& scratch) {
  STIC_CHECK_ARG(lastIndex >= 0 && lastIndex <= cfg.numLayers, "internal: vision hidden state ", lastIndex, " of ",
                 cfg.numLayers + 1);
  auto bufs = allocVision(scratch, cfg, N);
  if (!bufs.isOk()) return bufs.status();
  const VisionBuffers& b = bufs.value();
  const size_t stateBytes = static_cast<size_t>(N * cfg.tokens() * cfg.hiddenSize) * sizeof(float);
  embedImages(state, b.xn, pixels, w, cfg, N);
  if (hidden) std::memcpy((*hidden)[0], state, stateBytes);
  for (int64_t l = 0; l < lastIndex; l++) {
    encoderLayer(state, b, w.layers[l], cfg, N);
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
