// cuda.<op>({...}): Promise — every CUDA kernel of native/cuda/ops.cuh and attention.cuh exposed on
// host arrays for tests and benchmarks: the same option objects as the CPU twins' kernels.* and
// trainKernels.* (lib/native/contract.ts), plus `dtype` ('F32' default, or 'BF16': inputs are
// rounded to bf16 on the device, outputs come back as fp32 values of the bf16 results).
// Accumulated outputs (dweight, dk, dv, ...) are uploaded first, like the CPU's += contract.
// Only in builds with the CUDA backend (STIC_WITH_CUDA); elsewhere `cuda` is absent from the exports.
// Legend: as in native/cpu/ops.h (T tokens, C channels, S keys, Hq/Hkv heads, hd head dim, V vocab, n elements).
#ifdef STIC_WITH_CUDA
#include <cuda_runtime.h>
#include <napi.h>

#include <algorithm>
#include <string>

#include "addon/lab/cuda_binding_args.h"
#include "addon/lab/lab_registry.h"
#include "cuda/attention.cuh"
#include "cuda/ops.cuh"

namespace stic::addon::cuda_binding {
namespace {

using DevF = void*;

// deviceInfo(): the current device, or a thrown Error saying why there is none.
Napi::Value deviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int count = 0;
  Status s = cuda::cudaStatus(cudaGetDeviceCount(&count), "deviceInfo");
  if (s.isOk() && count == 0) s = error(Code::Device, "cuda: deviceInfo: no CUDA device is visible");
  int device = 0, driver = 0, runtime = 0;
  cudaDeviceProp prop{};
  size_t freeB = 0, totalB = 0;
  if (s.isOk()) s = cuda::cudaStatus(cudaGetDevice(&device), "deviceInfo");
  if (s.isOk()) s = cuda::cudaStatus(cudaGetDeviceProperties(&prop, device), "deviceInfo");
  if (s.isOk()) s = cuda::cudaStatus(cudaMemGetInfo(&freeB, &totalB), "deviceInfo");
  if (s.isOk()) s = cuda::cudaStatus(cudaDriverGetVersion(&driver), "deviceInfo");
  if (s.isOk()) s = cuda::cudaStatus(cudaRuntimeGetVersion(&runtime), "deviceInfo");
  if (!s.isOk()) throw statusToError(env, s);
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", prop.name);
  o.Set("computeCapability", std::to_string(prop.major) + "." + std::to_string(prop.minor));
  o.Set("multiprocessors", prop.multiProcessorCount);
  o.Set("totalMemory", static_cast<double>(totalB));
  o.Set("freeMemory", static_cast<double>(freeB));
  o.Set("driverVersion", driver);
  o.Set("runtimeVersion", runtime);
  return o;
}

// ---- norms -------------------------------------------------------------------------------------
// layernorm / rmsnorm / addLayernorm / addRmsnorm / their backwards share one parser.
enum class Norm { Layer, Rms };

Napi::Value normForward(const Napi::CallbackInfo& info, Norm kind, bool residual) {
  const char* op = kind == Norm::Layer ? (residual ? "addLayernorm" : "layernorm") : (residual ? "addRmsnorm" : "rmsnorm");
  Args a(info, op);
  const int64_t T = a.size("T"), C = a.size("C");
  const float eps = static_cast<float>(a.number("eps"));
  const DType dt = a.dtype();
  const int64_t reps = a.repeats();
  const std::string sz = kv("T", T) + ", " + kv("C", C);
  auto out = a.f32("out", T * C, sz), inp = a.f32("inp", T * C, sz), w = a.f32("weight", C, sz);
  auto bias = kind == Norm::Layer ? a.f32("bias", C, sz) : HostArray<float>{};
  auto res = residual ? a.f32("res", T * C, sz) : HostArray<float>{};
  return a.run([=](DeviceCall& c) {
    DevF dOut, dInp, dW, dB = nullptr, dRes = nullptr;
    STIC_RETURN_IF_ERROR(c.alloc(T * C * dtypeSize(dt), &dOut));
    STIC_RETURN_IF_ERROR(c.putFloats(inp.data, T * C, dt, &dInp));
    STIC_RETURN_IF_ERROR(c.putFloats(w.data, C, dt, &dW));
    if (bias.data) STIC_RETURN_IF_ERROR(c.putFloats(bias.data, C, dt, &dB));
    if (residual) STIC_RETURN_IF_ERROR(c.putFloats(res.data, T * C, dt, &dRes));
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] {
      if (kind == Norm::Layer) {
        return residual ? cuda::add_layernorm_forward(dOut, dRes, dInp, dW, dB, T, C, eps, dt, c.stream())
                        : cuda::layernorm_forward(dOut, dInp, dW, dB, T, C, eps, dt, c.stream());
      }
      return residual ? cuda::add_rmsnorm_forward(dOut, dRes, dInp, dW, T, C, eps, dt, c.stream())
                      : cuda::rmsnorm_forward(dOut, dInp, dW, T, C, eps, dt, c.stream());
    }));
    if (residual) STIC_RETURN_IF_ERROR(c.getFloats(res.data, dRes, T * C, dt));
    return c.getFloats(out.data, dOut, T * C, dt);
  });
}

