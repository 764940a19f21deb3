// readTensorData(entry, outDtype?): Promise<ArrayBuffer> and readTensorsData(entries, outDtype?):
// Promise<ArrayBuffer[]> — tensor bytes out of safetensors files (header parsed in
// lib/model/safetensors_header.ts) into native CPU tensors, returned as external ArrayBuffers that
// own those tensors. For tests, tools and small tensors; the model loader calls stic::io directly.
#include <napi.h>

#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/registry.h"
#include "addon/worker.h"
#include "io/safetensors_read.h"

namespace stic::addon {
namespace {

// A TensorEntry of lib/model/safetensors_header.ts -> the plain struct stic::io reads.
io::TensorSource toSource(const Napi::Value& v, const std::string& where) {
  const Args o(v, where);
  io::TensorSource s;
  s.name = o.string("name");
  s.file = o.string("file");
  s.dtype = o.dtype("dtype");
  s.shape = o.intArray("shape");
  for (size_t i = 0; i < s.shape.size(); ++i) {
    const uint32_t k = static_cast<uint32_t>(i);
    if (s.shape[i] < 0) throwExpected(o.env(), "a non-negative integer", o.name("shape") + "[" + std::to_string(i) + "]", o.get("shape").As<Napi::Array>().Get(k));
  }
  s.offset = static_cast<uint64_t>(o.size("offset", 0));
  s.nbytes = static_cast<uint64_t>(o.size("nbytes", 0));
  return s;
}

// Absent: keep each tensor's own dtype.
bool optionalDType(const Napi::Value& v, DType* out) {
  if (isAbsent(v)) return false;
  *out = requireDType(v, "outDtype", std::string("a dtype name (") + kDTypeNames + ") or undefined");
  return true;
}

// A JS ArrayBuffer that owns a native Tensor's bytes (external: not copied into the JS heap).
Napi::ArrayBuffer tensorToArrayBuffer(Napi::Env env, const Tensor& t) {
  if (t.device() != Device::Cpu) throw Napi::Error::New(env, "internal: tensorToArrayBuffer needs a cpu tensor");
  // The ArrayBuffer keeps the tensor (and so its buffer) alive until V8 collects it.
  auto* holder = new Tensor(t);
  return Napi::ArrayBuffer::New(env, t.raw(), t.bytes(), [](Napi::Env, void*, Tensor* h) { delete h; }, holder);
}

Result<Tensor> allocFor(const io::TensorSource& s, bool convert, DType outType) {
  return Tensor::empty(cpuBackend(), convert ? outType : s.dtype, s.shape, s.name.c_str());
}

Napi::Value readTensorData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  io::TensorSource src = toSource(info[0], "entry");
  DType outType = src.dtype;
  bool convert = optionalDType(info[1], &outType);
  return PromiseWorker<Tensor>::queue(
      env,
      [src, convert, outType](Tensor& out) {
        auto t = allocFor(src, convert, outType);
        if (!t.isOk()) return t.status();
        out = t.take();
        return io::readTensor(src, out);
      },
      [](Napi::Env e, Tensor& out) -> Napi::Value { return tensorToArrayBuffer(e, out); });
}

Napi::Value readTensorsData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array arr = requireArray(info[0], "entries", "an array of tensor entries");
  std::vector<io::TensorSource> srcs;
  srcs.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) srcs.push_back(toSource(arr.Get(i), "entries[" + std::to_string(i) + "]"));
  DType outType = DType::F32;
  bool convert = optionalDType(info[1], &outType);
  return PromiseWorker<std::vector<Tensor>>::queue(
      env,
      [srcs = std::move(srcs), convert, outType](std::vector<Tensor>& out) {
        out.reserve(srcs.size());
        std::vector<Tensor*> dsts;
        for (const auto& s : srcs) {
          auto t = allocFor(s, convert, outType);
          if (!t.isOk()) return t.status();
          out.push_back(t.take());
        }
        for (auto& t : out) dsts.push_back(&t);
        return io::readTensors(srcs, dsts);
      },
      [](Napi::Env e, std::vector<Tensor>& out) -> Napi::Value {
        Napi::Array result = Napi::Array::New(e, out.size());
        for (uint32_t i = 0; i < out.size(); ++i) result.Set(i, tensorToArrayBuffer(e, out[i]));
        return result;
      });
}

void initSafetensorsExports(Napi::Env env, Napi::Object exports) {
  exports.Set("readTensorData", Napi::Function::New(env, readTensorData, "readTensorData"));
  exports.Set("readTensorsData", Napi::Function::New(env, readTensorsData, "readTensorsData"));
}

}  // namespace

STIC_REGISTER_EXPORTS(safetensors, initSafetensorsExports);

}  // namespace stic::addon
