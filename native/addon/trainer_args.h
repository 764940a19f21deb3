// The trainer binding's argument parsing (JS -> plain C++ structs, on the JS thread), for
// native/addon/trainer_binding.cpp's two classes (LlavaTrainer: adapters; Pretrainer: full); written over the one argument reader (args.h), whose messages
// these are ("Expected <what> for <where> but received <value>"), or naming the pair
// ("pairs[2]: ..."). Every hyperparameter is required (the TypeScript option tables hold them).
#pragma once
#include <napi.h>

#include <optional>
#include <vector>

#include "model/trainer.h"

namespace stic::addon::trainer_args {

// pairLogprobs' options: which model scores, how the rejected log-prob is gathered, and (for the
// reference) which projector it uses.
struct PairLogprobsOptions {
  bool policy = false;
  train::GatherMode rejectedMode = train::GatherMode::Label;
  bool trainedProjector = false;
};

model::LoraSpec parseLoraSpec(const Napi::Value& value);  // spec.lora
// pairs[i]; refs (when given) receives each pair's reference log-probs or nullopt.
std::vector<model::PairInput> parsePairs(const Napi::Value& value, std::vector<std::optional<model::RefLogps>>* refs);
// items[i] {ids, mask, images} of an SFT call, the trainer's and the pretrainer's (checked by
// validateSftItems, train_items.h).
std::vector<model::SftItem> parseSftItems(const Napi::Value& value);
PairLogprobsOptions parsePairLogprobsOptions(const Napi::Value& value);
model::DpoStepOptions parseDpoOptions(const Napi::Value& value);
model::SftStepOptions parseSftOptions(const Napi::Value& value);
// memoryPlan's shape: {featureRows, rows, keys, entries, refFeatures?} of a training step.
model::StepShape parseStepShape(const Napi::Value& value);
// The optimizer step of a LoRA trainer: AdamW groups lora and projector (train_params.h), nothing frozen.
model::OptimizerSpec parseOptimizerOptions(const Napi::Value& value, bool projectorRequired);

// The pretrainer's: step/loss options (an item may have no target), and the optimizer's one lr
// with decay on matrices only, and frozen tensors.
model::SftStepOptions parsePretrainStepOptions(const Napi::Value& value, bool backward);
model::OptimizerSpec parsePretrainOptimizer(const Napi::Value& value);

}  // namespace stic::addon::trainer_args