Napi::Value normBackward(const Napi::CallbackInfo& info, Norm kind) {
  Args a(info, kind == Norm::Layer ? "layernormBackward" : "rmsnormBackward");
  const int64_t T = a.size("T"), C = a.size("C");
  const float eps = static_cast<float>(a.number("eps"));
  const DType dt = a.dtype();
  const int64_t reps = a.repeats();
  const std::string sz = kv("T", T) + ", " + kv("C", C);
  auto dinp = a.f32("dinp", T * C, sz), dout = a.f32("dout", T * C, sz), inp = a.f32("inp", T * C, sz);
  auto w = a.f32("weight", C, sz), dw = a.f32OrNull("dweight", C, sz);
  auto db = kind == Norm::Layer ? a.f32OrNull("dbias", C, sz) : HostArray<float>{};
  return a.run([=](DeviceCall& c) {
    DevF dDinp, dDout, dInp, dW, work;
    float *dDw = nullptr, *dDb = nullptr;
    STIC_RETURN_IF_ERROR(c.alloc(T * C * dtypeSize(dt), &dDinp));
    STIC_RETURN_IF_ERROR(c.putFloats(dout.data, T * C, dt, &dDout));
    STIC_RETURN_IF_ERROR(c.putFloats(inp.data, T * C, dt, &dInp));
    STIC_RETURN_IF_ERROR(c.putFloats(w.data, C, dt, &dW));
    if (dw.data) STIC_RETURN_IF_ERROR(c.put(dw.data, C, &dDw));  // fp32, accumulated
    if (db.data) STIC_RETURN_IF_ERROR(c.put(db.data, C, &dDb));
    STIC_RETURN_IF_ERROR(c.alloc(cuda::norm_backward_workspace_bytes(T, C), &work));
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] {
      return kind == Norm::Layer ? cuda::layernorm_backward(dDinp, dDw, dDb, dDout, dInp, dW, T, C, eps, work, dt, c.stream())
                                 : cuda::rmsnorm_backward(dDinp, dDw, dDout, dInp, dW, T, C, eps, work, dt, c.stream());
    }));
    if (dDw) STIC_RETURN_IF_ERROR(c.getBytes(dw.data, dDw, C * sizeof(float)));
    if (dDb) STIC_RETURN_IF_ERROR(c.getBytes(db.data, dDb, C * sizeof(float)));
    return c.getFloats(dinp.data, dDinp, T * C, dt);
  });
}

// ---- elementwise ---------------------------------------------------------------------------------
using UnaryFn = Status (*)(void*, const void*, int64_t, DType, cudaStream_t);

Napi::Value unary(const Napi::CallbackInfo& info, const char* op, UnaryFn fn) {
  Args a(info, op);
  const int64_t n = a.size("n");
  const DType dt = a.dtype();
  const int64_t reps = a.repeats();
  auto out = a.f32("out", n, kv("n", n)), inp = a.f32("inp", n, kv("n", n));
  return a.run([=](DeviceCall& c) {
    DevF dOut, dInp;
    STIC_RETURN_IF_ERROR(c.alloc(n * dtypeSize(dt), &dOut));
    STIC_RETURN_IF_ERROR(c.putFloats(inp.data, n, dt, &dInp));
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] { return fn(dOut, dInp, n, dt, c.stream()); }));
    return c.getFloats(out.data, dOut, n, dt);
  });
}

