// Shared by the cuda.* test bindings (cuda_binding*.cpp; built only with STIC_WITH_CUDA): the
// options object of one call with its eager checks (messages "cuda.<op>.<key> ..."), and
// DeviceCall, the copy-in / run / copy-out frame of one call: host Float32Arrays are uploaded and
// converted to the call's storage type (F32 or BF16) on the device, the kernel runs on a private
// stream, outputs are converted back to fp32 and copied into the caller's arrays, and everything
// is freed on every path out. These bindings exist for tests and benchmarks (comparing each CUDA
// kernel with its CPU twin); the engine keeps its tensors on the device and never round-trips.
#pragma once
#ifdef STIC_WITH_CUDA
#include <cuda_runtime.h>
#include <napi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "addon/convert.h"
#include "addon/worker.h"
#include "core/dtype.h"
#include "cuda/convert.cuh"
#include "cuda/cuda_status.h"

namespace stic::addon::cuda_binding {

inline std::string kv(const char* k, int64_t v) { return std::string(k) + "=" + std::to_string(v); }
inline int64_t span(int64_t rows, int64_t cols, int64_t ld) { return rows <= 0 ? 0 : (rows - 1) * ld + cols; }

// One call's device memory and stream. Every method only enqueues; finish() waits and reports any
// asynchronous kernel error under the operation's name.
class DeviceCall {
 public:
  explicit DeviceCall(std::string op) : op_(std::move(op)) {}
  DeviceCall(const DeviceCall&) = delete;
  DeviceCall& operator=(const DeviceCall&) = delete;
  ~DeviceCall() {
    if (stream_) {
      cudaStreamSynchronize(stream_);
      cudaStreamDestroy(stream_);
    }
    for (void* p : allocs_) cudaFree(p);
  }
  Status begin() { return cuda::cudaStatus(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), op_.c_str()); }
  cudaStream_t stream() const { return stream_; }
  const char* op() const { return op_.c_str(); }

  Status alloc(size_t bytes, void** out, bool zero = false) {
    *out = nullptr;
    STIC_RETURN_IF_ERROR(cuda::cudaStatus(cudaMalloc(out, bytes ? bytes : 1), op_.c_str()));
    allocs_.push_back(*out);
    if (!zero) return Status::ok();
    return cuda::cudaStatus(cudaMemsetAsync(*out, 0, bytes ? bytes : 1, stream_), op_.c_str());
  }
  template <typename T>
  Status allocAs(size_t count, T** out, bool zero = false) {
    void* p = nullptr;
    STIC_RETURN_IF_ERROR(alloc(count * sizeof(T), &p, zero));
    *out = static_cast<T*>(p);
    return Status::ok();
  }
  Status putBytes(const void* host, size_t bytes, void** out) {
    STIC_RETURN_IF_ERROR(alloc(bytes, out));
    if (bytes == 0) return Status::ok();
    return cuda::cudaStatus(cudaMemcpyAsync(*out, host, bytes, cudaMemcpyHostToDevice, stream_), op_.c_str());
  }
  template <typename T>
  Status put(const T* host, size_t count, T** out) {
    void* p = nullptr;
    STIC_RETURN_IF_ERROR(putBytes(host, count * sizeof(T), &p));
    *out = static_cast<T*>(p);
    return Status::ok();
  }
  // A device tensor of `dt` holding host[0..n) (fp32) rounded to dt.
  Status putFloats(const float* host, size_t n, DType dt, void** out) {
    if (dt == DType::F32) return putBytes(host, n * sizeof(float), out);
    void* staged = nullptr;
    STIC_RETURN_IF_ERROR(putBytes(host, n * sizeof(float), &staged));
    STIC_RETURN_IF_ERROR(alloc(n * dtypeSize(dt), out));
    return cuda::convert(*out, dt, staged, DType::F32, n, stream_);
  }
  // host[0..n) = fp32 values of the device tensor `dev` of type dt.
  Status getFloats(float* host, const void* dev, size_t n, DType dt) {
    const void* src = dev;
    if (dt != DType::F32) {
      void* staged = nullptr;
      STIC_RETURN_IF_ERROR(alloc(n * sizeof(float), &staged));
      STIC_RETURN_IF_ERROR(cuda::convert(staged, DType::F32, dev, dt, n, stream_));
      src = staged;
    }
    return getBytes(host, src, n * sizeof(float));
  }
  Status getBytes(void* host, const void* dev, size_t bytes) {
    if (bytes == 0) return Status::ok();
    return cuda::cudaStatus(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, stream_), op_.c_str());
  }
  Status finish() { return cuda::cudaStatus(cudaStreamSynchronize(stream_), op_.c_str()); }

  // Runs `kernels` once, or (repeats > 1, for benchmarks) once untimed and then `repeats` times;
  // ms() is the device time per run between two events around the kernels (no copies). Outputs are
  // then those of the last run: in-place and accumulating operations apply repeats + 1 times.
  Status timed(int64_t repeats, const std::function<Status()>& kernels) {
    if (repeats > 1) STIC_RETURN_IF_ERROR(kernels());
    cudaEvent_t start = nullptr, stop = nullptr;
    Status s = cuda::cudaStatus(cudaEventCreate(&start), op_.c_str());
    if (s.isOk()) s = cuda::cudaStatus(cudaEventCreate(&stop), op_.c_str());
    if (s.isOk()) s = cuda::cudaStatus(cudaEventRecord(start, stream_), op_.c_str());
    for (int64_t r = 0; s.isOk() && r < (repeats > 1 ? repeats : 1); r++) s = kernels();
    if (s.isOk()) s = cuda::cudaStatus(cudaEventRecord(stop, stream_), op_.c_str());
    if (s.isOk()) s = cuda::cudaStatus(cudaEventSynchronize(stop), op_.c_str());
    float total = 0.0f;
    if (s.isOk()) s = cuda::cudaStatus(cudaEventElapsedTime(&total, start, stop), op_.c_str());
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
    ms_ = static_cast<double>(total) / static_cast<double>(repeats > 1 ? repeats : 1);
    return s;
  }
  double ms() const { return ms_; }

 private:
  std::string op_;
  cudaStream_t stream_ = nullptr;
  std::vector<void*> allocs_;
  double ms_ = 0.0;
};

