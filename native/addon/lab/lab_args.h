// The kernel lab's reader of one call's options (kernels.*, trainKernels.*, cuda.*): the one
// argument reader of every binding (addon/args.h: its messages, "Expected <what> for
// <binding>.<op>.<key> but received <value>", and its rule that undefined and null are absent),
// plus what only the lab needs: typed arrays of at least the size a kernel reads (a RangeError
// naming the array, its length and the sizes that needed more), row strides, and the Promise of
// the call. Every typed array read is remembered so the call keeps it alive while its kernel runs.
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/worker.h"

namespace stic::lab {

inline std::string kv(const char* k, int64_t v) { return std::string(k) + "=" + std::to_string(v); }
// Elements a [rows, cols] matrix with row stride ld spans: the last row needs only `cols`.
inline int64_t span(int64_t rows, int64_t cols, int64_t ld) { return rows <= 0 ? 0 : (rows - 1) * ld + cols; }

class Args : public addon::Args {
 public:
  // `where` names the call in messages: "<binding>.<op>", e.g. "kernels.sgemm".
  Args(const Napi::CallbackInfo& info, const std::string& where) : addon::Args(info[0], where) {}
  [[noreturn]] void range(const std::string& msg) const { throw Napi::RangeError::New(env(), where() + ": " + msg); }

  // A leading dimension (row stride) of at least `rowLen`, `rowLen` when absent.
  int64_t ld(const char* key, int64_t rowLen, const char* of) const {
    if (!has(key)) return rowLen;
    const int64_t x = integer(key);
    if (x < rowLen) fail(key, "an integer >= " + std::to_string(rowLen) + " (the row length of " + of + ")");
    return x;
  }

  // A typed array of `type` with at least `need` elements (`sizes` says what made `need`).
  template <typename T>
  T* typed(Napi::Value v, const std::string& label, napi_typedarray_type type, int64_t need, const std::string& sizes) {
    Napi::TypedArray a = addon::requireTypedArray(v, label, type);
    const int64_t have = static_cast<int64_t>(a.ElementLength());
    if (have < need) {
      throw Napi::RangeError::New(env(), label + " holds " + std::to_string(have) + " elements but " + sizes + " need " + std::to_string(need));
    }
    keep_.push_back(v);
    return addon::typedData<T>(a);
  }
  float* f32(const char* key, int64_t need, const std::string& sizes) { return f32At(get(key), name(key), need, sizes); }
  float* f32OrNull(const char* key, int64_t need, const std::string& sizes) { return has(key) ? f32(key, need, sizes) : nullptr; }
  float* f32At(Napi::Value v, const std::string& label, int64_t need, const std::string& sizes) {
    return typed<float>(v, label, napi_float32_array, need, sizes);
  }
  // Any Float32Array (its length sets the size): arrays of parameters, gradients.
  float* f32Any(Napi::Value v, const std::string& label, int64_t* length) {
    *length = static_cast<int64_t>(addon::requireTypedArray(v, label, napi_float32_array).ElementLength());
    return f32At(v, label, 0, "");
  }
  int32_t* i32(const char* key, int64_t need, const std::string& sizes) { return typed<int32_t>(get(key), name(key), napi_int32_array, need, sizes); }
  // A BigInt64Array of at least `need` elements; when bound > 0, each below bound (and >= 0 unless
  // negativeOk: a negative target marks an ignored row).
  int64_t* i64(const char* key, int64_t need, const std::string& sizes, int64_t bound = 0, const char* boundName = "",
               bool negativeOk = false) {
    int64_t* data = typed<int64_t>(get(key), name(key), napi_bigint64_array, need, sizes);
    for (int64_t i = 0; bound > 0 && i < need; i++) {
      if (data[i] >= bound || (data[i] < 0 && !negativeOk)) {
        throw Napi::RangeError::New(env(), name(key) + "[" + std::to_string(i) + "] is " + std::to_string(data[i]) + " but must be " +
                                               (negativeOk ? "negative (ignored) or " : "") + "in [0, " + std::to_string(bound) + ") (" +
                                               boundName + ")");
      }
    }
    return data;
  }
  // An array whose entries the kernel reads (kept alive with the call).
  Napi::Array array(const char* key) {
    Napi::Array a = addon::Args::array(key);
    keep_.push_back(a);
    return a;
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
  const std::vector<Napi::Value>& kept() const { return keep_; }

 private:
  std::vector<Napi::Value> keep_;
};

}  // namespace stic::lab
