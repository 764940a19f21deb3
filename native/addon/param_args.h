// The tensors of a parameter store (model/param_store.h) to and from JS, for the binding of every
// trainer (trainer_binding.cpp: LlavaTrainer and Pretrainer): getTensors, setTensors and readTensors name
// a kind ('param' | 'grad' | 'exp_avg' | 'exp_avg_sq') and tensors by name, and this file maps both
// to the store's data. An unknown name is refused in one form, an Error:
//   "<where>: <missing> \"<name>\" (expected a name from tensorInfo(), e.g. <the first tensor>)"
// Names and values are read on the JS thread; the copies in and out run on the worker, and so does
// readTensors' lookup of a checkpoint's names, which refuses through the Promise in the same form
// ("tensor <name> in <file>: <missing> ...").
#pragma once
#include <napi.h>

#include <functional>
#include <string>
#include <vector>

#include "io/safetensors_read.h"
#include "model/param_store.h"

namespace stic::addon {

// A kind argument, refused as "'param', 'grad', 'exp_avg' or 'exp_avg_sq'" for `where`.
model::ParamKind requireParamKind(const Napi::Value& v, const std::string& where = "kind");

// The tensors one binding names: its store, how it finds a name (the LoRA trainer also takes PEFT's
// names) and how its refusal says a name is unknown ("no trainable tensor is named").
struct TensorTable {
  const model::ParamStore& store;
  std::function<const model::ParamTensor*(const std::string&)> find;
  std::string missing;

  const model::ParamTensor& require(Napi::Env env, const std::string& name, const std::string& where) const;
  // "<missing> \"<name>\" (expected a name from tensorInfo(), e.g. <the first tensor>)"
  std::string unknown(const std::string& name) const;
};

// getTensors(kind, names?): the tensors `names` lists, in its order (absent: every tensor, in table order).
std::vector<const model::ParamTensor*> requireTensorList(const TensorTable& table, const Napi::Value& names,
                                                         const std::string& method);

// setTensors(kind, tensors): each {name, data} of the right length, copied (the worker reads no JS memory).
struct TensorWrite {
  const model::ParamTensor* tensor;
  std::vector<float> data;  // (numel)
};
std::vector<TensorWrite> requireTensorWrites(const TensorTable& table, const Napi::Value& tensors, const std::string& method);

// On the worker: copies of each tensor's `kind` data; the writes into `kind`.
std::vector<std::vector<float>> readKind(const model::ParamStore& store, model::ParamKind kind,
                                         const std::vector<const model::ParamTensor*>& which);
void writeKind(const model::ParamStore& store, model::ParamKind kind, const std::vector<TensorWrite>& writes);

// readTensors(kind, sources), on the worker: each source names a tensor of the table with its
// shape (refused otherwise, naming the tensor and the file); floating dtypes are converted.
Status readSources(const TensorTable& table, model::ParamKind kind, const std::vector<io::TensorSource>& sources);

// Back on the JS thread: one Float32Array per tensor.
Napi::Value float32Arrays(Napi::Env env, std::vector<std::vector<float>>& data);

}  // namespace stic::addon
