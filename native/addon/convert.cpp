#include "addon/convert.h"

#include <cmath>
#include <sstream>

#include "addon/worker.h"

namespace stic::addon {

Napi::Error statusToError(Napi::Env env, const Status& status) {
  Napi::Error e = Napi::Error::New(env, status.message());
  e.Set("code", Napi::String::New(env, std::string("STIC_") + codeName(status.code())));
  return e;
}

std::string describeValue(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsNumber()) {
    std::ostringstream os;
    os << v.As<Napi::Number>().DoubleValue();
    return os.str();
  }
  if (v.IsString()) return "a string \"" + v.As<Napi::String>().Utf8Value() + "\"";
  if (v.IsArray()) return "an array";
  if (v.IsTypedArray()) return "a typed array";
  if (v.IsFunction()) return "a function";
  return "an object";
}

void throwExpected(Napi::Env env, const std::string& what, const std::string& name, const Napi::Value& got) {
  throw Napi::TypeError::New(env, "Expected " + what + " for " + name + " but received " + describeValue(got));
}

Napi::Object requireObject(const Napi::Value& v, const std::string& name) {
  if (!v.IsObject()) throwExpected(v.Env(), "an object", name, v);
  return v.As<Napi::Object>();
}

std::string requireString(const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throwExpected(o.Env(), "a string", where + "." + key, v);
  return v.As<Napi::String>().Utf8Value();
}

double requireNumber(const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throwExpected(o.Env(), "a number", where + "." + key, v);
  return v.As<Napi::Number>().DoubleValue();
}

int64_t requireIntValue(const Napi::Value& v, const std::string& name) {
  if (v.IsBigInt()) {
    bool lossless = true;
    int64_t x = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) throwExpected(v.Env(), "a 64-bit integer", name, v);
    return x;
  }
  if (!v.IsNumber()) throwExpected(v.Env(), "an integer", name, v);
  double d = v.As<Napi::Number>().DoubleValue();
  if (std::floor(d) != d || std::fabs(d) > 9007199254740991.0) throwExpected(v.Env(), "an integer", name, v);
  return static_cast<int64_t>(d);
}

uint64_t requireSeedValue(const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber()) throwExpected(v.Env(), "a non-negative integer below 2^53", name, v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || std::floor(d) != d || d > 9007199254740991.0) {
    throwExpected(v.Env(), "a non-negative integer below 2^53", name, v);
  }
  return static_cast<uint64_t>(d);
}

int64_t requireInt(const Napi::Object& o, const char* key, const std::string& where) {
  return requireIntValue(o.Get(key), where + "." + key);
}

std::vector<int64_t> requireIntArray(const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = o.Get(key);
  std::string name = where + "." + key;
  if (!v.IsArray()) throwExpected(o.Env(), "an array of integers", name, v);
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out[i] = requireIntValue(a.Get(i), name + "[" + std::to_string(i) + "]");
  return out;
}

DType requireDType(const Napi::Object& o, const char* key, const std::string& where) {
  std::string s = requireString(o, key, where);
  auto d = parseDType(s);
  if (!d.isOk()) throwExpected(o.Env(), "one of F32, BF16, F16, F64, I32, I64, U8", where + "." + key, o.Get(key));
  return d.value();
}

std::vector<std::string> requireTensorNames(const Napi::Value& v) {
  if (!v.IsArray()) throwExpected(v.Env(), "an array of tensor names", "names", v);
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    if (!a.Get(i).IsString()) throwExpected(v.Env(), "a tensor name", "names[" + std::to_string(i) + "]", a.Get(i));
    out[i] = a.Get(i).As<Napi::String>().Utf8Value();
  }
  return out;
}

Napi::ArrayBuffer tensorToArrayBuffer(Napi::Env env, const Tensor& t) {
  if (t.device() != Device::Cpu) throw Napi::Error::New(env, "internal: tensorToArrayBuffer needs a cpu tensor");
  // The ArrayBuffer keeps the tensor (and so its buffer) alive until V8 collects it.
  auto* holder = new Tensor(t);
  return Napi::ArrayBuffer::New(env, t.raw(), t.bytes(), [](Napi::Env, void*, Tensor* h) { delete h; }, holder);
}

}  // namespace stic::addon