using GradFn = Status (*)(void*, const void*, const void*, int64_t, DType, cudaStream_t);

Napi::Value unaryGrad(const Napi::CallbackInfo& info, const char* op, GradFn fn) {
  Args a(info, op);
  const int64_t n = a.size("n");
  const DType dt = a.dtype();
  const int64_t reps = a.repeats();
  auto dinp = a.f32("dinp", n, kv("n", n)), dout = a.f32("dout", n, kv("n", n)), inp = a.f32("inp", n, kv("n", n));
  return a.run([=](DeviceCall& c) {
    DevF dDinp, dDout, dInp;
    STIC_RETURN_IF_ERROR(c.alloc(n * dtypeSize(dt), &dDinp));
    STIC_RETURN_IF_ERROR(c.putFloats(dout.data, n, dt, &dDout));
    STIC_RETURN_IF_ERROR(c.putFloats(inp.data, n, dt, &dInp));
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] { return fn(dDinp, dDout, dInp, n, dt, c.stream()); }));
    return c.getFloats(dinp.data, dDinp, n, dt);
  });
}

Napi::Value swiglu(const Napi::CallbackInfo& info) {
  Args a(info, "swiglu");
  const int64_t n = a.size("n");
  const DType dt = a.dtype();
  const int64_t reps = a.repeats();
  auto out = a.f32("out", n, kv("n", n)), gate = a.f32("gate", n, kv("n", n)), up = a.f32("up", n, kv("n", n));
  return a.run([=](DeviceCall& c) {
    DevF dOut, dG, dU;
    STIC_RETURN_IF_ERROR(c.alloc(n * dtypeSize(dt), &dOut));
    STIC_RETURN_IF_ERROR(c.putFloats(gate.data, n, dt, &dG));
    STIC_RETURN_IF_ERROR(c.putFloats(up.data, n, dt, &dU));
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] { return cuda::swiglu_forward(dOut, dG, dU, n, dt, c.stream()); }));
    return c.getFloats(out.data, dOut, n, dt);
  });
}

Napi::Value swigluBackward(const Napi::CallbackInfo& info) {
  Args a(info, "swigluBackward");
  const int64_t n = a.size("n");
  const DType dt = a.dtype();
  const int64_t reps = a.repeats();
  const std::string sz = kv("n", n);
  auto dgate = a.f32("dgate", n, sz), dup = a.f32("dup", n, sz), dout = a.f32("dout", n, sz);
  auto gate = a.f32("gate", n, sz), up = a.f32("up", n, sz);
  return a.run([=](DeviceCall& c) {
    DevF dDg, dDu, dDout, dG, dU;
    STIC_RETURN_IF_ERROR(c.alloc(n * dtypeSize(dt), &dDg));
    STIC_RETURN_IF_ERROR(c.alloc(n * dtypeSize(dt), &dDu));
    STIC_RETURN_IF_ERROR(c.putFloats(dout.data, n, dt, &dDout));
    STIC_RETURN_IF_ERROR(c.putFloats(gate.data, n, dt, &dG));
    STIC_RETURN_IF_ERROR(c.putFloats(up.data, n, dt, &dU));
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] { return cuda::swiglu_backward(dDg, dDu, dDout, dG, dU, n, dt, c.stream()); }));
    STIC_RETURN_IF_ERROR(c.getFloats(dgate.data, dDg, n, dt));
    return c.getFloats(dup.data, dDu, n, dt);
  });
}

Napi::Value add(const Napi::CallbackInfo& info) {
  Args a(info, "add");
  const int64_t n = a.size("n");
  const DType dt = a.dtype();
  const int64_t reps = a.repeats();
  auto x = a.f32("a", n, kv("n", n)), y = a.f32("b", n, kv("n", n));
  return a.run([=](DeviceCall& c) {
    DevF dA, dB;
    STIC_RETURN_IF_ERROR(c.putFloats(x.data, n, dt, &dA));
    STIC_RETURN_IF_ERROR(c.putFloats(y.data, n, dt, &dB));
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] { return cuda::add_inplace(dA, dB, n, dt, c.stream()); }));
    return c.getFloats(x.data, dA, n, dt);
  });
}

