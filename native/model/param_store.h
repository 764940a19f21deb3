// The one store of trainable tensors, for every trainer: the LoRA trainer's adapters and its
// projector copy (train_params.h), the full-parameter trainer's whole model (full_params.h). Each tensor has
// a name, a shape and an AdamW group, and lives at one offset of four flat buffers: parameters
// (Lifetime Weights), gradients (Gradients), exp_avg and exp_avg_sq (OptimizerState), so its
// gradient and moments are found by offset and one AdamW slot covers it in all four.
// Layout: a tensor starts at an arena-aligned offset, unless its spec says `fused`: then it follows
// the tensor before it (in storage order) with no gap, so a fused matrix (q|k|v, gate|up) is one
// contiguous block in every buffer and one GEMM. Storage order may differ from table order (the
// order tensors() lists, checkpoints save and the engine loads).
// Frozen tensors: slots(frozen) leaves the named tensors out of a step (no update, no share of the
// gradient norm); their gradients are still zeroed with the rest. optimizerStep below is the one
// AdamW step every trainer takes over its store.
// Legend: n elements of a tensor, Ntot elements of a flat buffer.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/arena.h"
#include "core/ops_train.h"  // ParamSlot

namespace stic::model {

enum class ParamKind : int { Param = 0, Grad, ExpAvg, ExpAvgSq };
constexpr int kParamKinds = 4;
// The kinds as the bindings name them (addon/param_args.h), in ParamKind order.
constexpr const char* kParamKindNames[kParamKinds] = {"param", "grad", "exp_avg", "exp_avg_sq"};

// What to store: one tensor of the table.
struct ParamSpec {
  std::string name;
  Shape shape;
  int64_t group = 0;   // the AdamW group (its lr and weight decay)
  bool fused = false;  // continues the tensor before it in storage order, with no gap
};

// One stored tensor: its range [offset, offset + numel) of every flat buffer, and pointers to it.
struct ParamTensor {
  std::string name;
  Shape shape;
  int64_t group = 0;
  int64_t offset = 0;
  int64_t numel = 0;
  float* param = nullptr;  // (shape) each
  float* grad = nullptr;
  float* m = nullptr;  // exp_avg
  float* v = nullptr;  // exp_avg_sq
};

class ParamStore {
 public:
  // Allocates the four buffers on `backend`, all zero (the owner initialises the parameters).
  // `table` in table order; `storage` the table indices in layout order (empty: table order).
  // Names must be unique.
  static Result<std::unique_ptr<ParamStore>> create(Backend& backend, std::vector<ParamSpec> table,
                                                    const std::vector<size_t>& storage = {});

  const std::vector<ParamTensor>& tensors() const { return tensors_; }
  const ParamTensor* find(const std::string& name) const;  // null when unknown

  float* data(ParamKind kind) const { return flat_[static_cast<int>(kind)].data<float>(); }  // (Ntot)
  float* data(ParamKind kind, const ParamTensor& t) const { return data(kind) + t.offset; }
  // A tensor view of one stored tensor (for io::readTensors).
  Result<Tensor> view(ParamKind kind, const ParamTensor& t) const;
  // One AdamW slot per tensor in table order, leaving out the tensors named in `frozen` (refused:
  // a name that is not a tensor of the store).
  Result<std::vector<train::ParamSlot>> slots(const std::vector<std::string>& frozen = {}) const;

  // Every gradient = 0, through the backend's ops table.
  void zeroGrad();
  int64_t numel() const { return numel_; }  // Ntot, padding included
  size_t parameterBytes() const { return flat_[0].bytes(); }
  size_t gradientBytes() const { return flat_[1].bytes(); }
  size_t optimizerBytes() const { return flat_[2].bytes() + flat_[3].bytes(); }

  int64_t step = 0;  // AdamW updates done
  Backend& backend() const { return backend_; }  // where the four buffers live
  const Ops& ops() const { return backend_.ops(); }

 private:
  explicit ParamStore(Backend& backend) : backend_(backend) {}
  Status layOut(std::vector<ParamSpec> table, const std::vector<size_t>& storage);
  Status allocate();

  Backend& backend_;
  std::vector<ParamTensor> tensors_;
  std::map<std::string, size_t> index_;
  int64_t numel_ = 0;
  std::unique_ptr<Arena> arenas_[3];  // Weights, Gradients, OptimizerState (exp_avg and exp_avg_sq)
  Tensor flat_[kParamKinds];          // (Ntot) each, in ParamKind order
};

// One optimizer step of any trainer: the trainer's spec says what trains (its groups, by
// ParamTensor::group, and the tensors it leaves frozen).
struct OptimizerSpec {
  std::vector<train::ParamGroup> groups;  // indexed by ParamTensor::group
  train::AdamWHyper hyper;
  double maxGradNorm = 0;  // <= 0: no clipping
  std::vector<std::string> frozen;  // tensor names left out of the step
};

struct OptimizerResult {
  double gradNorm = 0;  // of the unfrozen tensors, before clipping
  int64_t step = 0;
  bool skipped = false;  // a non-finite gradient norm: no update, the step count unchanged
};

// Clips (or measures) the gradient norm of the unfrozen tensors, AdamW-updates them unless the norm
// is not finite, counts the step, and zeroes every gradient; on the store's backend.
Status optimizerStep(ParamStore& store, const OptimizerSpec& spec, OptimizerResult& out);

}  // namespace stic::model
