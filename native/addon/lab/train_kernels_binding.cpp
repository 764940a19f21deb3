// trainKernels.<op>({...}): Promise — the training kernels (native/cpu/ops_backward.h here, and
// native/cpu/{adamw,fused_head,lora,losses}.h in train_kernels_train_binding.cpp) exposed to JS over Float32Array / BigInt64Array, for tests and benchmarks (a
// training step never calls these from JS). Outputs are written into arrays the caller passes;
// accumulated gradients (+=) follow the native contract, so pass zeroed arrays for a fresh gradient.
// Sizes are checked eagerly: a wrong size is a RangeError naming the array, its length and the
// sizes that needed more. Workspaces are allocated here, per call, and their bytes reported.
// Legend: T tokens, C channels, K in, N out, r LoRA rank, S keys, Hq/Hkv heads, hd head dim, D
// hidden, V vocab, B pairs, n elements.
#include <napi.h>

#include <cmath>
#include <string>

#include "addon/lab/lab_registry.h"
#include "addon/lab/train_kernels_args.h"
#include "cpu/ops_backward.h"

namespace stic::addon {
namespace {

using train_binding::Args;
using train_binding::kv;
using train_binding::span;

// ---- op-level backward kernels (native/cpu/ops_backward.h) ----------------------------------------

// linearBackward({dinp?[T,K], dweight?[N,K], dbias?[N], dout[T,N], inp[T,K], weight[N,K], T, K, N})
Napi::Value linearBackward(const Napi::CallbackInfo& info) {
  Args a(info, "linearBackward");
  int64_t T = a.size("T"), K = a.size("K"), N = a.size("N");
  std::string dims = kv("T", T) + ", " + kv("K", K) + ", " + kv("N", N);
  float* dinp = a.f32OrNull("dinp", T * K, dims);
  float* dw = a.f32OrNull("dweight", N * K, dims);
  float* db = a.f32OrNull("dbias", N, dims);
  const float* dout = a.f32("dout", T * N, dims);
  const float* inp = a.f32("inp", T * K, dims);
  const float* w = a.f32("weight", N * K, dims);
  return a.run([=] { cpu::linear_backward(dinp, dw, db, dout, inp, w, T, K, N); });
}

// rmsnormBackward({dinp[T,C], dweight?[C], dout, inp, weight[C], T, C, eps})
Napi::Value rmsnormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "rmsnormBackward");
  int64_t T = a.size("T"), C = a.size("C");
  float eps = static_cast<float>(a.number("eps"));
  std::string dims = kv("T", T) + ", " + kv("C", C);
  float* dinp = a.f32("dinp", T * C, dims);
  float* dw = a.f32OrNull("dweight", C, dims);
  const float* dout = a.f32("dout", T * C, dims);
  const float* inp = a.f32("inp", T * C, dims);
  const float* w = a.f32("weight", C, dims);
  return a.run([=] { cpu::rmsnorm_backward(dinp, dw, dout, inp, w, T, C, eps); });
}

// layernormBackward({dinp[T,C], dweight?[C], dbias?[C], dout, inp, weight[C], T, C, eps})
Napi::Value layernormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "layernormBackward");
  int64_t T = a.size("T"), C = a.size("C");
  float eps = static_cast<float>(a.number("eps"));
  std::string dims = kv("T", T) + ", " + kv("C", C);
  float* dinp = a.f32("dinp", T * C, dims);
  float* dw = a.f32OrNull("dweight", C, dims);
  float* db = a.f32OrNull("dbias", C, dims);
  const float* dout = a.f32("dout", T * C, dims);
  const float* inp = a.f32("inp", T * C, dims);
  const float* w = a.f32("weight", C, dims);
  return a.run([=] { cpu::layernorm_backward(dinp, dw, db, dout, inp, w, T, C, eps); });
}

// {dinp[n], dout[n], inp[n], n}: one of the elementwise activation backwards.
template <void (*Op)(float*, const float*, const float*, int64_t)>
Napi::Value elementwiseBackward(const Napi::CallbackInfo& info, const char* op) {
  Args a(info, op);
  int64_t n = a.size("n");
  float* dinp = a.f32("dinp", n, kv("n", n));
  const float* dout = a.f32("dout", n, kv("n", n));
  const float* inp = a.f32("inp", n, kv("n", n));
  return a.run([=] { Op(dinp, dout, inp, n); });
}