// ---- rope, embeddings, log-softmax ---------------------------------------------------------------
Napi::Value rope(const Napi::CallbackInfo& info, bool backward) {
  Args a(info, backward ? "ropeBackward" : "rope");
  const int64_t T = a.size("T"), H = a.size("H"), hd = a.size("hd");
  const int64_t ldx = a.ld("ldx", H * hd, backward ? "dx" : "x");
  const float theta = static_cast<float>(a.number("theta"));
  const DType dt = a.dtype();
  const int64_t reps = a.repeats();
  const std::string sz = kv("T", T) + ", " + kv("H", H) + ", " + kv("hd", hd) + ", " + kv("ldx", ldx);
  auto x = a.f32(backward ? "dx" : "x", span(T, H * hd, ldx), sz);
  auto pos = a.i64("positions", T, kv("T", T));
  return a.run([=](DeviceCall& c) {
    DevF dX;
    int64_t* dPos;
    STIC_RETURN_IF_ERROR(c.putFloats(x.data, x.n, dt, &dX));
    STIC_RETURN_IF_ERROR(c.put(pos.data, T, &dPos));
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] {
      return backward ? cuda::rope_backward(dX, dPos, T, H, hd, ldx, theta, dt, c.stream())
                      : cuda::rope_forward(dX, dPos, T, H, hd, ldx, theta, dt, c.stream());
    }));
    return c.getFloats(x.data, dX, x.n, dt);
  });
}

Napi::Value embedding(const Napi::CallbackInfo& info) {
  Args a(info, "embedding");
  const int64_t T = a.size("T"), C = a.size("C"), V = a.size("V");
  const DType dt = a.dtype();
  const int64_t reps = a.repeats();
  const std::string sz = kv("T", T) + ", " + kv("C", C) + ", " + kv("V", V);
  auto out = a.f32("out", T * C, sz), table = a.f32("table", V * C, sz);
  auto ids = a.i64("ids", T, sz, V, "V");
  return a.run([=](DeviceCall& c) {
    DevF dOut, dTable;
    int64_t* dIds;
    STIC_RETURN_IF_ERROR(c.alloc(T * C * dtypeSize(dt), &dOut));
    STIC_RETURN_IF_ERROR(c.putFloats(table.data, V * C, dt, &dTable));
    STIC_RETURN_IF_ERROR(c.put(ids.data, T, &dIds));
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] { return cuda::embedding_forward(dOut, dIds, dTable, T, C, dt, c.stream()); }));
    return c.getFloats(out.data, dOut, T * C, dt);
  });
}

Napi::Value embeddingBackward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingBackward");
  const int64_t T = a.size("T"), C = a.size("C"), V = a.size("V");
  const DType dt = a.dtype();
  const int64_t reps = a.repeats();
  const std::string sz = kv("T", T) + ", " + kv("C", C) + ", " + kv("V", V);
  auto dtable = a.f32("dtable", V * C, sz), dout = a.f32("dout", T * C, sz);
  auto ids = a.i64("ids", T, sz, V, "V");
  return a.run([=](DeviceCall& c) {
    float* dTab;
    DevF dDout;
    int64_t* dIds;
    STIC_RETURN_IF_ERROR(c.put(dtable.data, V * C, &dTab));
    STIC_RETURN_IF_ERROR(c.putFloats(dout.data, T * C, dt, &dDout));
    STIC_RETURN_IF_ERROR(c.put(ids.data, T, &dIds));
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] { return cuda::embedding_backward(dTab, dDout, dIds, T, C, dt, c.stream()); }));
    return c.getBytes(dtable.data, dTab, V * C * sizeof(float));
  });
}

