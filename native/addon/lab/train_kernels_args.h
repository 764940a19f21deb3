// Shared by the two halves of the trainKernels binding (train_kernels_binding.cpp: op-level
// backward kernels; train_kernels_train_binding.cpp: LoRA, fused head, losses, AdamW): the lab's
// argument reader (lab_args.h, over addon/args.h) under the "trainKernels.<op>" name.
#pragma once
#include <napi.h>

#include <string>

#include "addon/lab/lab_args.h"

namespace stic::addon::train_binding {

using lab::kv;
using lab::span;

class Args : public lab::Args {
 public:
  Args(const Napi::CallbackInfo& info, const std::string& op) : lab::Args(info, "trainKernels." + op) {}
};

// Adds the LoRA, fused-head, loss and optimizer functions to the trainKernels object.
void addTrainStepFunctions(Napi::Env env, Napi::Object& k);

}  // namespace stic::addon::train_binding
