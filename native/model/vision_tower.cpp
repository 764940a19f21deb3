// The CLIP tower, forward and backward (see vision_tower.h). Legend: see vision_tower.h.
#include "model/vision_tower.h"

#include <algorithm>
#include <cmath>

#include "core/carver.h"
#include "model/projector.h"
#include "model/weight_ops.h"

namespace stic::model {
namespace {

// Every buffer of `pass` (each at least one float): Infer's shared layer set and state, or Save's
// per-layer sets and hidden states, then Backward's scratch. a.hidden and a.layers are sized here.
void carveVision(Carver& c, VisionActs& a, const VisionConfig& cfg, int64_t N, int64_t layersRun, VisionPass pass) {
  const int64_t Rv = N * cfg.tokens(), Dv = cfg.hiddenSize, Iv = cfg.intermediateSize, H = cfg.numHeads;
  auto f = [&c](float** slot, int64_t n, const char* what) { c.f32(slot, {std::max<int64_t>(n, 1)}, what); };
  a.N = N;
  a.layersRun = layersRun;
  a.pass = pass;
  const bool saved = pass != VisionPass::Infer;
  a.hidden.assign(saved ? layersRun + 1 : 1, nullptr);
  a.layers.assign(saved ? layersRun : 1, VisionLayerActs{});
  if (saved) f(&a.embIn, Rv * Dv, "vision activations");
  for (float*& h : a.hidden) f(&h, Rv * Dv, saved ? "vision activations" : "vision hidden state");
  for (VisionLayerActs& L : a.layers) {
    f(&L.xn1, Rv * Dv, "vision activations");
    f(&L.qkv, Rv * 3 * Dv, "vision activations");
    f(&L.attn, Rv * Dv, "vision activations");
    if (saved) f(&L.lse, Rv * H, "vision activations");
    f(&L.xmid, Rv * Dv, "vision activations");
    if (saved) f(&L.xn2, Rv * Dv, "vision activations");
    f(&L.h, Rv * Iv, "vision activations");
    if (saved) f(&L.a, Rv * Iv, "vision activations");
  }
  if (!saved) {  // the shared set: LN2 reuses LN1's output, the activation is applied in place
    VisionLayerActs& L = a.layers[0];
    L.xn2 = L.xn1;
    L.a = L.h;
    L.lse = nullptr;
    a.embIn = L.xn1;
  }
  if (pass != VisionPass::Backward) return;
  for (float** d : {&a.dx, &a.dtmp, &a.dxn, &a.dattn}) f(d, Rv * Dv, "vision gradients");
  f(&a.dqkv, Rv * 3 * Dv, "vision gradients");
  f(&a.dh, Rv * Iv, "vision gradients");
}

float attnScale(const VisionConfig& v) { return 1.0f / std::sqrt(static_cast<float>(v.headDim())); }

// embIn (Rv, Dv) = [class_embedding; patch_embed(img)] + position_embedding.
void embedPatches(const Ops& ops, float* embIn, const float* pixels, const VisionWeights& w, const VisionConfig& cfg, int64_t N) {
  const int64_t Dv = cfg.hiddenSize, S = cfg.imageSize, T = cfg.tokens();
  for (int64_t n = 0; n < N; n++) {
    float* rows = embIn + n * T * Dv;
    ops.embedding.patch_embed_forward(rows + Dv, pixels + n * 3 * S * S, w.patchW.data<float>(), S, S, cfg.patchSize, Dv);
    ops.memory.copy(rows, w.classEmbed.data<float>(), Dv * sizeof(float));
    ops.elementwise.add_inplace(rows, w.posEmbed.data<float>(), T * Dv);  // pos (P+1, Dv) lines up with [cls; patches]
  }
}

// out (Rv, Dv) = one encoder layer of x (Rv, Dv), writing L; out may be x.
void encoderLayerForward(const Ops& ops, float* out, const float* x, const VisionLayerActs& L, const VisionLayerWeights& w,
                         const VisionConfig& cfg, int64_t N) {
  const int64_t T = cfg.tokens(), R = N * T, Dv = cfg.hiddenSize, Iv = cfg.intermediateSize, H = cfg.numHeads, hd = cfg.headDim();
  const float eps = cfg.layerNormEps, scale = attnScale(cfg);
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
  applyAct(ops, cfg.act, L.a, L.h, R * Iv);
  linearW(ops, out, L.a, w.fc2W, 0, w.fc2B.data<float>(), R, Iv, Dv);
  ops.elementwise.add_inplace(out, L.xmid, R * Dv);
}

// a.dx (Rv, Dv): in, d loss / d (layer output); out, d loss / d (layer input x). Accumulates g.
void encoderLayerBackward(const Ops& ops, VisionActs& a, const float* x, const VisionLayerActs& L, const VisionLayerWeights& w,
                          const VisionLayerPtrs& g, const VisionConfig& v) {
  const int64_t N = a.N, Tv = v.tokens(), Rv = N * Tv, Dv = v.hiddenSize, Iv = v.intermediateSize, H = v.numHeads;
  const float eps = v.layerNormEps;
  // MLP block: out = xmid + fc2(act(fc1(LN2(xmid))))
  ops.linear.linear_backward(a.dh, g.fc2W, g.fc2B, a.dx, L.a, w.fc2W.data<float>(), Rv, Iv, Dv);
  actBackward(ops, v.act, a.dh, a.dh, L.h, Rv * Iv);
  ops.linear.linear_backward(a.dxn, g.fc1W, g.fc1B, a.dh, L.xn2, w.fc1W.data<float>(), Rv, Dv, Iv);
  ops.norm.layernorm_backward(a.dtmp, g.ln2W, g.ln2B, a.dxn, L.xmid, w.ln2W.data<float>(), Rv, Dv, eps);
  ops.elementwise.add_inplace(a.dx, a.dtmp, Rv * Dv);  // d xmid
  // Attention block: xmid = x + out_proj(attn(LN1(x)))
  ops.linear.linear_backward(a.dattn, g.outW, g.outB, a.dx, L.attn, w.outW.data<float>(), Rv, Dv, Dv);
  ops.memory.fill(a.dqkv, 0.0f, Rv * 3 * Dv);  // dk, dv accumulate
  for (int64_t n = 0; n < N; n++) {
    const float* q = L.qkv + n * Tv * 3 * Dv;
    float* dq = a.dqkv + n * Tv * 3 * Dv;
    ops.attention.attention_backward(dq, dq + Dv, dq + 2 * Dv, a.dattn + n * Tv * Dv, q, 3 * Dv, q + Dv, 3 * Dv, q + 2 * Dv,
                                     3 * Dv, L.attn + n * Tv * Dv, Dv, L.lse + n * H * Tv, Tv, Tv, H, H, v.headDim(), false, 0,
                                     attnScale(v));
  }
  ops.linear.linear_backward(a.dxn, g.qkvW, g.qkvB, a.dqkv, L.xn1, w.qkvW.data<float>(), Rv, Dv, 3 * Dv);
  ops.norm.layernorm_backward(a.dtmp, g.ln1W, g.ln1B, a.dxn, x, w.ln1W.data<float>(), Rv, Dv, eps);
  ops.elementwise.add_inplace(a.dx, a.dtmp, Rv * Dv);  // d x
}

// From d embIn (in a.dtmp) into the class, position and patch embeddings (those g points at).
void embedPatchesBackward(const Ops& ops, VisionActs& a, const float* pixels, const VisionPtrs& g, const VisionConfig& v) {
  const int64_t Dv = v.hiddenSize, S = v.imageSize, Tv = v.tokens(), P = v.numPatches();
  for (int64_t n = 0; n < a.N; n++) {  // images in order: a fixed summation order
    const float* rows = a.dtmp + n * Tv * Dv;
    if (g.posEmbed) ops.elementwise.add_inplace(g.posEmbed, rows, Tv * Dv);
    if (g.classEmbed) ops.elementwise.add_inplace(g.classEmbed, rows, Dv);
    if (g.patchW) ops.memory.copy(a.dxn + n * P * Dv, rows + Dv, P * Dv * sizeof(float));  // the patch rows, packed (N, P, Dv)
  }
  if (g.patchW) ops.embedding.patch_embed_backward(g.patchW, a.dxn, pixels, a.N, S, S, v.patchSize, Dv);
}

// The backward reads every weight as f32 (linear_backward takes f32 weights).
Status requireF32(const VisionWeights& w) {
  for (size_t l = 0; l < w.layers.size(); l++) {
    const VisionLayerWeights& L = w.layers[l];
    for (const Tensor* t : {&L.qkvW, &L.outW, &L.fc1W, &L.fc2W}) {
      STIC_CHECK_ARG(t->dtype() == DType::F32, "internal: the vision backward reads F32 weights but layer ", l, " holds ",
                     dtypeName(t->dtype()));
    }
  }
  return Status::ok();
}

Tensor f32View(float* data, Shape shape) { return Tensor(DType::F32, std::move(shape), data, nullptr); }

}  // namespace

void planVisionActs(ArenaPlan& plan, const VisionConfig& cfg, int64_t N, int64_t layersRun, VisionPass pass) {
  VisionActs a;
  Carver c = Carver::planning(plan);
  carveVision(c, a, cfg, N, layersRun, pass);
}

Result<VisionActs> carveVisionActs(Arena& arena, const VisionConfig& cfg, int64_t N, int64_t layersRun, VisionPass pass) {
  STIC_CHECK_ARG(layersRun >= 0 && layersRun <= cfg.numLayers, "internal: vision hidden state ", layersRun, " of ",
                 cfg.numLayers + 1);
  VisionActs a;
  Carver c = Carver::carving(arena);
  carveVision(c, a, cfg, N, layersRun, pass);
  STIC_RETURN_IF_ERROR(c.status());
  return a;
}

void visionForward(const Ops& ops, VisionActs& a, const float* pixels, const VisionWeights& w, const VisionConfig& cfg,
                   const std::vector<float*>* copies) {
  const int64_t N = a.N, Rv = N * cfg.tokens(), Dv = cfg.hiddenSize;
  if (N == 0) return;
  const size_t stateBytes = static_cast<size_t>(Rv * Dv) * sizeof(float);
  const bool saved = a.pass != VisionPass::Infer;
  embedPatches(ops, a.embIn, pixels, w, cfg, N);
  ops.norm.layernorm_forward(a.hidden[0], a.embIn, w.preLnW.data<float>(), w.preLnB.data<float>(), Rv, Dv, cfg.layerNormEps);
  if (copies) ops.memory.copy((*copies)[0], a.hidden[0], stateBytes);
  for (int64_t l = 0; l < a.layersRun; l++) {
    const size_t in = saved ? l : 0, out = saved ? l + 1 : 0;
    encoderLayerForward(ops, a.hidden[out], a.hidden[in], a.layers[saved ? l : 0], w.layers[l], cfg, N);
    if (copies) ops.memory.copy((*copies)[l + 1], a.hidden[out], stateBytes);
  }
}

Status visionBackward(const Ops& ops, VisionActs& a, const float* pixels, const VisionWeights& w, const VisionPtrs& g,
                      const VisionConfig& cfg) {
  STIC_CHECK_ARG(a.pass == VisionPass::Backward, "internal: the vision backward needs a forward that kept its activations");
  STIC_RETURN_IF_ERROR(requireF32(w));
  const int64_t N = a.N, Rv = N * cfg.tokens(), Dv = cfg.hiddenSize;
  if (N == 0) return Status::ok();
  const VisionLayerPtrs frozen{};
  for (int64_t l = a.layersRun; l-- > 0;) {
    encoderLayerBackward(ops, a, a.hidden[l], a.layers[l], w.layers[l], g.layers.empty() ? frozen : g.layers[l], cfg);
  }
  ops.norm.layernorm_backward(a.dtmp, g.preLnW, g.preLnB, a.dx, a.embIn, w.preLnW.data<float>(), Rv, Dv, cfg.layerNormEps);
  embedPatchesBackward(ops, a, pixels, g, cfg);
  return Status::ok();
}

VisionWeights visionWeightsOf(const VisionPtrs& p, const VisionConfig& cfg) {
  const int64_t Dv = cfg.hiddenSize, Iv = cfg.intermediateSize;
  VisionWeights w;
  w.patchW = f32View(p.patchW, {Dv, cfg.numChannels, cfg.patchSize, cfg.patchSize});
  w.classEmbed = f32View(p.classEmbed, {Dv});
  w.posEmbed = f32View(p.posEmbed, {cfg.tokens(), Dv});
  w.preLnW = f32View(p.preLnW, {Dv});
  w.preLnB = f32View(p.preLnB, {Dv});
  for (const VisionLayerPtrs& L : p.layers) {
    w.layers.push_back({f32View(L.ln1W, {Dv}), f32View(L.ln1B, {Dv}), f32View(L.qkvW, {3 * Dv, Dv}), f32View(L.qkvB, {3 * Dv}),
                        f32View(L.outW, {Dv, Dv}), f32View(L.outB, {Dv}), f32View(L.ln2W, {Dv}), f32View(L.ln2B, {Dv}),
                        f32View(L.fc1W, {Iv, Dv}), f32View(L.fc1B, {Iv}), f32View(L.fc2W, {Dv, Iv}), f32View(L.fc2B, {Dv})});
  }
  return w;
}

Status visionSelectedRows(Backend& backend, float* sel, const VisionWeights& w, const VisionConfig& cfg, const float* pixels,
                          int64_t N) {
  if (N == 0) return Status::ok();
  const int64_t chunk = std::min<int64_t>(N, kImageChunk), S = cfg.imageSize, rows = cfg.featureTokens() * cfg.hiddenSize;
  ArenaPlan plan;
  planVisionActs(plan, cfg, chunk, cfg.featureIndex(), VisionPass::Infer);
  auto arena = Arena::create(backend, Lifetime::Scratch, plan);
  if (!arena.isOk()) return arena.status().withContext("vision tower");
  const Ops& ops = backend.ops();
  for (int64_t n0 = 0; n0 < N; n0 += chunk) {
    const int64_t n = std::min(chunk, N - n0);
    arena.value()->reset();
    auto acts = carveVisionActs(*arena.value(), cfg, n, cfg.featureIndex(), VisionPass::Infer);
    if (!acts.isOk()) return acts.status();
    visionForward(ops, acts.value(), pixels + n0 * 3 * S * S, w, cfg);
    selectFeatureRows(ops, sel + n0 * rows, acts.value().state(), cfg, n);
  }
  return Status::ok();
}

}  // namespace stic::model
