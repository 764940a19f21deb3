// The one argument reader of the kernel lab's bindings (kernels.*, trainKernels.*, cuda.*): the
// options object of one call with its eager checks. Every failure throws a TypeError shaped like
// "Expected <what> for <binding>.<op>.<key> but received <value>", or a RangeError naming the array,
// its length and the sizes that needed more. An absent key is undefined or null. Every typed array
// read is remembered so the call keeps it alive while its kernel runs.
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "addon/convert.h"
#include "addon/worker.h"

namespace stic::lab {

inline std::string kv(const char* k, int64_t v) { return std::string(k) + "=" + std::to_string(v); }
// Elements a [rows, cols] matrix with row stride ld spans: the last row needs only `cols`.
inline int64_t span(int64_t rows, int64_t cols, int64_t ld) { return rows <= 0 ? 0 : (rows - 1) * ld + cols; }

class Args {
 public:
  // `where` names the call in messages: "<binding>.<op>", e.g. "kernels.sgemm".
  Args(const Napi::CallbackInfo& info, std::string where) : where_(std::move(where)) {
    obj_ = addon::requireObject(info[0], where_ + " options");
  }
  Napi::Env env() const { return obj_.Env(); }
  std::string name(const char* key) const { return where_ + "." + key; }
  bool has(const char* key) const { return !obj_.Get(key).IsUndefined() && !obj_.Get(key).IsNull(); }
  Napi::Value get(const char* key) const { return obj_.Get(key); }
  [[noreturn]] void range(const std::string& msg) const { throw Napi::RangeError::New(env(), where_ + ": " + msg); }

  // An integer size >= min (1 unless told).
  int64_t size(const char* key, int64_t min = 1) {
    Napi::Value v = obj_.Get(key);
    const int64_t x = addon::requireIntValue(v, name(key));
    if (x < min) addon::throwExpected(env(), min == 0 ? "a non-negative integer" : "a positive integer", name(key), v);
    return x;
  }
  int64_t sizeOr(const char* key, int64_t dflt, int64_t min) { return has(key) ? size(key, min) : dflt; }
  // A leading dimension (row stride) of at least `rowLen`, `rowLen` when absent.
  int64_t ld(const char* key, int64_t rowLen, const char* of) {
    if (!has(key)) return rowLen;
    Napi::Value v = obj_.Get(key);
    const int64_t x = addon::requireIntValue(v, name(key));
    if (x < rowLen) addon::throwExpected(env(), "an integer >= " + std::to_string(rowLen) + " (the row length of " + of + ")", name(key), v);
    return x;
  }
  bool flag(const char* key, bool dflt = false) {
    Napi::Value v = obj_.Get(key);
    if (v.IsUndefined()) return dflt;
    if (!v.IsBoolean()) addon::throwExpected(env(), "a boolean", name(key), v);
    return v.As<Napi::Boolean>().Value();
  }
  double number(const char* key) { return addon::requireNumber(obj_, key, where_); }
  double numberOr(const char* key, double dflt) { return has(key) ? number(key) : dflt; }
  // The index of a string among `choices`; the first when absent.
  int choice(const char* key, const std::vector<std::string>& choices) {
    if (!has(key)) return 0;
    Napi::Value v = obj_.Get(key);
    for (size_t i = 0; v.IsString() && i < choices.size(); i++) {
      if (v.As<Napi::String>().Utf8Value() == choices[i]) return static_cast<int>(i);
    }
    std::string list;
    for (size_t i = 0; i < choices.size(); i++) list += (i ? (i + 1 == choices.size() ? " or '" : ", '") : "'") + choices[i] + "'";
    addon::throwExpected(env(), list, name(key), v);
  }

  // A typed array of `type` with at least `need` elements (`sizes` says what made `need`).
  template <typename T>
  T* typed(Napi::Value v, const std::string& label, napi_typedarray_type type, const char* what, int64_t need, const std::string& sizes) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) addon::throwExpected(env(), what, label, v);
    auto a = v.As<Napi::TypedArray>();
    const int64_t have = static_cast<int64_t>(a.ElementLength());
    if (have < need) {
      throw Napi::RangeError::New(env(), label + " holds " + std::to_string(have) + " elements but " + sizes + " need " + std::to_string(need));
    }
    keep_.push_back(v);
    return reinterpret_cast<T*>(static_cast<char*>(a.ArrayBuffer().Data()) + a.ByteOffset());
  }
  float* f32(const char* key, int64_t need, const std::string& sizes) { return f32At(obj_.Get(key), name(key), need, sizes); }
  float* f32OrNull(const char* key, int64_t need, const std::string& sizes) { return has(key) ? f32(key, need, sizes) : nullptr; }
  float* f32At(Napi::Value v, const std::string& label, int64_t need, const std::string& sizes) {
    return typed<float>(v, label, napi_float32_array, "a Float32Array", need, sizes);
  }
  // Any Float32Array (its length sets the size): arrays of parameters, gradients.
  float* f32Any(Napi::Value v, const std::string& label, int64_t* length) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) addon::throwExpected(env(), "a Float32Array", label, v);
    *length = static_cast<int64_t>(v.As<Napi::Float32Array>().ElementLength());
    return f32At(v, label, 0, "");
  }
  int32_t* i32(const char* key, int64_t need, const std::string& sizes) {
    return typed<int32_t>(obj_.Get(key), name(key), napi_int32_array, "an Int32Array", need, sizes);
  }
  // A BigInt64Array of at least `need` elements; when bound > 0, each below bound (and >= 0 unless
  // negativeOk: a negative target marks an ignored row).
  int64_t* i64(const char* key, int64_t need, const std::string& sizes, int64_t bound = 0, const char* boundName = "",
               bool negativeOk = false) {
    int64_t* data = typed<int64_t>(obj_.Get(key), name(key), napi_bigint64_array, "a BigInt64Array", need, sizes);
    for (int64_t i = 0; bound > 0 && i < need; i++) {
      if (data[i] >= bound || (data[i] < 0 && !negativeOk)) {
        throw Napi::RangeError::New(env(), name(key) + "[" + std::to_string(i) + "] is " + std::to_string(data[i]) + " but must be " +
                                               (negativeOk ? "negative (ignored) or " : "") + "in [0, " + std::to_string(bound) + ") (" +
                                               boundName + ")");
      }
    }
    return data;
  }
  Napi::Object object(const char* key) { return addon::requireObject(obj_.Get(key), name(key)); }
  Napi::Array array(const char* key) {
    Napi::Value v = obj_.Get(key);
    if (!v.IsArray()) addon::throwExpected(env(), "an array", name(key), v);
    keep_.push_back(v);
    return v.As<Napi::Array>();
  }
  void keep(Napi::Value v) { keep_.push_back(v); }

  // Queues `work` on the compute thread (CPU kernels); resolves to toJs(result).
  template <typename Out>
  Napi::Promise run(std::function<Status(Out&)> work, std::function<Napi::Value(Napi::Env, Out&)> toJs) {
    return addon::PromiseWorker<Out>::queue(env(), std::move(work), std::move(toJs), keep_);
  }
  // The same for work with no result: resolves to undefined.
  Napi::Promise run(std::function<void()> work) {
    return run<int>([work](int&) { work(); return Status::ok(); }, [](Napi::Env e, int&) { return e.Undefined(); });
  }

 protected:
  const std::string& where() const { return where_; }
  const std::vector<Napi::Value>& kept() const { return keep_; }

 private:
  std::string where_;
  Napi::Object obj_;
  std::vector<Napi::Value> keep_;
};

}  // namespace stic::lab