// swigluBackward({dgate[n], dup[n], dout[n], gate[n], up[n], n})
Napi::Value swigluBackward(const Napi::CallbackInfo& info) {
  Args a(info, "swigluBackward");
  int64_t n = a.size("n");
  std::string dims = kv("n", n);
  float* dgate = a.f32("dgate", n, dims);
  float* dup = a.f32("dup", n, dims);
  const float* dout = a.f32("dout", n, dims);
  const float* gate = a.f32("gate", n, dims);
  const float* up = a.f32("up", n, dims);
  return a.run([=] { cpu::swiglu_backward(dgate, dup, dout, gate, up, n); });
}

// ropeBackward({dx[T,H,hd] (row stride ldx), positions[T], T, H, hd, ldx?, theta}): in place.
Napi::Value ropeBackward(const Napi::CallbackInfo& info) {
  Args a(info, "ropeBackward");
  int64_t T = a.size("T"), H = a.size("H"), hd = a.size("hd");
  if (hd % 2 != 0) a.range("hd is " + std::to_string(hd) + " but rotate_half needs an even head dim");
  int64_t ldx = a.ld("ldx", H * hd, "dx");
  float theta = static_cast<float>(a.number("theta"));
  float* dx = a.f32("dx", span(T, H * hd, ldx), kv("T", T) + ", " + kv("H", H) + ", " + kv("hd", hd) + ", " + kv("ldx", ldx));
  const int64_t* pos = a.i64("positions", T, kv("T", T));
  return a.run([=] { cpu::rope_backward(dx, pos, T, H, hd, ldx, theta); });
}

// The sizes, strides and flags shared by attentionForwardLse and attentionBackward.
struct AttnDims {
  int64_t T, S, Hq, Hkv, hd, ldq, ldk, ldv, ldo, qOffset;
  bool causal;
  float scale;
  std::string dq, dk;  // size descriptions for messages
};

AttnDims attnDims(Args& a) {
  AttnDims d;
  d.T = a.size("T"), d.S = a.size("S"), d.Hq = a.size("Hq"), d.Hkv = a.size("Hkv"), d.hd = a.size("hd");
  if (d.Hq % d.Hkv != 0) {
    a.range("Hq is " + std::to_string(d.Hq) + " but grouped-query attention needs a multiple of Hkv=" + std::to_string(d.Hkv));
  }
  d.causal = a.boolOr("causal", false);
  d.qOffset = a.sizeOr("qOffset", 0, 0);
  if (d.causal && d.qOffset + d.T > d.S) {
    a.range("causal queries at positions " + std::to_string(d.qOffset) + ".." + std::to_string(d.qOffset + d.T - 1) +
            " need S >= " + std::to_string(d.qOffset + d.T) + " keys but S=" + std::to_string(d.S));
  }
  d.scale = static_cast<float>(a.numberOr("scale", 1.0 / std::sqrt(static_cast<double>(d.hd))));
  d.ldq = a.ld("ldq", d.Hq * d.hd, "q"), d.ldo = a.ld("ldo", d.Hq * d.hd, "out");
  d.ldk = a.ld("ldk", d.Hkv * d.hd, "k"), d.ldv = a.ld("ldv", d.Hkv * d.hd, "v");
  d.dq = kv("T", d.T) + ", " + kv("Hq", d.Hq) + ", " + kv("hd", d.hd);
  d.dk = kv("S", d.S) + ", " + kv("Hkv", d.Hkv) + ", " + kv("hd", d.hd);
  return d;
}

// attentionForwardLse({out, lse[Hq,T], q, k, v, ld*?, T, S, Hq, Hkv, hd, causal?, qOffset?, scale?})
Napi::Value attentionForwardLse(const Napi::CallbackInfo& info) {
  Args a(info, "attentionForwardLse");
  AttnDims d = attnDims(a);
  float* out = a.f32("out", span(d.T, d.Hq * d.hd, d.ldo), d.dq + ", " + kv("ldo", d.ldo));
  float* lse = a.f32("lse", d.Hq * d.T, kv("Hq", d.Hq) + ", " + kv("T", d.T));
  const float* q = a.f32("q", span(d.T, d.Hq * d.hd, d.ldq), d.dq + ", " + kv("ldq", d.ldq));
  const float* k = a.f32("k", span(d.S, d.Hkv * d.hd, d.ldk), d.dk + ", " + kv("ldk", d.ldk));
  const float* v = a.f32("v", span(d.S, d.Hkv * d.hd, d.ldv), d.dk + ", " + kv("ldv", d.ldv));
  return a.run([=] {
    cpu::attention_forward_lse(out, d.ldo, lse, q, d.ldq, k, d.ldk, v, d.ldv, d.T, d.S, d.Hq, d.Hkv, d.hd, d.causal,
                               d.qOffset, d.scale);
  });
}

