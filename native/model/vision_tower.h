// The CLIP vision tower as LLaVA uses it (HF CLIPVisionTransformer without post_layernorm, which
// LLaVA never reads), written once for inference and for full-parameter training (stic toy
// pretrain): one forward, which keeps what the backward needs when asked, and one backward, which
// accumulates the weight gradients it is given pointers for.
//   embIn = [class_embedding; patch_embed(img)] + position_embedding;  hidden[0] = pre_layrnorm(embIn)
//   per layer l: xmid = x + out_proj(attn(LN1(x)));  hidden[l+1] = xmid + fc2(act(fc1(LN2(xmid))))
// Kept for the backward (VisionPass::Save, Backward), per layer run: LN1 output, q|k|v, the
// attention output and its log-sum-exp, the mid-layer residual, LN2 output, fc1's output and its
// activation; the layer inputs are the hidden states. Norms are not recomputed: the tower is small
// next to the decoder.
// Legend: N images, S image side, P patches, Tv = P+1 tokens per image (CLS first), Rv = N*Tv
// packed rows, Dv vision hidden, Iv vision MLP, H heads, Lu layers run (the index of the last
// hidden state computed), Ti feature rows per image.
#pragma once
#include <cstdint>
#include <vector>

#include "core/arena.h"
#include "core/ops.h"
#include "model/llava_config.h"
#include "model/llava_weights.h"
#include "model/model_ptrs.h"  // VisionPtrs: the gradients' pointers

namespace stic::model {

// Images through the tower at once where a call has many (bounds the inference scratch memory:
// Rv = 8 * 577 rows for CLIP-L/336).
constexpr int64_t kImageChunk = 8;

enum class VisionPass : uint8_t {
  Infer,     // no backward follows: one scratch layer set shared by every layer, one state updated in place
  Save,      // every layer's activations and every hidden state kept (a backward may follow)
  Backward,  // Save, plus the backward's scratch
};

// One encoder layer's activations. Infer shares one set across the layers, with xn2 = xn1,
// a = h and no lse.
struct VisionLayerActs {
  float* xn1;   // (Rv, Dv) layer_norm1 output
  float* qkv;   // (Rv, 3Dv)
  float* attn;  // (Rv, Dv) attention output (out_proj input)
  float* lse;   // (N, H, Tv) per image, or null: not kept
  float* xmid;  // (Rv, Dv) residual stream after the attention block
  float* xn2;   // (Rv, Dv) layer_norm2 output
  float* h;     // (Rv, Iv) fc1 output (pre-activation)
  float* a;     // (Rv, Iv) activation (fc2 input); may be h (applied in place)
};

struct VisionActs {
  int64_t N = 0;
  int64_t layersRun = 0;  // Lu
  VisionPass pass = VisionPass::Infer;
  float* embIn = nullptr;               // (Rv, Dv) the pre-layernorm input (Infer: the layer scratch's xn1)
  std::vector<float*> hidden;           // Save: Lu + 1 of (Rv, Dv); Infer: one, updated in place
  std::vector<VisionLayerActs> layers;  // Save: Lu; Infer: one shared set
  // The backward's scratch (Backward only). dx holds d loss / d state() on entry to the backward.
  float *dx = nullptr, *dtmp = nullptr, *dxn = nullptr, *dattn = nullptr;  // (Rv, Dv)
  float* dqkv = nullptr;                                                   // (Rv, 3Dv)
  float* dh = nullptr;                                                     // (Rv, Iv)

  float* state() const { return hidden.back(); }  // (Rv, Dv) the last hidden state the forward computed
};

// One description of the buffers, for a plan (sizes) or a carve (pointers from the arena it sized).
void planVisionActs(ArenaPlan& plan, const VisionConfig& cfg, int64_t N, int64_t layersRun, VisionPass pass);
Result<VisionActs> carveVisionActs(Arena& arena, const VisionConfig& cfg, int64_t N, int64_t layersRun, VisionPass pass);

// Runs the tower on pixels (N, 3, S, S) (already normalised) up to hidden state a.layersRun
// (0 = the embeddings after pre-layernorm) and leaves it in a.state(). When `copies` is given,
// hidden state k is copied to (*copies)[k] (Rv, Dv) for k = 0..layersRun.
void visionForward(const Ops& ops, VisionActs& a, const float* pixels, const VisionWeights& w, const VisionConfig& cfg,
                   const std::vector<float*>* copies = nullptr);

// The backward of a VisionPass::Backward forward, from a.dx = d loss / d a.state(): accumulates
// d loss / d each weight g has a pointer for (null: not trained; g.layers may be empty: no layer
// gradients). Overwrites the backward scratch. The weights must be F32 (the pretrainer's).
Status visionBackward(const Ops& ops, VisionActs& a, const float* pixels, const VisionWeights& w, const VisionPtrs& g,
                      const VisionConfig& cfg);

// F32 weight views of the pretrainer's parameters (no copy), for the forward and the backward.
VisionWeights visionWeightsOf(const VisionPtrs& p, const VisionConfig& cfg);

// sel (N*Ti, Dv): the projector's input rows of pixels (N, 3, S, S), the tower run up to the
// selected hidden state kImageChunk images at a time in scratch of its own on `backend` (the one
// the weights and sel live on).
Status visionSelectedRows(Backend& backend, float* sel, const VisionWeights& w, const VisionConfig& cfg, const float* pixels,
                          int64_t N);

}  // namespace stic::model
