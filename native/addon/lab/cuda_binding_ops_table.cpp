// cuda.opsTableMissing(): the CUDA ops table's empty entries. cuda.<op>({...}): Promise<{ms}> — its entries that have no kernel binding of
// their own (the LoRA delta and the patch embedding), run through cuda::OpsTable (ops_table.cu) on
// the call's stream and GEMM, so a test checks each kernel and its wiring into the table together
// against the CPU twin (trainKernels.loraDelta*, kernels.patchEmbed, pretrainKernels.patchEmbedBackward).
// Same options as those twins, plus `gemm`: 'cublaslt' (default) or 'reference'. fp32 only, as the
// table. Accumulated outputs (out of the LoRA forward, dx, dA, dB, dweight) are uploaded first.
// Only in builds with the CUDA backend (STIC_WITH_CUDA).
// Legend: T rows, K in, N out, r LoRA rank; N images, Hs/Ws image side, p patch side, P patches, D hidden.
#ifdef STIC_WITH_CUDA
#include <cuda_runtime.h>
#include <napi.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "addon/lab/cuda_binding_args.h"
#include "addon/lab/lab_registry.h"
#include "addon/lab/lora_args.h"
#include "core/ops.h"
#include "cuda/lora.cuh"
#include "cuda/ops_table.cuh"

