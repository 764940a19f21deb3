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

#include "addon/convert.h"
#include "addon/lab/lab_registry.h"
#include "addon/worker.h"
#include "cpu/ops.h"

namespace stic::addon {
namespace {

// The options object of one call, with the checks every kernel needs. Every typed array read is
// remembered so the worker keeps it alive while the kernel runs.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const std::string& op) : where_("kernels." + op) {
    obj_ = requireObject(info[0], where_ + " options");
  }

  // A positive integer size.
  int64_t size(const char* key, int64_t min = 1) {
    Napi::Value v = obj_.Get(key);
    int64_t x = requireIntValue(v, name(key));
    if (x < min) throwExpected(env(), min == 0 ? "a non-negative integer" : "a positive integer", name(key), v);
    return x;
  }
  // An optional size (a default when absent), e.g. a leading dimension.
  int64_t sizeOr(const char* key, int64_t dflt, int64_t min) { return has(key) ? size(key, min) : dflt; }
  // A leading dimension (row stride) of at least `rowLen`, `rowLen` when absent.
  int64_t ld(const char* key, int64_t rowLen, const char* of) {
    if (!has(key)) return rowLen;
    Napi::Value v = obj_.Get(key);
    int64_t x = requireIntValue(v, name(key));
    if (x < rowLen) {
      throwExpected(env(), "an integer >= " + std::to_string(rowLen) + " (the row length of " + of + ")", name(key), v);
    }
    return x;
  }
  bool flag(const char* key) {
    Napi::Value v = obj_.Get(key);
    if (v.IsUndefined()) return false;
    if (!v.IsBoolean()) throwExpected(env(), "a boolean", name(key), v);
    return v.As<Napi::Boolean>().Value();
  }
  float number(const char* key) { return static_cast<float>(requireNumber(obj_, key, where_)); }
  float numberOr(const char* key, float dflt) { return has(key) ? number(key) : dflt; }

  // A Float32Array of at least `need` elements; `sizes` describes what made `need`.
  float* f32(const char* key, int64_t need, const std::string& sizes) {
    Napi::Value v = obj_.Get(key);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throwExpected(env(), "a Float32Array", name(key), v);
    }
    auto a = v.As<Napi::Float32Array>();
    checkLength(key, static_cast<int64_t>(a.ElementLength()), need, sizes);
    keep_.push_back(v);
    return a.Data();
  }
  float* f32OrNull(const char* key, int64_t need, const std::string& sizes) {
    Napi::Value v = obj_.Get(key);
    return v.IsUndefined() || v.IsNull() ? nullptr : f32(key, need, sizes);
  }
  // A BigInt64Array of at least `need` elements, each in [0, bound) when bound > 0.
  int64_t* i64(const char* key, int64_t need, const std::string& sizes, int64_t bound = 0, const char* boundName = "") {
    Napi::Value v = obj_.Get(key);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_bigint64_array) {
      throwExpected(env(), "a BigInt64Array", name(key), v);
    }
    auto a = v.As<Napi::TypedArray>();
    checkLength(key, static_cast<int64_t>(a.ElementLength()), need, sizes);
    auto* data = reinterpret_cast<int64_t*>(static_cast<char*>(a.ArrayBuffer().Data()) + a.ByteOffset());
    for (int64_t i = 0; bound > 0 && i < need; i++) {
      if (data[i] < 0 || data[i] >= bound) {
        throw Napi::RangeError::New(env(), name(key) + "[" + std::to_string(i) + "] is " + std::to_string(data[i]) +
                                               " but must be in [0, " + std::to_string(bound) + ") (" + boundName + ")");
      }
    }
    keep_.push_back(v);
    return data;
  }

  // Queues `work` on the thread pool; the promise resolves to undefined.
  Napi::Promise run(std::function<void()> work) {
    return PromiseWorker<int>::queue(
        env(), [work](int&) { work(); return Status::ok(); }, [](Napi::Env e, int&) { return e.Undefined(); }, keep_);
  }

  std::string name(const char* key) const { return where_ + "." + key; }

 private:
  Napi::Env env() const { return obj_.Env(); }
  bool has(const char* key) const { return !obj_.Get(key).IsUndefined(); }
  void checkLength(const char* key, int64_t have, int64_t need, const std::string& sizes) {
    if (have < need) {
      throw Napi::RangeError::New(env(), name(key) + " holds " + std::to_string(have) + " elements but " + sizes +
                                             " need " + std::to_string(need));
    }
  }

  std::string where_;
  Napi::Object obj_;
  std::vector<Napi::Value> keep_;
};

std::string kv(const char* k, int64_t v) { return std::string(k) + "=" + std::to_string(v); }
// Elements a [rows, cols] matrix with row stride ld spans: the last row needs only `cols`.
int64_t span(int64_t rows, int64_t cols, int64_t ld) { return (rows - 1) * ld + cols; }

// sgemm({transA?, transB?, M, N, K, alpha?=1, A, lda?, B, ldb?, beta?=0, C, ldc?,
//        batch?=1, strideA?, strideB?, strideC?, repeats?=1})
// `repeats` (sgemm, linear, attention) runs the kernel that many times in one call, so a benchmark
// can time the kernel without the per-call Promise round trip.
Napi::Value sgemm(const Napi::CallbackInfo& info) {
  Args a(info, "sgemm");
  bool tA = a.flag("transA"), tB = a.flag("transB");
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
  bool causal = a.flag("causal");
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
  if (info.Length() > 0 && !info[0].IsUndefined()) {
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
  Napi::Object k = Napi::Object::New(env);
  auto fn = [&](const char* name, Napi::Function::Callback cb) { k.Set(name, Napi::Function::New(env, cb, name)); };
  fn("sgemm", sgemm);
  fn("linear", linear);
  fn("layernorm", layernorm);
  fn("rmsnorm", rmsnorm);
  fn("quickGelu", [](const Napi::CallbackInfo& i) { return elementwise<cpu::quick_gelu_forward>(i, "quickGelu"); });
  fn("gelu", [](const Napi::CallbackInfo& i) { return elementwise<cpu::gelu_forward>(i, "gelu"); });
  fn("geluTanh", [](const Napi::CallbackInfo& i) { return elementwise<cpu::gelu_tanh_forward>(i, "geluTanh"); });
  fn("silu", [](const Napi::CallbackInfo& i) { return elementwise<cpu::silu_forward>(i, "silu"); });
  fn("swiglu", swiglu);
  fn("add", add);
  fn("rope", rope);
  fn("attention", attention);
  fn("patchEmbed", patchEmbed);
  fn("embedding", embedding);
  fn("logSoftmaxGather", logSoftmaxGather);
  fn("gemmKernels", gemmKernels);
  fn("gemmKernelsSupported", gemmKernelsSupported);
  exports.Set("kernels", k);
}

}  // namespace

STIC_REGISTER_LAB_EXPORTS(kernels, initKernelsExports);

}  // namespace stic::addon