Napi::Value logSoftmaxGather(const Napi::CallbackInfo& info) {
  Args a(info, "logSoftmaxGather");
  const int64_t T = a.size("T"), V = a.size("V");
  const DType dt = a.dtype();
  const int64_t reps = a.repeats();
  const std::string sz = kv("T", T) + ", " + kv("V", V);
  auto logp = a.f32("logp", T, sz), logits = a.f32("logits", T * V, sz);
  auto targets = a.i64("targets", T, sz, V, "V");
  return a.run([=](DeviceCall& c) {
    float* dLogp;
    DevF dLogits;
    int64_t* dTargets;
    STIC_RETURN_IF_ERROR(c.allocAs(T, &dLogp));
    STIC_RETURN_IF_ERROR(c.putFloats(logits.data, T * V, dt, &dLogits));
    STIC_RETURN_IF_ERROR(c.put(targets.data, T, &dTargets));
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] { return cuda::log_softmax_gather(dLogp, dLogits, dTargets, T, V, dt, c.stream()); }));
    return c.getBytes(logp.data, dLogp, T * sizeof(float));
  });
}

// ---- attention -----------------------------------------------------------------------------------
// The shape options of attention / attentionForwardLse / attentionBackward, with the optional
// variable-length batch: cuSeqlensQ / cuSeqlensK (Int32Array [B+1]) and qOffsets (Int32Array [B]).
struct AttentionShape {
  cuda::AttentionDims d;
  HostArray<int32_t> cuQ, cuK, qOffsets;
};

AttentionShape attentionShape(Args& a) {
  AttentionShape s;
  cuda::AttentionDims& d = s.d;
  d.T = a.size("T");
  d.S = a.size("S");
  d.Hq = a.size("Hq");
  d.Hkv = a.size("Hkv");
  d.hd = a.size("hd");
  d.ldq = a.ld("ldq", d.Hq * d.hd, "q");
  d.ldk = a.ld("ldk", d.Hkv * d.hd, "k");
  d.ldv = a.ld("ldv", d.Hkv * d.hd, "v");
  d.ldo = a.ld("ldo", d.Hq * d.hd, "out");
  d.causal = a.boolOr("causal", false);
  d.qOffset = a.sizeOr("qOffset", 0, 0);
  d.scale = static_cast<float>(a.numberOr("scale", 0.0));
  if (a.has("cuSeqlensQ")) {
    d.B = a.size("B");
    const std::string sz = kv("B", d.B);
    s.cuQ = a.i32("cuSeqlensQ", d.B + 1, sz);
    s.cuK = a.i32("cuSeqlensK", d.B + 1, sz);
    if (a.has("qOffsets")) s.qOffsets = a.i32("qOffsets", d.B, sz);
    for (int64_t b = 0; b < d.B; b++) {  // checked here: the kernels read these on the device
      const int64_t tb = s.cuQ.data[b + 1] - s.cuQ.data[b], sb = s.cuK.data[b + 1] - s.cuK.data[b];
      if (s.cuQ.data[0] != 0 || s.cuK.data[0] != 0 || tb < 0 || sb < 1) {
        throw Napi::RangeError::New(a.env(), a.name("cuSeqlensQ") + " / cuSeqlensK must start at 0 and grow, with at least one key per sequence (sequence " +
                                                 std::to_string(b) + ")");
      }
      d.maxT = std::max(d.maxT, tb);
      d.maxS = std::max(d.maxS, sb);
    }
    if (s.cuQ.data[d.B] != d.T || s.cuK.data[d.B] != d.S) {
      throw Napi::RangeError::New(a.env(), a.name("cuSeqlensQ") + " must end at T=" + std::to_string(d.T) +
                                               " and cuSeqlensK at S=" + std::to_string(d.S));
    }
  }
  return s;
}

// Device copies of the varlen arrays into d (a no-op for one sequence).
Status putSequences(DeviceCall& c, AttentionShape& s) {
  if (!s.cuQ.data) return Status::ok();
  int32_t *q, *k, *o = nullptr;
  STIC_RETURN_IF_ERROR(c.put(s.cuQ.data, s.d.B + 1, &q));
  STIC_RETURN_IF_ERROR(c.put(s.cuK.data, s.d.B + 1, &k));
  if (s.qOffsets.data) STIC_RETURN_IF_ERROR(c.put(s.qOffsets.data, s.d.B, &o));
  s.d.cuQ = q, s.d.cuK = k, s.d.qOffsets = o;
  return Status::ok();
}