// attentionBackward({dq, dk (+=), dv (+=), dout, q, k, v, out, lse, ld*?, T, S, Hq, Hkv, hd, causal?,
//                    qOffset?, scale?}); each gradient has its forward twin's stride.
Napi::Value attentionBackward(const Napi::CallbackInfo& info) {
  Args a(info, "attentionBackward");
  AttnDims d = attnDims(a);
  std::string sq = d.dq + ", " + kv("ldq", d.ldq), so = d.dq + ", " + kv("ldo", d.ldo);
  std::string sk = d.dk + ", " + kv("ldk", d.ldk), sv = d.dk + ", " + kv("ldv", d.ldv);
  float* dq = a.f32("dq", span(d.T, d.Hq * d.hd, d.ldq), sq);
  float* dk = a.f32("dk", span(d.S, d.Hkv * d.hd, d.ldk), sk);
  float* dv = a.f32("dv", span(d.S, d.Hkv * d.hd, d.ldv), sv);
  const float* dout = a.f32("dout", span(d.T, d.Hq * d.hd, d.ldo), so);
  const float* q = a.f32("q", span(d.T, d.Hq * d.hd, d.ldq), sq);
  const float* k = a.f32("k", span(d.S, d.Hkv * d.hd, d.ldk), sk);
  const float* v = a.f32("v", span(d.S, d.Hkv * d.hd, d.ldv), sv);
  const float* out = a.f32("out", span(d.T, d.Hq * d.hd, d.ldo), so);
  const float* lse = a.f32("lse", d.Hq * d.T, kv("Hq", d.Hq) + ", " + kv("T", d.T));
  return a.run([=] {
    cpu::attention_backward(dq, dk, dv, dout, q, d.ldq, k, d.ldk, v, d.ldv, out, d.ldo, lse, d.T, d.S, d.Hq, d.Hkv, d.hd,
                            d.causal, d.qOffset, d.scale);
  });
}

// embeddingBackward({dtable[V,C] (+=), dout[T,C], ids[T], T, C, V})
Napi::Value embeddingBackward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingBackward");
  int64_t T = a.size("T"), C = a.size("C"), V = a.size("V");
  std::string dims = kv("T", T) + ", " + kv("C", C) + ", " + kv("V", V);
  float* dtable = a.f32("dtable", V * C, dims);
  const float* dout = a.f32("dout", T * C, dims);
  const int64_t* ids = a.i64("ids", T, kv("T", T), V, "the vocab size V");
  return a.run([=] { cpu::embedding_backward(dtable, dout, ids, T, C); });
}

void initTrainKernelsExports(Napi::Env env, Napi::Object exports) {
  Napi::Object k = Napi::Object::New(env);
  auto fn = [&](const char* name, Napi::Function::Callback cb) { k.Set(name, Napi::Function::New(env, cb, name)); };
  fn("linearBackward", linearBackward);
  fn("rmsnormBackward", rmsnormBackward);
  fn("layernormBackward", layernormBackward);
  fn("geluBackward", [](const Napi::CallbackInfo& i) { return elementwiseBackward<cpu::gelu_backward>(i, "geluBackward"); });
  fn("geluTanhBackward",
     [](const Napi::CallbackInfo& i) { return elementwiseBackward<cpu::gelu_tanh_backward>(i, "geluTanhBackward"); });
  fn("quickGeluBackward",
     [](const Napi::CallbackInfo& i) { return elementwiseBackward<cpu::quick_gelu_backward>(i, "quickGeluBackward"); });
  fn("siluBackward", [](const Napi::CallbackInfo& i) { return elementwiseBackward<cpu::silu_backward>(i, "siluBackward"); });
  fn("reluBackward", [](const Napi::CallbackInfo& i) { return elementwiseBackward<cpu::relu_backward>(i, "reluBackward"); });
  fn("swigluBackward", swigluBackward);
  fn("ropeBackward", ropeBackward);
  fn("attentionForwardLse", attentionForwardLse);
  fn("attentionBackward", attentionBackward);
  fn("embeddingBackward", embeddingBackward);
  train_binding::addTrainStepFunctions(env, k);
  exports.Set("trainKernels", k);
}

}  // namespace

STIC_REGISTER_LAB_EXPORTS(trainKernels, initTrainKernelsExports);

}  // namespace stic::addon