// A host typed array's elements (the caller keeps the JS array alive through Args::keep).
template <typename T>
struct HostArray {
  T* data = nullptr;
  int64_t n = 0;  // elements the call uses (its `need`), not the array's full length
};

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const std::string& op) : op_(op), where_("cuda." + op) {
    obj_ = requireObject(info[0], where_ + " options");
  }
  Napi::Env env() const { return obj_.Env(); }
  const std::string& op() const { return op_; }
  std::string name(const char* key) const { return where_ + "." + key; }
  bool has(const char* key) const { return !obj_.Get(key).IsUndefined() && !obj_.Get(key).IsNull(); }
  Napi::Value get(const char* key) const { return obj_.Get(key); }

  int64_t size(const char* key, int64_t min = 1) {
    Napi::Value v = obj_.Get(key);
    const int64_t x = requireIntValue(v, name(key));
    if (x < min) throwExpected(env(), min == 0 ? "a non-negative integer" : "a positive integer", name(key), v);
    return x;
  }
  int64_t sizeOr(const char* key, int64_t dflt, int64_t min) { return has(key) ? size(key, min) : dflt; }
  int64_t ld(const char* key, int64_t rowLen, const char* of) {
    if (!has(key)) return rowLen;
    Napi::Value v = obj_.Get(key);
    const int64_t x = requireIntValue(v, name(key));
    if (x < rowLen) throwExpected(env(), "an integer >= " + std::to_string(rowLen) + " (the row length of " + of + ")", name(key), v);
    return x;
  }
  bool flag(const char* key, bool dflt = false) {
    Napi::Value v = obj_.Get(key);
    if (v.IsUndefined()) return dflt;
    if (!v.IsBoolean()) throwExpected(env(), "a boolean", name(key), v);
    return v.As<Napi::Boolean>().Value();
  }
  double number(const char* key) { return requireNumber(obj_, key, where_); }
  double numberOr(const char* key, double dflt) { return has(key) ? number(key) : dflt; }
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
  // Kernel runs of a timed call (DeviceCall::timed), 1 when absent.
  int64_t repeats() { return sizeOr("repeats", 1, 1); }
  // Storage type of the call's activations: 'F32' (default) or 'BF16'.
  DType dtype() { return choice("dtype", {"F32", "BF16"}) == 1 ? DType::BF16 : DType::F32; }

  HostArray<float> f32(const char* key, int64_t need, const std::string& sizes) {
    return typed<float>(obj_.Get(key), name(key), napi_float32_array, "a Float32Array", need, sizes);
  }
  HostArray<float> f32OrNull(const char* key, int64_t need, const std::string& sizes) {
    return has(key) ? f32(key, need, sizes) : HostArray<float>{};
  }
  HostArray<int32_t> i32(const char* key, int64_t need, const std::string& sizes) {
    return typed<int32_t>(obj_.Get(key), name(key), napi_int32_array, "an Int32Array", need, sizes);
  }
  // A BigInt64Array of at least `need` elements; with bound > 0 each in [0, bound), or negative
  // when negativeOk (an ignored row).
  HostArray<int64_t> i64(const char* key, int64_t need, const std::string& sizes, int64_t bound = 0, const char* boundName = "",
                         bool negativeOk = false) {
    HostArray<int64_t> a = typed<int64_t>(obj_.Get(key), name(key), napi_bigint64_array, "a BigInt64Array", need, sizes);
    for (int64_t i = 0; bound > 0 && i < need; i++) {
      if (a.data[i] >= bound || (a.data[i] < 0 && !negativeOk)) {
        throw Napi::RangeError::New(env(), name(key) + "[" + std::to_string(i) + "] is " + std::to_string(a.data[i]) +
                                               " but must be " + (negativeOk ? "negative (ignored) or " : "") + "in [0, " +
                                               std::to_string(bound) + ") (" + boundName + ")");
      }
    }
    return a;
  }
  template <typename T>
  HostArray<T> typed(Napi::Value v, const std::string& label, napi_typedarray_type type, const char* what, int64_t need,
                     const std::string& sizes) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) throwExpected(env(), what, label, v);
    auto a = v.As<Napi::TypedArray>();
    const int64_t have = static_cast<int64_t>(a.ElementLength());
    if (have < need) {
      throw Napi::RangeError::New(env(), label + " holds " + std::to_string(have) + " elements but " + sizes + " need " +
                                             std::to_string(need));
    }
    keep_.push_back(v);
    return {reinterpret_cast<T*>(static_cast<char*>(a.ArrayBuffer().Data()) + a.ByteOffset()), need};
  }
  Napi::Array array(const char* key) {
    Napi::Value v = obj_.Get(key);
    if (!v.IsArray()) throwExpected(env(), "an array", name(key), v);
    keep_.push_back(v);
    return v.As<Napi::Array>();
  }
  void keep(Napi::Value v) { keep_.push_back(v); }

  // Runs body(call, out) on a libuv thread (not the CPU compute thread: the GPU does the work)
  // inside a DeviceCall; resolves to toJs(out).
  template <typename Out>
  Napi::Promise run(std::function<Status(DeviceCall&, Out&)> body, std::function<Napi::Value(Napi::Env, Out&)> toJs) {
    const std::string op = where_;
    return PromiseWorker<Out>::queue(
        env(),
        [op, body](Out& out) {
          DeviceCall call(op);
          STIC_RETURN_IF_ERROR(call.begin());
          STIC_RETURN_IF_ERROR(body(call, out));
          return call.finish();
        },
        std::move(toJs), keep_, /*exclusive=*/false);
  }
  // Resolves to {ms}: the device time of the call's timed kernels (DeviceCall::timed).
  Napi::Promise run(std::function<Status(DeviceCall&)> body) {
    return run<double>(
        [body](DeviceCall& c, double& ms) {
          STIC_RETURN_IF_ERROR(body(c));
          ms = c.ms();
          return Status::ok();
        },
        [](Napi::Env e, double& ms) {
          Napi::Object o = Napi::Object::New(e);
          o.Set("ms", ms);
          return Napi::Value(o);
        });
  }

 private:
  std::string op_, where_;
  Napi::Object obj_;
  std::vector<Napi::Value> keep_;
};

// The `cuda` object on the exports, created by whichever binding file initialises first.
inline Napi::Object cudaExports(Napi::Env env, Napi::Object exports) {
  if (!exports.Has("cuda")) exports.Set("cuda", Napi::Object::New(env));
  return exports.Get("cuda").As<Napi::Object>();
}

}  // namespace stic::addon::cuda_binding
#endif  // STIC_WITH_CUDA
