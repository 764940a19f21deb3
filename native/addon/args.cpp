// The one argument reader of every binding (see args.h), and statusToError (worker.h).
#include "addon/args.h"

#include <cmath>
#include <cstring>

#include "addon/worker.h"

namespace stic::addon {

namespace {

constexpr double kMaxSafeInt = 9007199254740991.0;  // 2^53 - 1: the largest integer a double holds exactly

const char* rangeName(Num range) {
  switch (range) {
    case Num::Any: return "a number";
    case Num::Finite: return "a finite number";
    case Num::Positive: return "a positive number";
    case Num::NonNegative: return "a non-negative number";
    case Num::UnitOpen: return "a number in [0, 1)";
    case Num::Probability: return "a probability in [0, 1)";
  }
  return "a number";
}

bool inRange(double x, Num range) {
  switch (range) {
    case Num::Any: return true;
    case Num::Finite: return std::isfinite(x);
    case Num::Positive: return std::isfinite(x) && x > 0;
    case Num::NonNegative: return std::isfinite(x) && x >= 0;
    case Num::UnitOpen:
    case Num::Probability: return x >= 0 && x < 1;
  }
  return false;
}

const char* typedArrayName(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array: return "an Int8Array";
    case napi_uint8_array: return "a Uint8Array";
    case napi_uint8_clamped_array: return "a Uint8ClampedArray";
    case napi_int16_array: return "an Int16Array";
    case napi_uint16_array: return "a Uint16Array";
    case napi_int32_array: return "an Int32Array";
    case napi_uint32_array: return "a Uint32Array";
    case napi_float32_array: return "a Float32Array";
    case napi_float64_array: return "a Float64Array";
    case napi_bigint64_array: return "a BigInt64Array";
    case napi_biguint64_array: return "a BigUint64Array";
    default: return "a typed array";
  }
}

bool isTypedArrayOf(const Napi::Value& v, napi_typedarray_type type) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == type;
}

}  // namespace

const char* const kDTypeNames = "F32, BF16, F16, F64, I32, I64, U8";

Napi::Error statusToError(Napi::Env env, const Status& status) {
  Napi::Error e = Napi::Error::New(env, status.message());
  e.Set("code", Napi::String::New(env, std::string("STIC_") + codeName(status.code())));
  return e;
}

std::string describeValue(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsNumber()) return v.ToString().Utf8Value();  // as JS prints it: NaN, Infinity, 1000000000000
  if (v.IsBigInt()) return v.ToString().Utf8Value() + "n";
  if (v.IsString()) return "a string \"" + v.As<Napi::String>().Utf8Value() + "\"";
  if (v.IsArray()) return "an array";
  if (v.IsTypedArray()) return "a typed array";
  if (v.IsFunction()) return "a function";
  return "an object";
}

void throwExpected(Napi::Env env, const std::string& what, const std::string& where, const Napi::Value& got) {
  throw Napi::TypeError::New(env, "Expected " + what + " for " + where + " but received " + describeValue(got));
}

std::string choiceList(const std::vector<std::string>& choices) {
  std::string list;
  for (size_t i = 0; i < choices.size(); i++) list += (i ? (i + 1 == choices.size() ? " or " : ", ") : "") + ("'" + choices[i] + "'");
  return list;
}

bool isAbsent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

Napi::Object requireObject(const Napi::Value& v, const std::string& where) {
  if (!v.IsObject() || v.IsNull()) throwExpected(v.Env(), "an object", where, v);
  return v.As<Napi::Object>();
}

Napi::Array requireArray(const Napi::Value& v, const std::string& where, const std::string& what) {
  if (!v.IsArray()) throwExpected(v.Env(), what, where, v);
  return v.As<Napi::Array>();
}

std::string requireString(const Napi::Value& v, const std::string& where) {
  if (!v.IsString()) throwExpected(v.Env(), "a string", where, v);
  return v.As<Napi::String>().Utf8Value();
}

bool requireBool(const Napi::Value& v, const std::string& where) {
  if (!v.IsBoolean()) throwExpected(v.Env(), "a boolean", where, v);
  return v.As<Napi::Boolean>().Value();
}

double requireNumber(const Napi::Value& v, const std::string& where, Num range) {
  if (!v.IsNumber()) throwExpected(v.Env(), "a number", where, v);
  const double x = v.As<Napi::Number>().DoubleValue();
  if (!inRange(x, range)) throwExpected(v.Env(), rangeName(range), where, v);
  return x;
}

int64_t requireInt(const Napi::Value& v, const std::string& where) {
  if (v.IsBigInt()) {
    bool lossless = true;
    const int64_t x = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) throwExpected(v.Env(), "a 64-bit integer", where, v);
    return x;
  }
  if (!v.IsNumber()) throwExpected(v.Env(), "an integer", where, v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (std::floor(d) != d || std::fabs(d) > kMaxSafeInt) throwExpected(v.Env(), "an integer", where, v);
  return static_cast<int64_t>(d);
}

int64_t requireInt(const Napi::Value& v, const std::string& where, int64_t min) {
  const int64_t x = requireInt(v, where);
  if (x < min) {
    throwExpected(v.Env(), min == 1 ? "a positive integer" : min == 0 ? "a non-negative integer" : "an integer >= " + std::to_string(min), where, v);
  }
  return x;
}

uint64_t requireSeed(const Napi::Value& v, const std::string& where) {
  const char* what = "a non-negative integer below 2^53";
  if (!v.IsNumber()) throwExpected(v.Env(), what, where, v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || std::floor(d) != d || d > kMaxSafeInt) throwExpected(v.Env(), what, where, v);
  return static_cast<uint64_t>(d);
}

