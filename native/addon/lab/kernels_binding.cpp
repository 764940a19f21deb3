// kernels.<op>({...}): Promise<void> — every CPU kernel of native/cpu/ops.h exposed to JS over
// Float32Array / BigInt64Array, for tests and benchmarks (the model never calls these from JS).
// Outputs are written into arrays the caller passes. Sizes are checked here, eagerly, so a wrong
// size is a thrown RangeError naming the array, its length and the sizes that needed more.
// Legend: as in ops.h (M, N, K; T tokens, C channels, S keys, Hq/Hkv heads, hd head dim, V vocab).
#include <napi.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "addon/lab/lab_args.h"
#include "addon/lab/lab_registry.h"
#include "cpu/ops.h"
#include "cpu/patch_embed.h"

namespace stic::addon {
namespace {

// The lab's argument reader (lab_args.h) under the "kernels.<op>" name.
class Args : public lab::Args {
 public:
  Args(const Napi::CallbackInfo& info, const std::string& op) : lab::Args(info, "kernels." + op) {}
};
using lab::kv;
using lab::span;

// sgemm({transA?, transB?, M, N, K, alpha?=1, A, lda?, B, ldb?, beta?=0, C, ldc?,
//        batch?=1, strideA?, strideB?, strideC?, repeats?=1})
// `repeats` (sgemm, linear, attention) runs the kernel that many times in one call, so a benchmark
// can time the kernel without the per-call Promise round trip.
Napi::Value sgemm(const Napi::CallbackInfo& info) {
  Args a(info, "sgemm");
  bool tA = a.boolOr("transA", false), tB = a.boolOr("transB", false);
  int64_t M = a.size("M"), N = a.size("N"), K = a.size("K");
  float alpha = a.numberOr("alpha", 1.0f), beta = a.numberOr("beta", 0.0f);
  // Stored shapes: A is [M,K] or [K,M] (transA), B is [K,N] or [N,K] (transB), C is [M,N].
  int64_t aRows = tA ? K : M, aCols = tA ? M : K, bRows = tB ? N : K, bCols = tB ? K : N;
  int64_t lda = a.ld("lda", aCols, "A"), ldb = a.ld("ldb", bCols, "B"), ldc = a.ld("ldc", N, "C");
  int64_t batch = a.sizeOr("batch", 1, 1);
  int64_t sA = a.sizeOr("strideA", span(aRows, aCols, lda), 0), sB = a.sizeOr("strideB", span(bRows, bCols, ldb), 0);
  int64_t sC = a.sizeOr("strideC", span(M, N, ldc), 1);
  if (batch > 1 && sC < span(M, N, ldc)) {
    // Batches may run on different threads: overlapping outputs would be a data race.
    throw Napi::RangeError::New(info.Env(), "kernels.sgemm.strideC is " + std::to_string(sC) + " but each " +
                                                std::to_string(M) + "x" + std::to_string(N) + " C with ldc=" +
                                                std::to_string(ldc) + " spans " + std::to_string(span(M, N, ldc)) +
                                                " elements, so batches would overlap");
  }
  std::string dims = kv("M", M) + ", " + kv("N", N) + ", " + kv("K", K) + ", " + kv("batch", batch);
  const float* A = a.f32("A", (batch - 1) * sA + span(aRows, aCols, lda), dims + ", " + kv("lda", lda));
  const float* B = a.f32("B", (batch - 1) * sB + span(bRows, bCols, ldb), dims + ", " + kv("ldb", ldb));
  float* C = a.f32("C", (batch - 1) * sC + span(M, N, ldc), dims + ", " + kv("ldc", ldc));
  const int64_t repeats = a.sizeOr("repeats", 1, 1);
  return a.run([=] {
    for (int64_t r = 0; r < repeats; r++) cpu::sgemm_strided_batched(tA, tB, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch);
  });
}

// linear({out[T,N], inp[T,K], weight[N,K], bias?[N], T, K, N})
Napi::Value linear(const Napi::CallbackInfo& info) {
  Args a(info, "linear");
  int64_t T = a.size("T"), K = a.size("K"), N = a.size("N");
  std::string dims = kv("T", T) + ", " + kv("K", K) + ", " + kv("N", N);
  float* out = a.f32("out", T * N, dims);
  const float* inp = a.f32("inp", T * K, dims);
  const float* w = a.f32("weight", N * K, dims);
  const float* bias = a.f32OrNull("bias", N, dims);
  const int64_t repeats = a.sizeOr("repeats", 1, 1);
  return a.run([=] {
    for (int64_t r = 0; r < repeats; r++) cpu::linear_forward(out, inp, w, bias, T, K, N);
  });
}

// layernorm({out[T,C], inp[T,C], weight[C], bias[C], T, C, eps})
Napi::Value layernorm(const Napi::CallbackInfo& info) {
  Args a(info, "layernorm");
  int64_t T = a.size("T"), C = a.size("C");
  float eps = a.number("eps");
  std::string dims = kv("T", T) + ", " + kv("C", C);
  float* out = a.f32("out", T * C, dims);
  const float* inp = a.f32("inp", T * C, dims);
  const float* w = a.f32("weight", C, dims);
  const float* b = a.f32("bias", C, dims);
  return a.run([=] { cpu::layernorm_forward(out, inp, w, b, T, C, eps); });
}

// rmsnorm({out[T,C], inp[T,C], weight[C], T, C, eps})
Napi::Value rmsnorm(const Napi::CallbackInfo& info) {
  Args a(info, "rmsnorm");
  int64_t T = a.size("T"), C = a.size("C");
  float eps = a.number("eps");
  std::string dims = kv("T", T) + ", " + kv("C", C);
  float* out = a.f32("out", T * C, dims);
  const float* inp = a.f32("inp", T * C, dims);
  const float* w = a.f32("weight", C, dims);
  return a.run([=] { cpu::rmsnorm_forward(out, inp, w, T, C, eps); });
}

// {out[n], inp[n], n}: one of the elementwise activations.
template <void (*Op)(float*, const float*, int64_t)>
Napi::Value elementwise(const Napi::CallbackInfo& info, const char* op) {
  Args a(info, op);
  int64_t n = a.size("n");
  float* out = a.f32("out", n, kv("n", n));
  const float* inp = a.f32("inp", n, kv("n", n));
  return a.run([=] { Op(out, inp, n); });
}

// swiglu({out[n], gate[n], up[n], n})
Napi::Value swiglu(const Napi::CallbackInfo& info) {
  Args a(info, "swiglu");
  int64_t n = a.size("n");
  float* out = a.f32("out", n, kv("n", n));
  const float* gate = a.f32("gate", n, kv("n", n));
  const float* up = a.f32("up", n, kv("n", n));
  return a.run([=] { cpu::swiglu_forward(out, gate, up, n); });
}

// add({a[n], b[n], n}): a += b
Napi::Value add(const Napi::CallbackInfo& info) {
  Args a(info, "add");
  int64_t n = a.size("n");
  float* x = a.f32("a", n, kv("n", n));
  const float* y = a.f32("b", n, kv("n", n));
  return a.run([=] { cpu::add_inplace(x, y, n); });
}

// rope({x[T,H,hd] (row stride ldx), positions[T], T, H, hd, ldx?, theta})
Napi::Value rope(const Napi::CallbackInfo& info) {
  Args a(info, "rope");
  int64_t T = a.size("T"), H = a.size("H"), hd = a.size("hd");
  if (hd % 2 != 0) {
    throw Napi::RangeError::New(info.Env(), "kernels.rope.hd is " + std::to_string(hd) + " but rotate_half needs an even head dim");
  }
  int64_t ldx = a.ld("ldx", H * hd, "x");
  float theta = a.number("theta");
  std::string dims = kv("T", T) + ", " + kv("H", H) + ", " + kv("hd", hd) + ", " + kv("ldx", ldx);
  float* x = a.f32("x", span(T, H * hd, ldx), dims);
  const int64_t* pos = a.i64("positions", T, kv("T", T));
  return a.run([=] { cpu::rope_forward(x, pos, T, H, hd, ldx, theta); });
}

// attention({out[T,Hq,hd], q[T,Hq,hd], k[S,Hkv,hd], v[S,Hkv,hd], ld*?, T, S, Hq, Hkv, hd, causal?,
//            qOffset?=0, scale?=1/sqrt(hd)})
Napi::Value attention(const Napi::CallbackInfo& info) {
  Args a(info, "attention");
  int64_t T = a.size("T"), S = a.size("S"), Hq = a.size("Hq"), Hkv = a.size("Hkv"), hd = a.size("hd");
  if (Hq % Hkv != 0) {
    throw Napi::RangeError::New(info.Env(), "kernels.attention.Hq is " + std::to_string(Hq) +
                                                " but grouped-query attention needs a multiple of Hkv=" + std::to_string(Hkv));
  }
  bool causal = a.boolOr("causal", false);
  int64_t qOffset = a.sizeOr("qOffset", 0, 0);
  if (causal && qOffset + T > S) {
    throw Napi::RangeError::New(info.Env(), "kernels.attention: causal queries at positions " + std::to_string(qOffset) +
                                                ".." + std::to_string(qOffset + T - 1) + " need S >= " +
                                                std::to_string(qOffset + T) + " keys but S=" + std::to_string(S));
  }
  float scale = a.numberOr("scale", 1.0f / std::sqrt(static_cast<float>(hd)));
  int64_t ldq = a.ld("ldq", Hq * hd, "q"), ldo = a.ld("ldo", Hq * hd, "out");
  int64_t ldk = a.ld("ldk", Hkv * hd, "k"), ldv = a.ld("ldv", Hkv * hd, "v");
  std::string dq = kv("T", T) + ", " + kv("Hq", Hq) + ", " + kv("hd", hd);
  std::string dk = kv("S", S) + ", " + kv("Hkv", Hkv) + ", " + kv("hd", hd);
  float* out = a.f32("out", span(T, Hq * hd, ldo), dq + ", " + kv("ldo", ldo));
  const float* q = a.f32("q", span(T, Hq * hd, ldq), dq + ", " + kv("ldq", ldq));
  const float* k = a.f32("k", span(S, Hkv * hd, ldk), dk + ", " + kv("ldk", ldk));
  const float* v = a.f32("v", span(S, Hkv * hd, ldv), dk + ", " + kv("ldv", ldv));
  const int64_t repeats = a.sizeOr("repeats", 1, 1);
  return a.run([=] {
    for (int64_t r = 0; r < repeats; r++) cpu::attention_forward(out, ldo, q, ldq, k, ldk, v, ldv, T, S, Hq, Hkv, hd, causal, qOffset, scale);
  });
}

// patchEmbed({out[P,D], img[3,Hs,Ws], weight[D,3,p,p], Hs, Ws, p, D})
Napi::Value patchEmbed(const Napi::CallbackInfo& info) {
  Args a(info, "patchEmbed");
  int64_t Hs = a.size("Hs"), Ws = a.size("Ws"), p = a.size("p"), D = a.size("D");
  if (Hs % p != 0 || Ws % p != 0) {
    throw Napi::RangeError::New(info.Env(), "kernels.patchEmbed: image " + std::to_string(Hs) + "x" + std::to_string(Ws) +
                                                " is not a whole number of " + std::to_string(p) + "x" +
                                                std::to_string(p) + " patches");
  }
  int64_t P = (Hs / p) * (Ws / p);
  std::string dims = kv("Hs", Hs) + ", " + kv("Ws", Ws) + ", " + kv("p", p) + ", " + kv("D", D);
  float* out = a.f32("out", P * D, dims);
  const float* img = a.f32("img", 3 * Hs * Ws, dims);
  const float* w = a.f32("weight", D * 3 * p * p, dims);
  return a.run([=] { cpu::patch_embed_forward(out, img, w, Hs, Ws, p, D); });
}

// embedding({out[T,C], ids[T], table[V,C], T, C, V})
Napi::Value embedding(const Napi::CallbackInfo& info) {
  Args a(info, "embedding");
  int64_t T = a.size("T"), C = a.size("C"), V = a.size("V");
  std::string dims = kv("T", T) + ", " + kv("C", C) + ", " + kv("V", V);
  float* out = a.f32("out", T * C, dims);
  const int64_t* ids = a.i64("ids", T, kv("T", T), V, "the vocab size V");
  const float* table = a.f32("table", V * C, dims);
  return a.run([=] { cpu::embedding_forward(out, ids, table, T, C); });
}

// logSoftmaxGather({logp[T], logits[T,V], targets[T], T, V})
Napi::Value logSoftmaxGather(const Napi::CallbackInfo& info) {
  Args a(info, "logSoftmaxGather");
  int64_t T = a.size("T"), V = a.size("V");
  std::string dims = kv("T", T) + ", " + kv("V", V);
  float* logp = a.f32("logp", T, dims);
  const float* logits = a.f32("logits", T * V, dims);
  const int64_t* targets = a.i64("targets", T, kv("T", T), V, "the vocab size V");
  return a.run([=] { cpu::log_softmax_gather(logp, logits, targets, T, V); });
}

// gemmKernels(name?): string — selects the SGEMM register tiles ("avx512", "avx2", "scalar"; "" for
// the best this CPU runs) and returns the name in force; with no argument only reports it.
Napi::Value gemmKernels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!isAbsent(info[0])) {
    std::string supported;
    for (const char* n : {"avx512", "avx2", "scalar"}) {
      if (cpu::gemm_kernels_supported(n)) supported += supported.empty() ? n : std::string(", ") + n;
    }
    std::string what = "one of " + supported + " or \"\" (the kernels this CPU runs)";
    if (!info[0].IsString()) throwExpected(env, what, "kernels.gemmKernels name", info[0]);
    std::string name = info[0].As<Napi::String>().Utf8Value();
    if (!cpu::set_gemm_kernels(name.c_str())) throwExpected(env, what, "kernels.gemmKernels name", info[0]);
  }
  return Napi::String::New(env, cpu::gemm_kernels_name());
}

