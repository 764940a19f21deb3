// cuda.backendRoundTrip({values[n], gemm?}) -> Promise<{name, freeBytes, totalBytes, doubled[n]}>:
// the CUDA Backend (native/cuda/cuda_backend.cuh) end to end, for the GPU tests: a backend on
// device 0, an arena carved on it (core/arena.h, as a model's), the values copied in, copied within
// the device and doubled through the backend's ops table (memory.copy, elementwise.add_inplace),
// synchronised and copied back. Only in builds with the CUDA backend (STIC_WITH_CUDA).
// Legend: n values.
#ifdef STIC_WITH_CUDA
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "addon/lab/cuda_binding_args.h"
#include "addon/lab/lab_registry.h"
#include "core/arena.h"
#include "core/ops.h"
#include "cuda/cuda_backend.cuh"

namespace stic::addon::cuda_binding {
namespace {

struct RoundTrip {
  std::string name;
  size_t freeBytes = 0, totalBytes = 0;
  std::vector<float> doubled;
};

// doubled[n] = 2 values[n], every step on the backend; the backend outlives its arena.
Status roundTrip(const float* values, int64_t n, bool reference, RoundTrip& out) {
  GemmChoice choice;
  STIC_RETURN_IF_ERROR(makeGemm(reference, choice));
  auto made = cuda::CudaBackend::create(0, *choice.gemm);
  STIC_RETURN_IF_ERROR(made.status());
  const std::unique_ptr<cuda::CudaBackend> backend = made.take();
  out.name = backend->name();
  STIC_RETURN_IF_ERROR(backend->memoryInfo(&out.freeBytes, &out.totalBytes));
  ArenaPlan plan;
  plan.add(DType::F32, {n}, "values");
  plan.add(DType::F32, {n}, "doubled");
  auto arena = Arena::create(*backend, Lifetime::Scratch, plan);
  STIC_RETURN_IF_ERROR(arena.status());
  auto a = arena.value()->allocate(DType::F32, {n}, "values");
  STIC_RETURN_IF_ERROR(a.status());
  auto b = arena.value()->allocate(DType::F32, {n}, "doubled");
  STIC_RETURN_IF_ERROR(b.status());
  float *dA = a.value().data<float>(), *dB = b.value().data<float>();
  const Ops& ops = backend->ops();
  STIC_RETURN_IF_ERROR(backend->copyFromHost(dA, values, n * sizeof(float)));
  ops.memory.copy(dB, dA, n * sizeof(float));
  ops.elementwise.add_inplace(dB, dA, n);
  STIC_RETURN_IF_ERROR(backend->synchronize());
  out.doubled.resize(n);
  return backend->copyToHost(out.doubled.data(), dB, n * sizeof(float));
}

Napi::Value backendRoundTrip(const Napi::CallbackInfo& info) {
  Args a(info, "backendRoundTrip");
  const bool reference = wantsReference(a);
  int64_t n = 0;
  const float* values = a.f32Any(a.get("values"), a.name("values"), &n);
  if (n == 0) a.range("values: expected at least one value but found none");
  return PromiseWorker<RoundTrip>::queue(
      info.Env(), [=](RoundTrip& out) { return roundTrip(values, n, reference, out); },
      [](Napi::Env env, RoundTrip& out) {
        Napi::Object o = Napi::Object::New(env);
        o.Set("name", out.name);
        o.Set("freeBytes", static_cast<double>(out.freeBytes));
        o.Set("totalBytes", static_cast<double>(out.totalBytes));
        Napi::Float32Array d = Napi::Float32Array::New(env, out.doubled.size());
        for (size_t i = 0; i < out.doubled.size(); i++) d[i] = out.doubled[i];
        o.Set("doubled", d);
        return Napi::Value(o);
      },
      {a.get("values")}, /*exclusive=*/false);
}

void initCudaBackendExports(Napi::Env env, Napi::Object exports) {
  Napi::Object k = cudaExports(env, exports);
  k.Set("backendRoundTrip", Napi::Function::New(env, backendRoundTrip, "backendRoundTrip"));
}

}  // namespace

STIC_REGISTER_LAB_EXPORTS(cuda_backend, initCudaBackendExports);

}  // namespace stic::addon::cuda_binding
#endif  // STIC_WITH_CUDA