namespace stic::addon::cuda_binding {
namespace {

// Runs `body` on a CUDA ops table over the call's stream and chosen GEMM, then returns the first
// failure the table kept (ops().check()).
Status withTable(DeviceCall& c, bool reference, const std::function<Status(const Ops&)>& body) {
  GemmChoice choice;
  STIC_RETURN_IF_ERROR(makeGemm(reference, choice));
  auto made = cuda::OpsTable::create(c.stream(), *choice.gemm);
  STIC_RETURN_IF_ERROR(made.status());
  const std::unique_ptr<cuda::OpsTable> table = made.take();
  STIC_RETURN_IF_ERROR(body(table->ops()));
  STIC_RETURN_IF_ERROR(table->ops().check());
  return c.finish();  // the table's scratch is freed on return
}

// loraDeltaForward({out[T,N] (row stride ldo?, +=), xa[T,r], x[T,K], A[r,K], B[N,r], T, K, N, r, scale, dropout?, key?, gemm?})
Napi::Value loraDeltaForward(const Napi::CallbackInfo& info) {
  Args a(info, "loraDeltaForward");
  const train::LoraDims d = lab::loraDims(a);
  const train::DropoutKey key = lab::dropoutKey(a);
  const bool reference = wantsReference(a);
  const std::string s = lab::loraSizes(d);
  const int64_t ldo = a.ld("ldo", d.N, "out");
  auto out = a.f32("out", span(d.T, d.N, ldo), s), xa = a.f32("xa", d.T * d.r, s), x = a.f32("x", d.T * d.K, s);
  auto A = a.f32("A", d.r * d.K, s), B = a.f32("B", d.N * d.r, s);
  return a.run([=](DeviceCall& c) {
    float *dOut, *dXa, *dX, *dA, *dB, *work;
    STIC_RETURN_IF_ERROR(c.put(out.data, out.n, &dOut));
    STIC_RETURN_IF_ERROR(c.allocAs(xa.n, &dXa));
    STIC_RETURN_IF_ERROR(c.put(x.data, x.n, &dX));
    STIC_RETURN_IF_ERROR(c.put(A.data, A.n, &dA));
    STIC_RETURN_IF_ERROR(c.put(B.data, B.n, &dB));
    STIC_RETURN_IF_ERROR(c.allocAs(cuda::lora_workspace_floats(d), &work));
    return withTable(c, reference, [&](const Ops& ops) {
      ops.lora.lora_delta_forward(dOut, ldo, dXa, work, dX, dA, dB, d, key);
      STIC_RETURN_IF_ERROR(c.getBytes(out.data, dOut, out.n * sizeof(float)));
      return c.getBytes(xa.data, dXa, xa.n * sizeof(float));
    });
  });
}

// loraDeltaBackward({dx?[T,K] (+=), dA?[r,K] (+=), dB?[N,r] (+=), dout[T,N] (row stride ldd?), x, xa, A, B, T, K, N, r,
//                    scale, dropout?, key?, gemm?})
Napi::Value loraDeltaBackward(const Napi::CallbackInfo& info) {
  Args a(info, "loraDeltaBackward");
  const train::LoraDims d = lab::loraDims(a);
  const train::DropoutKey key = lab::dropoutKey(a);
  const bool reference = wantsReference(a);
  const std::string s = lab::loraSizes(d);
  const int64_t ldd = a.ld("ldd", d.N, "dout");
  auto dx = a.f32OrNull("dx", d.T * d.K, s), dA = a.f32OrNull("dA", d.r * d.K, s), dB = a.f32OrNull("dB", d.N * d.r, s);
  auto dout = a.f32("dout", span(d.T, d.N, ldd), s), x = a.f32("x", d.T * d.K, s), xa = a.f32("xa", d.T * d.r, s);
  auto A = a.f32("A", d.r * d.K, s), B = a.f32("B", d.N * d.r, s);
  return a.run([=](DeviceCall& c) {
    float *dDx = nullptr, *dDA = nullptr, *dDB = nullptr, *dDout, *dX, *dXa, *dAw, *dBw, *work;
    if (dx.data) STIC_RETURN_IF_ERROR(c.put(dx.data, dx.n, &dDx));
    if (dA.data) STIC_RETURN_IF_ERROR(c.put(dA.data, dA.n, &dDA));
    if (dB.data) STIC_RETURN_IF_ERROR(c.put(dB.data, dB.n, &dDB));
    STIC_RETURN_IF_ERROR(c.put(dout.data, dout.n, &dDout));
    STIC_RETURN_IF_ERROR(c.put(x.data, x.n, &dX));
    STIC_RETURN_IF_ERROR(c.put(xa.data, xa.n, &dXa));
    STIC_RETURN_IF_ERROR(c.put(A.data, A.n, &dAw));
    STIC_RETURN_IF_ERROR(c.put(B.data, B.n, &dBw));
    STIC_RETURN_IF_ERROR(c.allocAs(cuda::lora_workspace_floats(d), &work));
    return withTable(c, reference, [&](const Ops& ops) {
      ops.lora.lora_delta_backward(dDx, dDA, dDB, work, dDout, ldd, dX, dXa, dAw, dBw, d, key);
      if (dDx) STIC_RETURN_IF_ERROR(c.getBytes(dx.data, dDx, dx.n * sizeof(float)));
      if (dDA) STIC_RETURN_IF_ERROR(c.getBytes(dA.data, dDA, dA.n * sizeof(float)));
      if (dDB) STIC_RETURN_IF_ERROR(c.getBytes(dB.data, dDB, dB.n * sizeof(float)));
      return Status::ok();
    });
  });
}

// The image sizes of a patch-embedding call: whole p x p patches.
struct PatchDims {
  int64_t N = 1, Hs = 0, Ws = 0, p = 0, D = 0, P = 0;
};
PatchDims patchDims(Args& a, bool batch) {
  PatchDims g;
  if (batch) g.N = a.size("N", 0);
  g.Hs = a.size("Hs"), g.Ws = a.size("Ws"), g.p = a.size("p"), g.D = a.size("D");
  if (g.Hs % g.p != 0 || g.Ws % g.p != 0) {
    a.range("image " + std::to_string(g.Hs) + "x" + std::to_string(g.Ws) + " is not a whole number of " + std::to_string(g.p) +
            "x" + std::to_string(g.p) + " patches");
  }
  g.P = (g.Hs / g.p) * (g.Ws / g.p);
  return g;
}
std::string patchSizes(const PatchDims& g) {
  return kv("N", g.N) + ", " + kv("Hs", g.Hs) + ", " + kv("Ws", g.Ws) + ", " + kv("p", g.p) + ", " + kv("D", g.D);
}

// patchEmbedForward({out[P,D], img[3,Hs,Ws], weight[D,3,p,p], Hs, Ws, p, D, gemm?})
Napi::Value patchEmbedForward(const Napi::CallbackInfo& info) {
  Args a(info, "patchEmbedForward");
  const PatchDims g = patchDims(a, false);
  const bool reference = wantsReference(a);
  const std::string s = patchSizes(g);
  auto out = a.f32("out", g.P * g.D, s), img = a.f32("img", 3 * g.Hs * g.Ws, s), weight = a.f32("weight", g.D * 3 * g.p * g.p, s);
  return a.run([=](DeviceCall& c) {
    float *dOut, *dImg, *dW;
    STIC_RETURN_IF_ERROR(c.allocAs(out.n, &dOut));
    STIC_RETURN_IF_ERROR(c.put(img.data, img.n, &dImg));
    STIC_RETURN_IF_ERROR(c.put(weight.data, weight.n, &dW));
    return withTable(c, reference, [&](const Ops& ops) {
      ops.embedding.patch_embed_forward(dOut, dImg, dW, g.Hs, g.Ws, g.p, g.D);
      return c.getBytes(out.data, dOut, out.n * sizeof(float));
    });
  });
}

// patchEmbedBackward({dweight[D,3,p,p] (+=), dout[N,P,D], img[N,3,Hs,Ws], N, Hs, Ws, p, D, gemm?})
Napi::Value patchEmbedBackward(const Napi::CallbackInfo& info) {
  Args a(info, "patchEmbedBackward");
  const PatchDims g = patchDims(a, true);
  const bool reference = wantsReference(a);
  const std::string s = patchSizes(g);
  auto dweight = a.f32("dweight", g.D * 3 * g.p * g.p, s), dout = a.f32("dout", g.N * g.P * g.D, s);
  auto img = a.f32("img", g.N * 3 * g.Hs * g.Ws, s);
  return a.run([=](DeviceCall& c) {
    float *dDw, *dDout, *dImg;
    STIC_RETURN_IF_ERROR(c.put(dweight.data, dweight.n, &dDw));
    STIC_RETURN_IF_ERROR(c.put(dout.data, dout.n, &dDout));
    STIC_RETURN_IF_ERROR(c.put(img.data, img.n, &dImg));
    return withTable(c, reference, [&](const Ops& ops) {
      ops.embedding.patch_embed_backward(dDw, dDout, dImg, g.N, g.Hs, g.Ws, g.p, g.D);
      return c.getBytes(dweight.data, dDw, dweight.n * sizeof(float));
    });
  });
}

// opsTableMissing() -> string[]: missingOps of a CUDA table (made over the reference GEMM and the
// default stream; creating it touches no device), "family.op" names; empty when it is complete.
Napi::Value opsTableMissing(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto made = cuda::OpsTable::create(nullptr, cuda::referenceGemm());
  if (!made.isOk()) throw statusToError(env, made.status());
  const std::vector<std::string> missing = missingOps(made.value()->ops());
  Napi::Array out = Napi::Array::New(env, missing.size());
  for (size_t i = 0; i < missing.size(); i++) out.Set(static_cast<uint32_t>(i), missing[i]);
  return out;
}

void initCudaOpsTableExports(Napi::Env env, Napi::Object exports) {
  Napi::Object k = cudaExports(env, exports);
  auto fn = [&](const char* name, Napi::Function::Callback cb) { k.Set(name, Napi::Function::New(env, cb, name)); };
  fn("opsTableMissing", opsTableMissing);
  fn("loraDeltaForward", loraDeltaForward);
  fn("loraDeltaBackward", loraDeltaBackward);
  fn("patchEmbedForward", patchEmbedForward);
  fn("patchEmbedBackward", patchEmbedBackward);
}

}  // namespace

STIC_REGISTER_LAB_EXPORTS(cuda_ops_table, initCudaOpsTableExports);

}  // namespace stic::addon::cuda_binding
#endif  // STIC_WITH_CUDA
