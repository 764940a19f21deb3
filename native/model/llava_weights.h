// LLaVA weights on the CPU backend. The matrices of the linear layers, the token embeddings and the
// LM head ("matrices" below) stay in the checkpoint's dtype (F32, BF16 or F16; F64 becomes F32)
// unless the load forces F32; the GEMMs widen them to f32 as they read them. Everything else
// (norms, biases, the CLIP embeddings, the projector) is F32. A matrix whose bytes lie in one file,
// in order and in the stored dtype, points straight into that file's read-only mapping; the rest is
// copied once into a Lifetime::Weights arena.
// Projections that read the same input are stored fused (q|k|v, gate|up) so each is one GEMM:
// the checkpoint's separate tensors are read straight into row ranges of the fused tensor (or
// mapped, when the checkpoint holds them adjacent in that order).
// Legend: Dv vision hidden, Iv vision MLP, p patch side, P patches, D decoder hidden, F decoder MLP,
// Nqkv = Hq*hd + 2*Hkv*hd, V vocab. "opt" marks a tensor that is undefined when the config has none.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/arena.h"
#include "core/tensor.h"
#include "io/safetensors_read.h"
#include "model/llava_config.h"

namespace stic::model {

struct VisionLayerWeights {
  Tensor ln1W, ln1B;    // (Dv)
  Tensor qkvW;          // (3*Dv, Dv)  q rows, then k, then v
  Tensor qkvB;          // (3*Dv)
  Tensor outW;          // (Dv, Dv)
  Tensor outB;          // (Dv)
  Tensor ln2W, ln2B;    // (Dv)
  Tensor fc1W, fc1B;    // (Iv, Dv), (Iv)
  Tensor fc2W, fc2B;    // (Dv, Iv), (Dv)
};

struct VisionWeights {
  Tensor patchW;       // (Dv, 3, p, p)
  Tensor classEmbed;   // (Dv)
  Tensor posEmbed;     // (P+1, Dv)
  Tensor preLnW, preLnB;  // (Dv)
  std::vector<VisionLayerWeights> layers;
};

struct ProjectorWeights {
  Tensor w1, b1;  // (D, Dv), (D) opt
  Tensor w2, b2;  // (D, D), (D) opt; undefined for a 'linear' projector
};

struct DecoderLayerWeights {
  Tensor attnNorm;   // (D)
  Tensor qkvW;       // (Nqkv, D)
  Tensor qkvB;       // (Nqkv) opt
  Tensor oW;         // (D, Hq*hd)
  Tensor oB;         // (D) opt
  Tensor mlpNorm;    // (D)
  Tensor gateUpW;    // (2F, D)  gate rows, then up rows
  Tensor gateUpB;    // (2F) opt
  Tensor downW;      // (D, F)
  Tensor downB;      // (D) opt
};

struct DecoderWeights {
  Tensor embed;    // (V, D)
  std::vector<DecoderLayerWeights> layers;
  Tensor norm;     // (D)
  Tensor lmHead;   // (V, D); shares embed's memory when the embeddings are tied
};

struct LlavaWeights {
  VisionWeights vision;
  ProjectorWeights projector;
  DecoderWeights decoder;
  Tensor imageNewline;  // (D) opt: LLaVA-NeXT's row separator of an anyres image's feature grid
  std::unique_ptr<Arena> arena;  // owns every copied byte above
  std::vector<std::shared_ptr<io::MappedFile>> mapped;  // the files mapped tensors point into
  size_t mappedBytes = 0;        // bytes of the tensors that point into `mapped`
  DType matrixDType = DType::F32;  // the dtype most matrix bytes are held in (for reports)
};

struct WeightLoadOptions {
  bool forceF32 = false;  // every matrix widened to F32 (checking the stored-dtype path)
  // Engine names of weights that must be private copies, never mapped (an adapter merges into them).
  std::vector<std::string> writable;
};

// Allocates the weights for `cfg` on `backend` and reads them from `sources` (engine names, see
// llavaTensorSpecs). Errors: a missing source names the tensor; a shape mismatch names the
// tensor, its file and both shapes; read failures name the tensor and the file; a backend other
// than the CPU is refused (Unsupported): weights are read and mapped straight into host memory.
Result<std::unique_ptr<LlavaWeights>> loadLlavaWeights(Backend& backend, const LlavaConfig& cfg,
                                                       const std::vector<io::TensorSource>& sources,
                                                       const WeightLoadOptions& opt = {});

// Row `row` of a matrix held in its stored dtype (for the row ranges of fused tensors).
inline const void* matrixRows(const Tensor& w, int64_t row) {
  return static_cast<const char*>(w.raw()) + static_cast<size_t>(row) * static_cast<size_t>(w.dim(-1)) * dtypeSize(w.dtype());
}

}  // namespace stic::model