Napi::Value attention(const Napi::CallbackInfo& info, bool withLse) {
  Args a(info, withLse ? "attentionForwardLse" : "attention");
  AttentionShape s = attentionShape(a);
  const cuda::AttentionDims& d = s.d;
  const DType dt = a.dtype();
  const int64_t reps = a.repeats();
  const std::string sz = kv("T", d.T) + ", " + kv("S", d.S) + ", " + kv("Hq", d.Hq) + ", " + kv("Hkv", d.Hkv) + ", " + kv("hd", d.hd);
  auto out = a.f32("out", span(d.T, d.Hq * d.hd, d.ldo), sz), q = a.f32("q", span(d.T, d.Hq * d.hd, d.ldq), sz);
  auto k = a.f32("k", span(d.S, d.Hkv * d.hd, d.ldk), sz), v = a.f32("v", span(d.S, d.Hkv * d.hd, d.ldv), sz);
  auto lse = withLse ? a.f32("lse", d.Hq * d.T, sz) : HostArray<float>{};
  return a.run([=](DeviceCall& c) mutable {
    DevF dOut, dQ, dK, dV;
    float* dLse = nullptr;
    STIC_RETURN_IF_ERROR(putSequences(c, s));
    STIC_RETURN_IF_ERROR(c.putFloats(out.data, out.n, dt, &dOut));  // strided: untouched gaps round-trip
    STIC_RETURN_IF_ERROR(c.putFloats(q.data, q.n, dt, &dQ));
    STIC_RETURN_IF_ERROR(c.putFloats(k.data, k.n, dt, &dK));
    STIC_RETURN_IF_ERROR(c.putFloats(v.data, v.n, dt, &dV));
    if (withLse) STIC_RETURN_IF_ERROR(c.allocAs(lse.n, &dLse));
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] { return cuda::attention_forward(dOut, dLse, dQ, dK, dV, s.d, dt, c.stream()); }));
    if (withLse) STIC_RETURN_IF_ERROR(c.getBytes(lse.data, dLse, lse.n * sizeof(float)));
    return c.getFloats(out.data, dOut, out.n, dt);
  });
}

Napi::Value attentionBackward(const Napi::CallbackInfo& info) {
  Args a(info, "attentionBackward");
  AttentionShape s = attentionShape(a);
  const cuda::AttentionDims& d = s.d;
  const DType dt = a.dtype();
  const int64_t reps = a.repeats();
  const std::string sz = kv("T", d.T) + ", " + kv("S", d.S) + ", " + kv("Hq", d.Hq) + ", " + kv("Hkv", d.Hkv) + ", " + kv("hd", d.hd);
  const int64_t nq = span(d.T, d.Hq * d.hd, d.ldq), nk = span(d.S, d.Hkv * d.hd, d.ldk), nv = span(d.S, d.Hkv * d.hd, d.ldv);
  const int64_t no = span(d.T, d.Hq * d.hd, d.ldo);
  auto dq = a.f32("dq", nq, sz), dk = a.f32("dk", nk, sz), dv = a.f32("dv", nv, sz), dout = a.f32("dout", no, sz);
  auto q = a.f32("q", nq, sz), k = a.f32("k", nk, sz), v = a.f32("v", nv, sz), out = a.f32("out", no, sz);
  auto lse = a.f32("lse", d.Hq * d.T, sz);
  return a.run([=](DeviceCall& c) mutable {
    DevF dDq, dDk, dDv, dDout, dQ, dK, dV, dOut, work;
    float* dLse;
    STIC_RETURN_IF_ERROR(putSequences(c, s));
    STIC_RETURN_IF_ERROR(c.putFloats(dq.data, nq, dt, &dDq));
    STIC_RETURN_IF_ERROR(c.putFloats(dk.data, nk, dt, &dDk));  // accumulated
    STIC_RETURN_IF_ERROR(c.putFloats(dv.data, nv, dt, &dDv));
    STIC_RETURN_IF_ERROR(c.putFloats(dout.data, no, dt, &dDout));
    STIC_RETURN_IF_ERROR(c.putFloats(q.data, nq, dt, &dQ));
    STIC_RETURN_IF_ERROR(c.putFloats(k.data, nk, dt, &dK));
    STIC_RETURN_IF_ERROR(c.putFloats(v.data, nv, dt, &dV));
    STIC_RETURN_IF_ERROR(c.putFloats(out.data, no, dt, &dOut));
    STIC_RETURN_IF_ERROR(c.put(lse.data, lse.n, &dLse));
    STIC_RETURN_IF_ERROR(c.alloc(cuda::attention_backward_workspace_bytes(s.d), &work));
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] {
      return cuda::attention_backward(dDq, dDk, dDv, dDout, dQ, dK, dV, dOut, dLse, work, s.d, dt, c.stream());
    }));
    STIC_RETURN_IF_ERROR(c.getFloats(dq.data, dDq, nq, dt));
    STIC_RETURN_IF_ERROR(c.getFloats(dk.data, dDk, nk, dt));
    return c.getFloats(dv.data, dDv, nv, dt);
  });
}