// gemmKernelsSupported(): string[] — the register-tile sets this CPU can run, best first.
Napi::Value gemmKernelsSupported(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  for (const char* n : {"avx512", "avx2", "scalar"}) {
    if (cpu::gemm_kernels_supported(n)) out.Set(out.Length(), Napi::String::New(env, n));
  }
  return out;
}

void initKernelsExports(Napi::Env env, Napi::Object exports) {
  Napi::Object k = stic::lab::labObject(env, exports, "kernels");
  auto fn = [&](const char* name, Napi::Function::Callback cb) { k.Set(name, Napi::Function::New(env, cb, name)); };
  fn("sgemm", sgemm);
  fn("linear", linear);
  fn("layernorm", layernorm);
  fn("rmsnorm", rmsnorm);
  fn("quickGelu", [](const Napi::CallbackInfo& i) { return elementwise<cpu::quick_gelu_forward>(i, "quickGelu"); });
  fn("gelu", [](const Napi::CallbackInfo& i) { return elementwise<cpu::gelu_forward>(i, "gelu"); });
  fn("geluTanh", [](const Napi::CallbackInfo& i) { return elementwise<cpu::gelu_tanh_forward>(i, "geluTanh"); });
  fn("silu", [](const Napi::CallbackInfo& i) { return elementwise<cpu::silu_forward>(i, "silu"); });
  fn("relu", [](const Napi::CallbackInfo& i) { return elementwise<cpu::relu_forward>(i, "relu"); });
  fn("swiglu", swiglu);
  fn("add", add);
  fn("rope", rope);
  fn("attention", attention);
  fn("patchEmbed", patchEmbed);
  fn("embedding", embedding);
  fn("logSoftmaxGather", logSoftmaxGather);
  fn("gemmKernels", gemmKernels);
  fn("gemmKernelsSupported", gemmKernelsSupported);
}

}  // namespace

STIC_REGISTER_LAB_EXPORTS(kernels, initKernelsExports);

}  // namespace stic::addon
