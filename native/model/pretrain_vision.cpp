// CLIP tower and projector, forward with saved activations and backward (see pretrain_vision.h).
//   embIn = [class_embedding; patch_embed(img)] + position_embedding;  hidden[0] = pre_layrnorm(embIn)
//   per layer l: xmid = x + out_proj(attn(LN1(x)));  hidden[l+1] = xmid + fc2(act(fc1(LN2(xmid))))
//   features = linear_2(gelu(linear_1(select(hidden[Lu]))))
// Legend: see pretrain_vision.h.
#include "model/pretrain_vision.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/carver.h"
#include "model/projector.h"

namespace stic::model {
namespace {

// Floats of each saved tensor, in allocation order (one list so plan and alloc cannot drift).
struct VisionSizes {
  int64_t Rv, Dv, Iv, M, D, H, Tv, Lu;
};

VisionSizes sizesOf(const LlavaConfig& cfg, int64_t N) {
  const VisionConfig& v = cfg.vision;
  return {N * v.tokens(), v.hiddenSize, v.intermediateSize, N * v.featureTokens(), cfg.decoder.hiddenSize, v.numHeads,
          v.tokens(),     v.featureIndex()};
}

// Every buffer, forward ones first (each at least one float).
void carveVisionActs(Carver& c, VisionActs& a, const VisionSizes& s, bool backward) {
  auto f = [&c](float** slot, int64_t n) { c.f32(slot, {std::max<int64_t>(n, 1)}, "vision activations"); };
  f(&a.embIn, s.Rv * s.Dv);
  for (float*& h : a.hidden) f(&h, s.Rv * s.Dv);
  for (VisionLayerActs& L : a.layers) {
    f(&L.xn1, s.Rv * s.Dv);
    f(&L.qkv, s.Rv * 3 * s.Dv);
    f(&L.attn, s.Rv * s.Dv);
    f(&L.lse, s.Rv * s.H);
    f(&L.xmid, s.Rv * s.Dv);
    f(&L.xn2, s.Rv * s.Dv);
    f(&L.h, s.Rv * s.Iv);
    f(&L.a, s.Rv * s.Iv);
  }
  f(&a.sel, s.M * s.Dv);
  f(&a.h1, s.M * s.D);
  f(&a.a1, s.M * s.D);
  f(&a.features, s.M * s.D);
  if (!backward) return;
  for (float** d : {&a.dx, &a.dtmp, &a.dxn, &a.dattn}) f(d, s.Rv * s.Dv);
  f(&a.dqkv, s.Rv * 3 * s.Dv);
  f(&a.dh, s.Rv * s.Iv);
  f(&a.dsel, s.M * s.Dv);
  f(&a.dh1, s.M * s.D);
}

VisionActs emptyActs(const VisionSizes& s, int64_t N) {
  VisionActs a{};
  a.N = N;
  a.hidden.assign(s.Lu + 1, nullptr);
  a.layers.assign(s.Lu, VisionLayerActs{});
  return a;
}

float attnScale(const VisionConfig& v) { return 1.0f / std::sqrt(static_cast<float>(v.headDim())); }

// The tower's float32 parameters as the weight tensors encoderLayerForward reads (views, no copy).
VisionLayerWeights layerWeights(const VisionLayerPtrs& p, const VisionConfig& v) {
  const int64_t Dv = v.hiddenSize, Iv = v.intermediateSize;
  auto t = [](float* data, Shape shape) { return Tensor(DType::F32, std::move(shape), data, nullptr); };
  return {t(p.ln1W, {Dv}),     t(p.ln1B, {Dv}), t(p.qkvW, {3 * Dv, Dv}), t(p.qkvB, {3 * Dv}), t(p.outW, {Dv, Dv}),
          t(p.outB, {Dv}),     t(p.ln2W, {Dv}), t(p.ln2B, {Dv}),         t(p.fc1W, {Iv, Dv}), t(p.fc1B, {Iv}),
          t(p.fc2W, {Dv, Iv}), t(p.fc2B, {Dv})};
}

// dx (Rv, Dv): in, d loss / d (layer output); out, d loss / d (layer input x). Accumulates g.
void encoderLayerBackward(const Ops& ops, VisionActs& a, const float* x, const VisionLayerActs& L, const VisionLayerPtrs& w,
                          const VisionLayerPtrs& g, const VisionConfig& v) {
  const int64_t N = a.N, Tv = v.tokens(), Rv = N * Tv, Dv = v.hiddenSize, Iv = v.intermediateSize, H = v.numHeads;
  const float eps = v.layerNormEps;
  // MLP block: out = xmid + fc2(act(fc1(LN2(xmid))))
  ops.linear.linear_backward(a.dh, g.fc2W, g.fc2B, a.dx, L.a, w.fc2W, Rv, Iv, Dv);
  actBackward(ops, v.act, a.dh, a.dh, L.h, Rv * Iv);
  ops.linear.linear_backward(a.dxn, g.fc1W, g.fc1B, a.dh, L.xn2, w.fc1W, Rv, Dv, Iv);
  ops.norm.layernorm_backward(a.dtmp, g.ln2W, g.ln2B, a.dxn, L.xmid, w.ln2W, Rv, Dv, eps);
  ops.elementwise.add_inplace(a.dx, a.dtmp, Rv * Dv);  // d xmid
  // Attention block: xmid = x + out_proj(attn(LN1(x)))
  ops.linear.linear_backward(a.dattn, g.outW, g.outB, a.dx, L.attn, w.outW, Rv, Dv, Dv);
  std::memset(a.dqkv, 0, Rv * 3 * Dv * sizeof(float));  // dk, dv accumulate
  for (int64_t n = 0; n < N; n++) {
    const float* q = L.qkv + n * Tv * 3 * Dv;
    float* dq = a.dqkv + n * Tv * 3 * Dv;
    ops.attention.attention_backward(dq, dq + Dv, dq + 2 * Dv, a.dattn + n * Tv * Dv, q, 3 * Dv, q + Dv, 3 * Dv, q + 2 * Dv,
                                     3 * Dv,
                            L.attn + n * Tv * Dv, Dv, L.lse + n * H * Tv, Tv, Tv, H, H, v.headDim(), false, 0, attnScale(v));
  }
  ops.linear.linear_backward(a.dxn, g.qkvW, g.qkvB, a.dqkv, L.xn1, w.qkvW, Rv, Dv, 3 * Dv);
  ops.norm.layernorm_backward(a.dtmp, g.ln1W, g.ln1B, a.dxn, x, w.ln1W, Rv, Dv, eps);
  ops.elementwise.add_inplace(a.dx, a.dtmp, Rv * Dv);  // d x
}

// From d embIn (in a.dtmp) into the class, position and patch embeddings.
void embedPatchesBackward(const Ops& ops, VisionActs& a, const float* pixels, const VisionPtrs& g, const VisionConfig& v) {
  const int64_t Dv = v.hiddenSize, S = v.imageSize, Tv = v.tokens(), P = v.numPatches();
  for (int64_t n = 0; n < a.N; n++) {  // images in order: a fixed summation order
    const float* rows = a.dtmp + n * Tv * Dv;
    ops.elementwise.add_inplace(g.posEmbed, rows, Tv * Dv);
    ops.elementwise.add_inplace(g.classEmbed, rows, Dv);
    std::memcpy(a.dxn + n * P * Dv, rows + Dv, P * Dv * sizeof(float));  // the patch rows, packed (N, P, Dv)
  }
  ops.embedding.patch_embed_backward(g.patchW, a.dxn, pixels, a.N, S, S, v.patchSize, Dv);
}

ProjectorView projectorView(const ProjectorPtrs& p) { return {p.w1, p.b1, p.w2, p.b2}; }

}  // namespace

void planVisionActs(ArenaPlan& plan, const LlavaConfig& cfg, int64_t N, bool backward) {
  const VisionSizes s = sizesOf(cfg, N);
  VisionActs a = emptyActs(s, N);
  Carver c = Carver::planning(plan);
  carveVisionActs(c, a, s, backward);
}

Result<VisionActs> allocVisionActs(Arena& arena, const LlavaConfig& cfg, int64_t N, bool backward) {
  const VisionSizes s = sizesOf(cfg, N);
  VisionActs a = emptyActs(s, N);
  Carver c = Carver::carving(arena);
  carveVisionActs(c, a, s, backward);
  STIC_RETURN_IF_ERROR(c.status());
  return a;
}

void visionTrainForward(const Ops& ops, VisionActs& a, const float* pixels, const ModelPtrs& w, const LlavaConfig& cfg) {
  const VisionConfig& v = cfg.vision;
  const int64_t N = a.N, Tv = v.tokens(), Dv = v.hiddenSize, M = N * v.featureTokens();
  if (N == 0) return;
  embedPatches(ops, a.embIn, pixels, w.vision.patchW, w.vision.classEmbed, w.vision.posEmbed, v, N);
  ops.norm.layernorm_forward(a.hidden[0], a.embIn, w.vision.preLnW, w.vision.preLnB, N * Tv, Dv, v.layerNormEps);
  for (size_t l = 0; l < a.layers.size(); l++) {
    encoderLayerForward(ops, a.hidden[l + 1], a.hidden[l], a.layers[l], layerWeights(w.vision.layers[l], v), v, N);
  }
  selectFeatureRows(a.sel, a.hidden.back(), v, N);
  projectorForward(ops, a.features, a.h1, a.a1, a.sel, projectorView(w.projector), cfg, M);
}

void visionTrainBackward(const Ops& ops, VisionActs& a, const float* dfeatures, const float* pixels, const ModelPtrs& w,
                         const ModelPtrs& g, const LlavaConfig& cfg) {
  const VisionConfig& v = cfg.vision;
  const int64_t N = a.N, Tv = v.tokens(), Dv = v.hiddenSize, M = N * v.featureTokens();
  if (N == 0) return;
  const ProjectorPtrs& gp = g.projector;
  projectorBackward(ops, a.dsel, {gp.w1, gp.b1, gp.w2, gp.b2}, a.dh1, dfeatures, a.sel, a.h1, a.a1, projectorView(w.projector),
                    cfg, M);
  scatterFeatureRows(a.dx, a.dsel, v, N);
  for (size_t l = a.layers.size(); l-- > 0;) encoderLayerBackward(ops, a, a.hidden[l], a.layers[l], w.vision.layers[l],
                                                                  g.vision.layers[l], v);
  ops.norm.layernorm_backward(a.dtmp, g.vision.preLnW, g.vision.preLnB, a.dx, a.embIn, w.vision.preLnW, N * Tv, Dv,
                              v.layerNormEps);
  embedPatchesBackward(ops, a, pixels, g.vision, v);
}

}  // namespace stic::model