void initCudaExports(Napi::Env env, Napi::Object exports) {
  Napi::Object k = cudaExports(env, exports);
  auto fn = [&](const char* name, Napi::Function::Callback cb) { k.Set(name, Napi::Function::New(env, cb, name)); };
  fn("deviceInfo", deviceInfo);
  fn("layernorm", [](const Napi::CallbackInfo& i) { return normForward(i, Norm::Layer, false); });
  fn("rmsnorm", [](const Napi::CallbackInfo& i) { return normForward(i, Norm::Rms, false); });
  fn("addLayernorm", [](const Napi::CallbackInfo& i) { return normForward(i, Norm::Layer, true); });
  fn("addRmsnorm", [](const Napi::CallbackInfo& i) { return normForward(i, Norm::Rms, true); });
  fn("layernormBackward", [](const Napi::CallbackInfo& i) { return normBackward(i, Norm::Layer); });
  fn("rmsnormBackward", [](const Napi::CallbackInfo& i) { return normBackward(i, Norm::Rms); });
  fn("quickGelu", [](const Napi::CallbackInfo& i) { return unary(i, "quickGelu", cuda::quick_gelu_forward); });
  fn("gelu", [](const Napi::CallbackInfo& i) { return unary(i, "gelu", cuda::gelu_forward); });
  fn("geluTanh", [](const Napi::CallbackInfo& i) { return unary(i, "geluTanh", cuda::gelu_tanh_forward); });
  fn("silu", [](const Napi::CallbackInfo& i) { return unary(i, "silu", cuda::silu_forward); });
  fn("relu", [](const Napi::CallbackInfo& i) { return unary(i, "relu", cuda::relu_forward); });
  fn("geluBackward", [](const Napi::CallbackInfo& i) { return unaryGrad(i, "geluBackward", cuda::gelu_backward); });
  fn("geluTanhBackward", [](const Napi::CallbackInfo& i) { return unaryGrad(i, "geluTanhBackward", cuda::gelu_tanh_backward); });
  fn("quickGeluBackward", [](const Napi::CallbackInfo& i) { return unaryGrad(i, "quickGeluBackward", cuda::quick_gelu_backward); });
  fn("siluBackward", [](const Napi::CallbackInfo& i) { return unaryGrad(i, "siluBackward", cuda::silu_backward); });
  fn("reluBackward", [](const Napi::CallbackInfo& i) { return unaryGrad(i, "reluBackward", cuda::relu_backward); });
  fn("swiglu", swiglu);
  fn("swigluBackward", swigluBackward);
  fn("add", add);
  fn("rope", [](const Napi::CallbackInfo& i) { return rope(i, false); });
  fn("ropeBackward", [](const Napi::CallbackInfo& i) { return rope(i, true); });
  fn("embedding", embedding);
  fn("embeddingBackward", embeddingBackward);
  fn("logSoftmaxGather", logSoftmaxGather);
  fn("attention", [](const Napi::CallbackInfo& i) { return attention(i, false); });
  fn("attentionForwardLse", [](const Napi::CallbackInfo& i) { return attention(i, true); });
  fn("attentionBackward", attentionBackward);
}

}  // namespace

STIC_REGISTER_LAB_EXPORTS(cuda, initCudaExports);

}  // namespace stic::addon::cuda_binding
#endif  // STIC_WITH_CUDA