int requireChoice(const Napi::Value& v, const std::string& where, const std::vector<std::string>& choices) {
  for (size_t i = 0; v.IsString() && i < choices.size(); i++) {
    if (v.As<Napi::String>().Utf8Value() == choices[i]) return static_cast<int>(i);
  }
  throwExpected(v.Env(), choiceList(choices), where, v);
}

std::vector<int64_t> requireIntArray(const Napi::Value& v, const std::string& where) {
  Napi::Array a = requireArray(v, where, "an array of integers");
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out[i] = requireInt(a.Get(i), where + "[" + std::to_string(i) + "]");
  return out;
}

std::vector<std::string> requireStringArray(const Napi::Value& v, const std::string& where, const std::string& what,
                                            const std::string& itemWhat) {
  Napi::Array a = requireArray(v, where, what);
  std::vector<std::string> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value x = a.Get(i);
    if (!x.IsString()) throwExpected(v.Env(), itemWhat, where + "[" + std::to_string(i) + "]", x);
    out[i] = x.As<Napi::String>().Utf8Value();
  }
  return out;
}

DType requireDType(const Napi::Value& v, const std::string& where, const std::string& what) {
  const std::string expected = what.empty() ? std::string("one of ") + kDTypeNames : what;
  if (!v.IsString()) throwExpected(v.Env(), expected, where, v);
  auto d = parseDType(v.As<Napi::String>().Utf8Value());
  if (!d.isOk()) throwExpected(v.Env(), expected, where, v);
  return d.value();
}

Napi::TypedArray requireTypedArray(const Napi::Value& v, const std::string& where, napi_typedarray_type type) {
  if (!isTypedArrayOf(v, type)) throwExpected(v.Env(), typedArrayName(type), where, v);
  return v.As<Napi::TypedArray>();
}

Napi::TypedArray requireAnyTypedArray(const Napi::Value& v, const std::string& where) {
  if (!v.IsTypedArray()) throwExpected(v.Env(), "a typed array", where, v);
  return v.As<Napi::TypedArray>();
}

FloatView requireFloatView(const Napi::Value& v, const std::string& where) {
  const bool f64 = isTypedArrayOf(v, napi_float64_array);
  if (!f64 && !isTypedArrayOf(v, napi_float32_array)) throwExpected(v.Env(), "a Float32Array or Float64Array", where, v);
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  return {typedData<const char>(a), f64, static_cast<int64_t>(a.ElementLength())};
}

FloatView requireTensorValues(const Args& o, const char* method, const std::string& tensor, int64_t numel, const std::string& shape) {
  const FloatView data = requireFloatView(o.get("data"), o.name("data"));
  if (data.length != numel) {
    throw Napi::RangeError::New(o.env(), std::string(method) + ": " + o.name("data") + " (" + tensor + "): expected " +
                                                         std::to_string(numel) + " values (shape " + shape + ") but found " + std::to_string(data.length));
  }
  return data;
}

void FloatView::copyTo(float* dst) const {
  if (!f64) {
    if (length > 0) std::memcpy(dst, data, length * sizeof(float));
    return;
  }
  const double* s = static_cast<const double*>(data);
  for (int64_t k = 0; k < length; k++) dst[k] = static_cast<float>(s[k]);
}

std::vector<float> requireFloat32s(const Napi::Value& v, const std::string& where) {
  Napi::TypedArray a = requireTypedArray(v, where, napi_float32_array);
  const float* p = typedData<float>(a);
  return std::vector<float>(p, p + a.ElementLength());
}

std::vector<int64_t> requireTokenIds(const Napi::Value& v, const std::string& where) {
  if (isTypedArrayOf(v, napi_int32_array)) {
    Napi::TypedArray a = v.As<Napi::TypedArray>();
    const int32_t* p = typedData<int32_t>(a);
    return std::vector<int64_t>(p, p + a.ElementLength());
  }
  if (!v.IsArray()) throwExpected(v.Env(), "an Int32Array or an array of token ids", where, v);
  return requireIntArray(v, where);
}

std::vector<uint8_t> requireMask(const Napi::Value& v, const std::string& where) {
  if (isTypedArrayOf(v, napi_uint8_array)) {
    Napi::TypedArray a = v.As<Napi::TypedArray>();
    const uint8_t* p = typedData<uint8_t>(a);
    return std::vector<uint8_t>(p, p + a.ElementLength());
  }
  if (!v.IsArray()) throwExpected(v.Env(), "a Uint8Array or an array of 0/1 flags", where, v);
  std::vector<uint8_t> out;
  for (int64_t x : requireIntArray(v, where)) out.push_back(x != 0 ? 1 : 0);
  return out;
}

std::vector<double> requireNumbers(const Napi::Value& v, const std::string& where, size_t n) {
  const std::string what = "an array of " + std::to_string(n) + " numbers";
  if (!v.IsArray() || v.As<Napi::Array>().Length() != n) throwExpected(v.Env(), what, where, v);
  Napi::Array a = v.As<Napi::Array>();
  std::vector<double> out(n);
  for (uint32_t i = 0; i < n; i++) out[i] = requireNumber(a.Get(i), where + "[" + std::to_string(i) + "]");
  return out;
}

Args::Args(const Napi::Value& v, std::string where) : obj_(requireObject(v, where)), where_(std::move(where)) {}

void Args::fail(const char* key, const std::string& what) const { throwExpected(env(), what, name(key), get(key)); }

}  // namespace stic::addon
