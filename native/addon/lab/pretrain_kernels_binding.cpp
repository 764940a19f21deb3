// pretrainKernels.patchEmbedBackward(args): the patch embedding's weight gradient alone (the kernel
// the pretrainer's vision backward calls), for its test (test/cpu/patch_embed.test.ts).
// Legend: N images, S image side, p patch side, P patches, D hidden.
#include <napi.h>

#include <string>

#include "addon/args.h"
#include "addon/lab/lab_registry.h"
#include "addon/worker.h"
#include "cpu/patch_embed.h"

namespace stic::addon {
namespace {

// o[key]: a Float32Array of exactly n values.
Napi::Float32Array requireFloats(const Args& o, const char* key, int64_t n) {
  Napi::TypedArray a = requireTypedArray(o.get(key), o.name(key), napi_float32_array);
  if (static_cast<int64_t>(a.ElementLength()) != n) {
    throw Napi::RangeError::New(o.env(), o.name(key) + ": expected " + std::to_string(n) + " values but found " + std::to_string(a.ElementLength()));
  }
  return a.As<Napi::Float32Array>();
}

// patchEmbedBackward({dweight (D,3,p,p) in/out, dout (N,P,D), img (N,3,S,S), N, S, p, D})
Napi::Value patchEmbedBackward(const Napi::CallbackInfo& info) {
  const Args o(info[0], "args");
  const int64_t N = o.integer("N"), S = o.integer("S"), p = o.integer("p"), D = o.integer("D");
  if (N < 0 || p < 1 || S < p || S % p != 0 || D < 1) {
    throw Napi::RangeError::New(info.Env(), "args: expected N >= 0, D >= 1 and S a positive multiple of p but received N " + std::to_string(N) +
                                                 ", S " + std::to_string(S) + ", p " + std::to_string(p) + ", D " + std::to_string(D));
  }
  const int64_t P = (S / p) * (S / p);
  Napi::Float32Array dw = requireFloats(o, "dweight", D * 3 * p * p);
  Napi::Float32Array dout = requireFloats(o, "dout", N * P * D);
  Napi::Float32Array img = requireFloats(o, "img", N * 3 * S * S);
  float* dwp = dw.Data();
  const float* doutp = dout.Data();
  const float* imgp = img.Data();
  return PromiseWorker<bool>::queue(
      info.Env(),
      [=](bool&) {
        cpu::patch_embed_backward(dwp, doutp, imgp, N, S, S, p, D);
        return Status::ok();
      },
      [](Napi::Env e, bool&) { return e.Undefined(); }, {o.get("dweight"), o.get("dout"), o.get("img")});
}

void initPretrainKernelsExports(Napi::Env env, Napi::Object exports) {
  Napi::Object kernels = Napi::Object::New(env);
  kernels.Set("patchEmbedBackward", Napi::Function::New(env, patchEmbedBackward, "patchEmbedBackward"));
  exports.Set("pretrainKernels", kernels);
}

}  // namespace

STIC_REGISTER_LAB_EXPORTS(pretrainKernels, initPretrainKernelsExports);

}  // namespace stic::addon
