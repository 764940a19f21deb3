// CLIP vision tower (as LLaVA uses it) and the multimodal projector, CPU fp32.
// Legend: N images, S image side, P patches, R = N*(P+1) packed rows, Dv vision hidden, Iv vision
// MLP, Ti feature rows per image (P, or P+1 with the CLS row), D decoder hidden.
#pragma once
#include <vector>

#include "core/arena.h"
#include "core/ops.h"
#include "model/llava_config.h"
#include "model/llava_weights.h"

namespace stic::model {

// One encoder layer's activations. Training (pretrain_vision.cpp) saves one set per layer for the
// backward; inference shares one scratch set across layers, with xn1 = xn2, h = a and lse null.
struct VisionLayerActs {
  float* xn1;   // (R, Dv) layer_norm1 output
  float* qkv;   // (R, 3Dv)
  float* attn;  // (R, Dv) attention output (out_proj input)
  float* lse;   // (N, H, T) per image, or null: not kept
  float* xmid;  // (R, Dv) residual stream after the attention block
  float* xn2;   // (R, Dv) layer_norm2 output
  float* h;     // (R, Iv) fc1 output (pre-activation)
  float* a;     // (R, Iv) activation (fc2 input); may be h (applied in place)
};

// embIn (R, Dv) = [class_embedding; patch_embed(img)] + position_embedding, for pixels (N, 3, S, S).
// patchW (Dv, 3, p, p), cls (Dv), pos (P+1, Dv).
void embedPatches(const Ops& ops, float* embIn, const float* pixels, const float* patchW, const float* cls, const float* pos,
                  const VisionConfig& cfg, int64_t N);

// out (R, Dv) = one CLIP encoder layer of x (R, Dv); out may be x:
//   xmid = x + out_proj(attn(LN1(x)));  out = xmid + fc2(act(fc1(LN2(xmid))))
void encoderLayerForward(const Ops& ops, float* out, const float* x, const VisionLayerActs& L, const VisionLayerWeights& w,
                         const VisionConfig& cfg, int64_t N);

// Scratch bytes visionForward needs for N images (hidden states and output not included).
void planVision(ArenaPlan& plan, const VisionConfig& cfg, int64_t N);

// Runs the tower on pixels (N, 3, S, S) (already normalised) up to hidden state `lastIndex`
// (0 = embeddings after pre-layernorm, numLayers = last layer) and leaves that state in
// `state` (R, Dv). When `hidden` is given, hidden state k is copied to (*hidden)[k] (N, P+1, Dv),
// for k = 0..lastIndex. Only the layers needed are computed.
Status visionForward(const Ops& ops, float* state, std::vector<float*>* hidden, const float* pixels, const VisionWeights& w,
                     const VisionConfig& cfg, int64_t N, int64_t lastIndex, Arena& scratch);

// Image features: the selected rows of state (R, Dv) through the projector -> out (N*Ti, D).
// `scratch` must hold planProjector's bytes.
void planProjector(ArenaPlan& plan, const LlavaConfig& cfg, int64_t N);
Status projectImageFeatures(const Ops& ops, float* out, const float* state, const ProjectorWeights& w, const LlavaConfig& cfg,
                            int64_t N, Arena& scratch);

}  // namespace stic::model
