// One call of the trainer (trainer.h), in the pieces every step is made of, for every spec:
//   TrainView: what the call reads (the frozen model's weights and the adapters, or the full
//     store's parameters) and where its gradients go (null: frozen), resolved once per trainer.
//   TrainCall: the call's activations, planned and carved from one list (StepShape sizes them),
//     in one Activations arena kept between calls.
//   the images' features (a frozen tower in chunks, or a training tower keeping its activations;
//   the projector), a decoder pass, the backward of a pass into whatever trains, and after the
//   last pass the projector's and the tower's backward.
// Legend: N crops, M = N*Ti feature rows, T rows of a pass, S keys, E scored tokens, D hidden,
// Dv vision hidden.
#pragma once
#include <algorithm>
#include <memory>
#include <vector>

#include "core/arena.h"
#include "core/ops.h"
#include "model/decoder.h"
#include "model/image_layout.h"
#include "model/llava.h"
#include "model/projector.h"
#include "model/train_head.h"
#include "model/train_params.h"
#include "model/vision_tower.h"

namespace stic::model {

// The sizes of a step call's activation arena: its images and its largest pass.
struct StepShape {
  int64_t featureRows = 0;  // M = C*Ti rows of the call's crops (the feature buffers add the image_newline row)
  int64_t rows = 0;         // T of the largest pass
  int64_t keys = 0;         // S of the longest attention segment the call plans key staging for
  int64_t entries = 0;      // E, most scored tokens of a pass
  bool backward = false;
  bool refFeatures = false;   // the reference needs its own projector output
  bool checkpointed = false;  // gradient checkpointing (with backward)
};

// A step call's activation arena, by what its bytes hold: the activations the forward keeps for the
// backward, and everything else (working buffers, the recomputed layer's set, the head, the projector).
struct StepMemory {
  size_t saved = 0;
  size_t scratch = 0;
  size_t total() const { return saved + scratch; }
};

// What a step reads and where its gradients go (the model's weights and the store's buffers never
// move, so this is resolved once).
struct TrainView {
  Backend* backend = nullptr;           // the one the weights and the trainable state live on; the call's arena too
  const Ops& ops() const { return backend->ops(); }
  DecoderView decoder;                  // the weights every pass reads
  VisionWeights vision;                 // the tower's
  ProjectorView projector;              // the policy's projector
  ProjectorView refProjector;           // the frozen original (the reference's); adapters only
  const float* imageNewline = nullptr;  // (D) or null: a zero row
  const LoraSpec* lora = nullptr;       // the adapter whose activations a pass keeps, or null
  ProjectorGrads projectorGrads;        // all null: the projector is frozen
  bool projectorTrains = false;
  // full: every weight's gradient (the decoder's layers, embeddings, norm and lm_head; the tower's).
  const DecoderPtrs* decoderGrads = nullptr;
  const VisionPtrs* visionGrads = nullptr;
  HeadGrads headGrads;
  // Rows of one packed pass: kPassTokenBudget (adapters), or no bound (full: a call's items run as
  // one pass of whole items, as the toy pretrainer always ran them, so its results are bit for bit
  // the same: a GEMM's rounding depends on the rows it reduces over).
  int64_t passRows = kPassTokenBudget;
  // Rows after the crops' in a feature buffer: image_layout.h's image_newline row (adapters: any
  // image layout), or none (full: single-tile images, whose tokens never read it).
  int64_t newlineRows = 1;
  bool full() const { return decoderGrads != nullptr; }
};

// Adapters over a frozen model; every weight of a full store.
TrainView adapterView(const LlavaModel& m, const TrainableParams& p);
TrainView fullView(const LlavaConfig& cfg, const TrainableParams& p);

// Everything one call needs, carved from the trainer's Activations arena.
struct TrainCall {
  Arena* arena = nullptr;
  size_t bytes = 0;             // what this call planned (the arena may be larger)
  bool towerKept = false;       // the tower trains: its activations are kept (full)
  VisionActs tower;
  ProjectorActs proj;           // sel (M, Dv), h1 and a1 (M, D) saved; dh1 (M, D) when the projector trains, dsel (M, Dv) when the tower does
  float* featPolicy = nullptr;  // (M + nl, D): the crops' features, then image_newline (nl = TrainView::newlineRows)
  float* featRef = nullptr;     // (M + nl, D), or featPolicy when they coincide
  float* dfeat = nullptr;       // (M + nl, D) d loss / d policy features (the newline row's is unused: it is frozen)
  float* x = nullptr;           // (T, D) residual stream
  float* dx = nullptr;          // (T, D) its gradient
  int64_t* embedIds = nullptr;  // (T) the rows' token ids for the embeddings' backward (full)
  DecoderActs act;
  HeadBuffers head;
};

// The largest pass of a call's groups (anything with a PassLayout `layout` and `entries`). keys:
// every segment's (stagedOnly false) or only the segments whose keys are staged (not contiguous).
template <typename Group>
void sizeGroups(StepShape& s, const std::vector<Group>& groups, bool stagedOnly) {
  for (const Group& g : groups) {
    s.rows = std::max(s.rows, g.layout.rows());
    s.entries = std::max<int64_t>(s.entries, static_cast<int64_t>(g.entries.size()));
    for (const AttnSegment& seg : g.layout.segments) {
      if (!stagedOnly || !seg.contiguous()) s.keys = std::max(s.keys, seg.keyLen());
    }
  }
}

// What a call of this shape plans; the call carved from `arena` (re-created when too small).
StepMemory planCall(const LlavaConfig& cfg, const TrainView& v, const StepShape& s);
Result<TrainCall> createCall(std::unique_ptr<Arena>& arena, const LlavaConfig& cfg, const TrainView& v, const StepShape& s);

// c.proj.sel: the selected tower rows of the call's crops (keeping the tower's activations when it trains).
Status selectedRows(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, const ImageBatch& images);
// The policy's features, keeping the projector's activations for a backward, and when refSeparate
// the reference's from the frozen projector.
void projectFeatures(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, int64_t M, bool refSeparate);
// c.featPolicy from `w` with nothing kept (no backward follows).
void projectOnly(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, int64_t M, const ProjectorView& w);

// c.x (T, D) = the decoder's output for the layout's embeddings (image rows from features).
Status passForward(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, const PassLayout& layout, const float* features,
                   const LoraUse& lora);
// Backward of a pass from c.head.dlogp into whatever trains: LoRA; when full, the head's and every
// decoder weight and the embeddings; c.dfeat at the image rows when the projector trains.
void passBackward(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, const PassLayout& layout,
                  const std::vector<HeadEntry>& entries, const LoraUse& lora);
// After the last pass: from c.dfeat into the projector's gradients and, when the tower trains,
// through the row selection into the tower's.
Status imagesBackward(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, const ImageBatch& images);

}  // namespace stic::model
