// Tensors of a parameter store to and from JS (see param_args.h).
#include "addon/param_args.h"

#include <cstring>
#include <iterator>

#include "addon/args.h"

namespace stic::addon {

model::ParamKind requireParamKind(const Napi::Value& v, const std::string& where) {
  static const std::vector<std::string> kinds(std::begin(model::kParamKindNames), std::end(model::kParamKindNames));
  return static_cast<model::ParamKind>(requireChoice(v, where, kinds));
}

const model::ParamTensor& TensorTable::require(Napi::Env env, const std::string& name, const std::string& where) const {
  const model::ParamTensor* t = find(name);
  if (!t) throw Napi::Error::New(env, where + ": " + unknown(name));
  return *t;
}

std::string TensorTable::unknown(const std::string& name) const {
  return missing + " \"" + name + "\" (expected a name from tensorInfo(), e.g. " + store.tensors().front().name + ")";
}

std::vector<const model::ParamTensor*> requireTensorList(const TensorTable& table, const Napi::Value& names,
                                                         const std::string& method) {
  std::vector<const model::ParamTensor*> which;
  if (isAbsent(names)) {
    for (const model::ParamTensor& t : table.store.tensors()) which.push_back(&t);
    return which;
  }
  const std::vector<std::string> list = requireStringArray(names, "names", "an array of tensor names", "a tensor name");
  for (size_t i = 0; i < list.size(); i++) {
    which.push_back(&table.require(names.Env(), list[i], method + ": names[" + std::to_string(i) + "]"));
  }
  return which;
}

std::vector<TensorWrite> requireTensorWrites(const TensorTable& table, const Napi::Value& tensors, const std::string& method) {
  Napi::Array a = requireArray(tensors, "tensors", "an array of {name, data} tensors");
  std::vector<TensorWrite> writes;
  for (uint32_t i = 0; i < a.Length(); i++) {
    const Args o(a.Get(i), "tensors[" + std::to_string(i) + "]");
    const model::ParamTensor& t = table.require(o.env(), o.string("name"), method + ": " + o.where() + ".name");
    const FloatView data = requireTensorValues(o, method.c_str(), t.name, t.numel, shapeString(t.shape));
    std::vector<float> copy(t.numel);
    data.copyTo(copy.data());
    writes.push_back({&t, std::move(copy)});
  }
  return writes;
}

std::vector<std::vector<float>> readKind(const model::ParamStore& store, model::ParamKind kind,
                                         const std::vector<const model::ParamTensor*>& which) {
  std::vector<std::vector<float>> out;
  out.reserve(which.size());
  for (const model::ParamTensor* t : which) {
    const float* d = store.data(kind, *t);
    out.emplace_back(d, d + t->numel);
  }
  return out;
}

void writeKind(const model::ParamStore& store, model::ParamKind kind, const std::vector<TensorWrite>& writes) {
  for (const TensorWrite& w : writes) {
    if (w.tensor->numel > 0) std::memcpy(store.data(kind, *w.tensor), w.data.data(), w.tensor->numel * sizeof(float));
  }
}

Status readSources(const TensorTable& table, model::ParamKind kind, const std::vector<io::TensorSource>& sources) {
  std::vector<Tensor> views;
  views.reserve(sources.size());
  for (const io::TensorSource& s : sources) {
    const model::ParamTensor* t = table.find(s.name);
    if (!t) return error(Code::NotFound, "tensor ", s.name, " in ", s.file, ": ", table.unknown(s.name));
    if (s.shape != t->shape) {
      return error(Code::InvalidArgument, "tensor ", s.name, " in ", s.file, ": expected shape ", shapeString(t->shape),
                   " but the file has ", shapeString(s.shape));
    }
    auto v = table.store.view(kind, *t);
    if (!v.isOk()) return v.status();
    views.push_back(v.take());
  }
  std::vector<Tensor*> dsts;
  for (Tensor& v : views) dsts.push_back(&v);
  return io::readTensors(sources, dsts);
}

Napi::Value float32Arrays(Napi::Env env, std::vector<std::vector<float>>& data) {
  Napi::Array a = Napi::Array::New(env, data.size());
  for (size_t i = 0; i < data.size(); i++) {
    Napi::Float32Array f = Napi::Float32Array::New(env, data[i].size());
    if (!data[i].empty()) std::memcpy(f.Data(), data[i].data(), data[i].size() * sizeof(float));
    a.Set(static_cast<uint32_t>(i), f);
  }
  return a;
}

}  // namespace stic::addon
