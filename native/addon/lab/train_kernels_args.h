// Shared by the two halves of the trainKernels binding (train_kernels_binding.cpp: op-level
// backward kernels; train_kernels_train_binding.cpp: LoRA, fused head, losses, AdamW): the options
// object of one call with its eager checks. Every typed array read is remembered so the worker
// keeps it alive while the kernel runs. Messages: "trainKernels.<op>.<key> ...".
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "addon/convert.h"
#include "addon/worker.h"

namespace stic::addon::train_binding {

inline std::string kv(const char* k, int64_t v) { return std::string(k) + "=" + std::to_string(v); }
inline int64_t span(int64_t rows, int64_t cols, int64_t ld) { return (rows - 1) * ld + cols; }

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const std::string& op) : where_("trainKernels." + op) {
    obj_ = requireObject(info[0], where_ + " options");
  }
  Napi::Env env() const { return obj_.Env(); }
  std::string name(const char* key) const { return where_ + "." + key; }
  bool has(const char* key) const { return !obj_.Get(key).IsUndefined() && !obj_.Get(key).IsNull(); }
  [[noreturn]] void range(const std::string& msg) const { throw Napi::RangeError::New(env(), where_ + ": " + msg); }

  int64_t size(const char* key, int64_t min = 1) {
    Napi::Value v = obj_.Get(key);
    int64_t x = requireIntValue(v, name(key));
    if (x < min) throwExpected(env(), min == 0 ? "a non-negative integer" : "a positive integer", name(key), v);
    return x;
  }
  int64_t sizeOr(const char* key, int64_t dflt, int64_t min) { return has(key) ? size(key, min) : dflt; }
  int64_t ld(const char* key, int64_t rowLen, const char* of) {
    if (!has(key)) return rowLen;
    Napi::Value v = obj_.Get(key);
    int64_t x = requireIntValue(v, name(key));
    if (x < rowLen) throwExpected(env(), "an integer >= " + std::to_string(rowLen) + " (the row length of " + of + ")", name(key), v);
    return x;
  }
  bool flag(const char* key) {
    Napi::Value v = obj_.Get(key);
    if (v.IsUndefined()) return false;
    if (!v.IsBoolean()) throwExpected(env(), "a boolean", name(key), v);
    return v.As<Napi::Boolean>().Value();
  }
  double number(const char* key) { return requireNumber(obj_, key, where_); }
  double numberOr(const char* key, double dflt) { return has(key) ? number(key) : dflt; }
  // One of `choices` (a string); the first when absent.
  int choice(const char* key, const std::vector<std::string>& choices) {
    if (!has(key)) return 0;
    Napi::Value v = obj_.Get(key);
    for (size_t i = 0; v.IsString() && i < choices.size(); i++) {
      if (v.As<Napi::String>().Utf8Value() == choices[i]) return static_cast<int>(i);
    }
    std::string list;
    for (size_t i = 0; i < choices.size(); i++) list += (i ? (i + 1 == choices.size() ? " or '" : ", '") : "'") + choices[i] + "'";
    throwExpected(env(), list, name(key), v);
  }

  float* f32(const char* key, int64_t need, const std::string& sizes) { return f32At(obj_.Get(key), name(key), need, sizes); }
  float* f32OrNull(const char* key, int64_t need, const std::string& sizes) {
    return has(key) ? f32(key, need, sizes) : nullptr;
  }
  float* f32At(Napi::Value v, const std::string& label, int64_t need, const std::string& sizes) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throwExpected(env(), "a Float32Array", label, v);
    }
    auto a = v.As<Napi::Float32Array>();
    checkLength(label, static_cast<int64_t>(a.ElementLength()), need, sizes);
    keep_.push_back(v);
    return a.Data();
  }
  // Any Float32Array (its length sets the size): arrays of parameters, gradients.
  float* f32Any(Napi::Value v, const std::string& label, int64_t* length) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throwExpected(env(), "a Float32Array", label, v);
    }
    auto a = v.As<Napi::Float32Array>();
    *length = static_cast<int64_t>(a.ElementLength());
    keep_.push_back(v);
    return a.Data();
  }
  // A BigInt64Array of at least `need` elements; when bound > 0, each below bound (and >= 0 unless
  // negativeOk: a negative target marks an ignored row).
  int64_t* i64(const char* key, int64_t need, const std::string& sizes, int64_t bound = 0, const char* boundName = "",
               bool negativeOk = false) {
    Napi::Value v = obj_.Get(key);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_bigint64_array) {
      throwExpected(env(), "a BigInt64Array", name(key), v);
    }
    auto a = v.As<Napi::TypedArray>();
    checkLength(name(key), static_cast<int64_t>(a.ElementLength()), need, sizes);
    auto* data = reinterpret_cast<int64_t*>(static_cast<char*>(a.ArrayBuffer().Data()) + a.ByteOffset());
    for (int64_t i = 0; bound > 0 && i < need; i++) {
      if (data[i] >= bound || (data[i] < 0 && !negativeOk)) {
        throw Napi::RangeError::New(env(), name(key) + "[" + std::to_string(i) + "] is " + std::to_string(data[i]) +
                                               " but must be " + (negativeOk ? "negative (ignored) or " : "") + "in [0, " +
                                               std::to_string(bound) + ") (" + boundName + ")");
      }
    }
    keep_.push_back(v);
    return data;
  }
  Napi::Object object(const char* key) { return requireObject(obj_.Get(key), name(key)); }
  Napi::Array array(const char* key) {
    Napi::Value v = obj_.Get(key);
    if (!v.IsArray()) throwExpected(env(), "an array", name(key), v);
    return v.As<Napi::Array>();
  }

  // Queues `work` on the thread pool; resolves to toJs(result).
  template <typename Out>
  Napi::Promise run(std::function<Status(Out&)> work, std::function<Napi::Value(Napi::Env, Out&)> toJs) {
    return PromiseWorker<Out>::queue(env(), std::move(work), std::move(toJs), keep_);
  }
  Napi::Promise run(std::function<void()> work) {
    return run<int>([work](int&) { work(); return Status::ok(); }, [](Napi::Env e, int&) { return e.Undefined(); });
  }

 private:
  void checkLength(const std::string& label, int64_t have, int64_t need, const std::string& sizes) {
    if (have < need) {
      throw Napi::RangeError::New(env(), label + " holds " + std::to_string(have) + " elements but " + sizes + " need " +
                                             std::to_string(need));
    }
  }
  std::string where_;
  Napi::Object obj_;
  std::vector<Napi::Value> keep_;
};

// Adds the LoRA, fused-head, loss and optimizer functions to the trainKernels object.
void addTrainStepFunctions(Napi::Env env, Napi::Object& k);

}  // namespace stic::addon::train_binding
