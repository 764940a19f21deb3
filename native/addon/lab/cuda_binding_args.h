// Shared by the cuda.* test bindings (cuda_binding*.cpp; built only with STIC_WITH_CUDA): the
// options object of one call (the lab's reader, lab_args.h over addon/args.h; messages
// "cuda.<op>.<key> ..."), and
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
#include <memory>
#include <string>
#include <vector>

#include "addon/lab/lab_args.h"
#include "addon/worker.h"
#include "core/dtype.h"
#include "cuda/convert.cuh"
#include "cuda/cuda_status.h"
#include "cuda/gemm.cuh"

namespace stic::addon::cuda_binding {

using lab::kv;
using lab::span;

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

// A host typed array's elements (the Args keep the JS array alive).
template <typename T>
struct HostArray {
  T* data = nullptr;
  int64_t n = 0;  // elements the call uses (its `need`), not the array's full length
};

// The lab's argument reader (lab_args.h) under the "cuda.<op>" name, with the CUDA calls' options
// (dtype, repeats), typed arrays as HostArrays, and run() inside a DeviceCall.
class Args : public lab::Args {
 public:
  Args(const Napi::CallbackInfo& info, const std::string& op) : lab::Args(info, "cuda." + op), op_(op) {}
  const std::string& op() const { return op_; }

  // Kernel runs of a timed call (DeviceCall::timed), 1 when absent.
  int64_t repeats() { return sizeOr("repeats", 1, 1); }
  // Storage type of the call's activations: 'F32' (default) or 'BF16'.
  DType dtype() { return choiceOr("dtype", {"F32", "BF16"}, 0) == 1 ? DType::BF16 : DType::F32; }

  HostArray<float> f32(const char* key, int64_t need, const std::string& sizes) { return {lab::Args::f32(key, need, sizes), need}; }
  HostArray<float> f32OrNull(const char* key, int64_t need, const std::string& sizes) {
    return has(key) ? f32(key, need, sizes) : HostArray<float>{};
  }
  HostArray<int32_t> i32(const char* key, int64_t need, const std::string& sizes) { return {lab::Args::i32(key, need, sizes), need}; }
  HostArray<int64_t> i64(const char* key, int64_t need, const std::string& sizes, int64_t bound = 0, const char* boundName = "",
                         bool negativeOk = false) {
    return {lab::Args::i64(key, need, sizes, bound, boundName, negativeOk), need};
  }
  template <typename T>
  HostArray<T> typed(Napi::Value v, const std::string& label, napi_typedarray_type type, int64_t need, const std::string& sizes) {
    return {lab::Args::typed<T>(v, label, type, need, sizes), need};
  }

  // Runs body(call, out) on a libuv thread (not the CPU compute thread: the GPU does the work)
  // inside a DeviceCall; resolves to toJs(out).
  template <typename Out>
  Napi::Promise run(std::function<Status(DeviceCall&, Out&)> body, std::function<Napi::Value(Napi::Env, Out&)> toJs) {
    const std::string op = where();
    return PromiseWorker<Out>::queue(
        env(),
        [op, body](Out& out) {
          DeviceCall call(op);
          STIC_RETURN_IF_ERROR(call.begin());
          STIC_RETURN_IF_ERROR(body(call, out));
          return call.finish();
        },
        std::move(toJs), kept(), /*exclusive=*/false);
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
  std::string op_;
};

constexpr size_t kCublasLtWorkspace = size_t{32} << 20;  // cuBLASLt's recommended 32 MiB for Hopper

// The GEMM a call asked for, owned for the duration of the call.
struct GemmChoice {
  std::unique_ptr<cuda::Gemm> owned;
  const cuda::Gemm* gemm = nullptr;
};
inline Status makeGemm(bool reference, GemmChoice& g) {
  if (reference) {
    g.gemm = &cuda::referenceGemm();
    return Status::ok();
  }
  auto made = cuda::makeCublasLtGemm(kCublasLtWorkspace);
  STIC_RETURN_IF_ERROR(made.status());
  g.owned = made.take();
  g.gemm = g.owned.get();
  return Status::ok();
}
// The `gemm` option of a GEMM user: 'cublaslt' (default) or 'reference'.
inline bool wantsReference(Args& a) { return a.choiceOr("gemm", {"cublaslt", "reference"}, 0) == 1; }

// The `cuda` object on the exports, created by whichever binding file initialises first.
inline Napi::Object cudaExports(Napi::Env env, Napi::Object exports) {
  if (!exports.Has("cuda")) exports.Set("cuda", Napi::Object::New(env));
  return exports.Get("cuda").As<Napi::Object>();
}

}  // namespace stic::addon::cuda_binding
#endif  // STIC_WITH_CUDA
