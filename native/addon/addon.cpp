// Module entry point: every binding file registers itself (registry.h); this file only adds the
// build/runtime facts that belong to no module.
#include <napi.h>
#include <omp.h>

#include "addon/args.h"
#include "addon/registry.h"
#include "core/threads.h"

namespace stic::addon {
namespace {

Napi::Value buildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  Napi::Array backends = Napi::Array::New(env);
  backends.Set(0u, Napi::String::New(env, "cpu"));
#ifdef STIC_WITH_CUDA
  backends.Set(1u, Napi::String::New(env, "cuda"));
  o.Set("cuda", Napi::Boolean::New(env, true));
#else
  o.Set("cuda", Napi::Boolean::New(env, false));
#endif
  o.Set("backends", backends);
#ifdef STIC_WITH_NCCL
  o.Set("nccl", Napi::Boolean::New(env, true));
#else
  o.Set("nccl", Napi::Boolean::New(env, false));
#endif
  o.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  o.Set("openmp", Napi::Number::New(env, _OPENMP));
  o.Set("threads", Napi::Number::New(env, numThreads()));
  o.Set("maxThreads", Napi::Number::New(env, omp_get_num_procs()));
#if defined(__AVX512F__)
  o.Set("simd", Napi::String::New(env, "avx512"));
#elif defined(__AVX2__)
  o.Set("simd", Napi::String::New(env, "avx2"));
#else
  o.Set("simd", Napi::String::New(env, "scalar"));
#endif
  o.Set("compiler", Napi::String::New(env, __VERSION__));
  return o;
}

Napi::Value setThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Checked before the int conversion: a huge or fractional value must not wrap into a thread count
  // (OpenMP would try to start that many threads and crash). Out of range is a RangeError.
  if (!info[0].IsNumber()) throwExpected(env, "a positive integer (or 0 for the default)", "threads", info[0]);
  const double n = info[0].As<Napi::Number>().DoubleValue();
  if (!(n >= 0 && n <= kMaxThreads && n == static_cast<double>(static_cast<int>(n)))) {
    throw Napi::RangeError::New(env, "Expected an integer in [0, " + std::to_string(kMaxThreads) + "] for threads but received " + describeValue(info[0]));
  }
  setNumThreads(static_cast<int>(n));
  return Napi::Number::New(env, numThreads());
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("buildInfo", Napi::Function::New(env, buildInfo, "buildInfo"));
  exports.Set("setThreads", Napi::Function::New(env, setThreads, "setThreads"));
  initAllExports(env, exports);
  return exports;
}

}  // namespace stic::addon

// NODE_API_MODULE pastes its argument into an identifier, so it needs an unqualified name.
static Napi::Object InitStic(Napi::Env env, Napi::Object exports) { return stic::addon::init(env, exports); }
NODE_API_MODULE(stic, InitStic)
