// readTensorData(entry, outDtype?): Promise<ArrayBuffer> and readTensorsData(entries, outDtype?):
// Promise<ArrayBuffer[]> — tensor bytes out of safetensors files (header parsed in
// lib/model/safetensors_header.ts) into native CPU tensors, returned as external ArrayBuffers that
// own those tensors. For tests, tools and small tensors; the model loader calls stic::io directly.
#include <napi.h>

#include <string>
#include <vector>

#include "addon/convert.h"
#include "addon/registry.h"
#include "addon/worker.h"
#include "io/safetensors_read.h"

namespace stic::addon {
namespace {

uint64_t requireNonNegative(const Napi::Object& o, const char* key, const std::string& where) {
  int64_t v = requireInt(o, key, where);
  if (v < 0) throwExpected(o.Env(), "a non-negative integer", where + "." + key, o.Get(key));
  return static_cast<uint64_t>(v);
}

// A TensorEntry of lib/model/safetensors_header.ts -> the plain struct stic::io reads.
io::TensorSource toSource(const Napi::Value& v, const std::string& where) {
  Napi::Object o = requireObject(v, where);
  io::TensorSource s;
  s.name = requireString(o, "name", where);
  s.file = requireString(o, "file", where);
  s.dtype = requireDType(o, "dtype", where);
  s.shape = requireIntArray(o, "shape", where);
  for (size_t i = 0; i < s.shape.size(); ++i) {
    if (s.shape[i] < 0) {
      throwExpected(o.Env(), "a non-negative integer", where + ".shape[" + std::to_string(i) + "]",
                    o.Get("shape").As<Napi::Array>().Get(static_cast<uint32_t>(i)));
    }
  }
  s.offset = requireNonNegative(o, "offset", where);
  s.nbytes = requireNonNegative(o, "nbytes", where);
  return s;
}

// Absent or undefined: keep each tensor's own dtype.
bool optionalDType(const Napi::Value& v, DType* out) {
  if (v.IsUndefined()) return false;
  const char* expected = "a dtype name (F32, BF16, F16, F64, I32, I64, U8) or undefined";
  if (!v.IsString()) throwExpected(v.Env(), expected, "outDtype", v);
  auto d = parseDType(v.As<Napi::String>().Utf8Value());
  if (!d.isOk()) throwExpected(v.Env(), expected, "outDtype", v);
  *out = d.value();
  return true;
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
  if (!info[0].IsArray()) throwExpected(env, "an array of tensor entries", "entries", info[0]);
  Napi::Array arr = info[0].As<Napi::Array>();
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
