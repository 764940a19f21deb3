// The second half of trainKernels (see train_kernels_binding.cpp): LoRA linear and the ops table's LoRA delta, the fused head
// (and its naive twin for benchmarks), the DPO/SFT losses and AdamW, over typed arrays.
// Legend: T tokens, K in, N out, r LoRA rank, D hidden, V vocab, B pairs / sequences, n elements.
#include <napi.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "addon/lab/lora_args.h"
#include "addon/lab/train_kernels_args.h"
#include "cpu/adamw.h"
#include "cpu/fused_head.h"
#include "cpu/lora.h"
#include "cpu/losses.h"

namespace stic::addon::train_binding {
namespace {

// A heap buffer owned by the worker, counted in the bytes a call reports.
struct Buffer {
  std::unique_ptr<char[]> data;
  template <typename T>
  T* alloc(size_t bytes, size_t& counter) {
    data.reset(new char[bytes > 0 ? bytes : 1]);
    counter += bytes;
    return reinterpret_cast<T*>(data.get());
  }
};

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// ---- LoRA -----------------------------------------------------------------------------------

using lab::dropoutKey;
using lab::loraDims;
using lab::loraSizes;

// loraForward({out[T,N], xa[T,r], x[T,K], W[N,K], bias?[N], A[r,K], B[N,r], T, K, N, r, scale, dropout?, key?})
Napi::Value loraForward(const Napi::CallbackInfo& info) {
  Args a(info, "loraForward");
  train::LoraDims d = loraDims(a);
  train::DropoutKey key = dropoutKey(a);
  std::string s = loraSizes(d);
  float* out = a.f32("out", d.T * d.N, s);
  float* xa = a.f32("xa", d.T * d.r, s);
  const float* x = a.f32("x", d.T * d.K, s);
  const float* W = a.f32("W", d.N * d.K, s);
  const float* bias = a.f32OrNull("bias", d.N, s);
  const float* A = a.f32("A", d.r * d.K, s);
  const float* B = a.f32("B", d.N * d.r, s);
  return a.run([=] {
    std::vector<float> work(train::lora_workspace_floats(d));
    train::lora_linear_forward(out, xa, work.data(), x, W, bias, A, B, d, key);
  });
}

// loraBackward({dx?[T,K], dA?[r,K] (+=), dB?[N,r] (+=), dout[T,N], x, xa, W, A, B, T, K, N, r, scale, dropout?, key?})
Napi::Value loraBackward(const Napi::CallbackInfo& info) {
  Args a(info, "loraBackward");
  train::LoraDims d = loraDims(a);
  train::DropoutKey key = dropoutKey(a);
  std::string s = loraSizes(d);
  float* dx = a.f32OrNull("dx", d.T * d.K, s);
  float* dA = a.f32OrNull("dA", d.r * d.K, s);
  float* dB = a.f32OrNull("dB", d.N * d.r, s);
  const float* dout = a.f32("dout", d.T * d.N, s);
  const float* x = a.f32("x", d.T * d.K, s);
  const float* xa = a.f32("xa", d.T * d.r, s);
  const float* W = a.f32("W", d.N * d.K, s);
  const float* A = a.f32("A", d.r * d.K, s);
  const float* B = a.f32("B", d.N * d.r, s);
  return a.run([=] {
    std::vector<float> work(train::lora_workspace_floats(d));
    train::lora_linear_backward(dx, dA, dB, work.data(), dout, x, xa, W, A, B, d, key);
  });
}

// loraDeltaForward({out[T,N] (row stride ldo?, +=), xa[T,r], x[T,K], A[r,K], B[N,r], T, K, N, r, scale, dropout?, key?}):
// the ops table's lora.lora_delta_forward.
Napi::Value loraDeltaForward(const Napi::CallbackInfo& info) {
  Args a(info, "loraDeltaForward");
  train::LoraDims d = loraDims(a);
  train::DropoutKey key = dropoutKey(a);
  std::string s = loraSizes(d);
  const int64_t ldo = a.ld("ldo", d.N, "out");
  float* out = a.f32("out", span(d.T, d.N, ldo), s);
  float* xa = a.f32("xa", d.T * d.r, s);
  const float* x = a.f32("x", d.T * d.K, s);
  const float* A = a.f32("A", d.r * d.K, s);
  const float* B = a.f32("B", d.N * d.r, s);
  return a.run([=] {
    std::vector<float> work(train::lora_workspace_floats(d));
    train::lora_delta_forward(out, ldo, xa, work.data(), x, A, B, d, key);
  });
}

// loraDeltaBackward({dx?[T,K] (+=), dA?[r,K] (+=), dB?[N,r] (+=), dout[T,N] (row stride ldd?), x, xa, A, B, T, K, N, r,
// scale, dropout?, key?}): the ops table's lora.lora_delta_backward.
Napi::Value loraDeltaBackward(const Napi::CallbackInfo& info) {
  Args a(info, "loraDeltaBackward");
  train::LoraDims d = loraDims(a);
  train::DropoutKey key = dropoutKey(a);
  std::string s = loraSizes(d);
  const int64_t ldd = a.ld("ldd", d.N, "dout");
  float* dx = a.f32OrNull("dx", d.T * d.K, s);
  float* dA = a.f32OrNull("dA", d.r * d.K, s);
  float* dB = a.f32OrNull("dB", d.N * d.r, s);
  const float* dout = a.f32("dout", span(d.T, d.N, ldd), s);
  const float* x = a.f32("x", d.T * d.K, s);
  const float* xa = a.f32("xa", d.T * d.r, s);
  const float* A = a.f32("A", d.r * d.K, s);
  const float* B = a.f32("B", d.N * d.r, s);
  return a.run([=] {
    std::vector<float> work(train::lora_workspace_floats(d));
    train::lora_delta_backward(dx, dA, dB, work.data(), dout, ldd, x, xa, A, B, d, key);
  });
}

// loraDropout({out[T,K], x[T,K], T, K, p, key?})
Napi::Value loraDropout(const Napi::CallbackInfo& info) {
  Args a(info, "loraDropout");
  int64_t T = a.size("T"), K = a.size("K");
  const float p = static_cast<float>(a.number("p", addon::Num::Probability));
  train::DropoutKey key = dropoutKey(a);
  float* out = a.f32("out", T * K, kv("T", T) + ", " + kv("K", K));
  const float* x = a.f32("x", T * K, kv("T", T) + ", " + kv("K", K));
  return a.run([=] { train::lora_dropout(out, x, T, K, p, key); });
}

// ---- fused head -------------------------------------------------------------------------------

train::HeadDims headDims(Args& a) {
  train::HeadDims d;
  d.T = a.size("T"), d.D = a.size("D"), d.V = a.size("V", 2);
  d.chunk = a.sizeOr("chunk", d.chunk, 1);
  d.vocabChunk = a.sizeOr("vocabChunk", d.vocabChunk, 1);
  return d;
}
std::string headSizes(const train::HeadDims& d) { return kv("T", d.T) + ", " + kv("D", d.D) + ", " + kv("V", d.V); }
train::GatherMode gatherMode(Args& a) {
  return a.choiceOr("mode", {"label", "top-alt"}, 0) == 1 ? train::GatherMode::TopAlt : train::GatherMode::Label;
}

struct Report {
  size_t bytes = 0;
  double forwardMs = 0, backwardMs = 0;
};
Napi::Value reportToJs(Napi::Env env, Report& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("workspaceBytes", Napi::Number::New(env, static_cast<double>(r.bytes)));
  o.Set("forwardMs", Napi::Number::New(env, r.forwardMs));
  o.Set("backwardMs", Napi::Number::New(env, r.backwardMs));
  return o;
}

// fusedHeadForward({logp[T], gathered[T], lse[T], jac?[T,D], h[T,D], W[V,D], targets[T], T, D, V, chunk?, vocabChunk?, mode?})
Napi::Value fusedHeadForward(const Napi::CallbackInfo& info) {
  Args a(info, "fusedHeadForward");
  train::HeadDims d = headDims(a);
  train::GatherMode mode = gatherMode(a);
  std::string s = headSizes(d);
  float* logp = a.f32("logp", d.T, s);
  int64_t* gathered = a.i64("gathered", d.T, s);
  float* lse = a.f32("lse", d.T, s);
  float* jac = a.f32OrNull("jac", d.T * d.D, s);
  const float* h = a.f32("h", d.T * d.D, s);
  const float* W = a.f32("W", d.V * d.D, s);
  const int64_t* targets = a.i64("targets", d.T, s, d.V, "the vocab size V", true);
  return a.run<Report>(
      [=](Report& r) {
        Buffer work;
        void* ws = work.alloc<void>(train::fused_head_workspace_bytes(d), r.bytes);
        train::fused_head_forward(logp, gathered, lse, jac, ws, h, W, targets, d, mode);
        return Status::ok();
      },
      reportToJs);
}

// fusedHeadBackward({dh[T,D], dW?[V,D] (accumulated), dlogp[T], h, W, gathered[T], lse[T], T, D, V, chunk?, vocabChunk?})
Napi::Value fusedHeadBackward(const Napi::CallbackInfo& info) {
  Args a(info, "fusedHeadBackward");
  train::HeadDims d = headDims(a);
  std::string s = headSizes(d);
  float* dh = a.f32("dh", d.T * d.D, s);
  float* dW = a.f32OrNull("dW", d.V * d.D, s);
  const float* dlogp = a.f32("dlogp", d.T, s);
  const float* h = a.f32("h", d.T * d.D, s);
  const float* W = a.f32("W", d.V * d.D, s);
  const int64_t* gathered = a.i64("gathered", d.T, s, d.V, "the vocab size V", true);
  const float* lse = a.f32("lse", d.T, s);
  return a.run<Report>(
      [=](Report& r) {
        Buffer work;
        void* ws = work.alloc<void>(train::fused_head_workspace_bytes(d), r.bytes);
        train::fused_head_backward(dh, dW, ws, dlogp, h, W, gathered, lse, d);
        return Status::ok();
      },
      reportToJs);
}

// fusedHeadBackwardSaved({dh[T,D], dlogp[T], jac[T,D], T, D})
Napi::Value fusedHeadBackwardSaved(const Napi::CallbackInfo& info) {
  Args a(info, "fusedHeadBackwardSaved");
  int64_t T = a.size("T"), D = a.size("D");
  std::string s = kv("T", T) + ", " + kv("D", D);
  float* dh = a.f32("dh", T * D, s);
  const float* dlogp = a.f32("dlogp", T, s);
  const float* jac = a.f32("jac", T * D, s);
  return a.run([=] { train::fused_head_backward_saved(dh, dlogp, jac, T, D); });
}

// headStep({path: 'fused'|'fused-recompute'|'naive', logp[T], dh[T,D], dlogp[T], h, W, targets, T, D, V, chunk?, vocabChunk?}):
// a forward then a backward with a given dlogp, each path allocating (and counting) all its own
// scratch; resolves to {workspaceBytes, forwardMs, backwardMs} (native wall time). For benchmarks.
Napi::Value headStep(const Napi::CallbackInfo& info) {
  Args a(info, "headStep");
  const int path = a.choiceOr("path", {"fused", "fused-recompute", "naive"}, 0);
  train::HeadDims d = headDims(a);
  std::string s = headSizes(d);
  float* logp = a.f32("logp", d.T, s);
  float* dh = a.f32("dh", d.T * d.D, s);
  const float* dlogp = a.f32("dlogp", d.T, s);
  const float* h = a.f32("h", d.T * d.D, s);
  const float* W = a.f32("W", d.V * d.D, s);
  const int64_t* targets = a.i64("targets", d.T, s, d.V, "the vocab size V", true);
  return a.run<Report>(
      [=](Report& r) {
        Buffer work, lse, gathered, jac;
        auto t0 = std::chrono::steady_clock::now();
        if (path == 2) {
          void* ws = work.alloc<void>(train::naive_head_workspace_bytes(d), r.bytes);
          train::naive_head_forward(logp, ws, h, W, targets, d);
          r.forwardMs = msSince(t0);
          t0 = std::chrono::steady_clock::now();
          train::naive_head_backward(dh, ws, dlogp, W, targets, d);
          r.backwardMs = msSince(t0);
          return Status::ok();
        }
        void* ws = work.alloc<void>(train::fused_head_workspace_bytes(d), r.bytes);
        float* l = lse.alloc<float>(d.T * sizeof(float), r.bytes);
        int64_t* g = gathered.alloc<int64_t>(d.T * sizeof(int64_t), r.bytes);
        float* j = path == 0 ? jac.alloc<float>(d.T * d.D * sizeof(float), r.bytes) : nullptr;
        train::fused_head_forward(logp, g, l, j, ws, h, W, targets, d, train::GatherMode::Label);
        r.forwardMs = msSince(t0);
        t0 = std::chrono::steady_clock::now();
        if (j) {
          train::fused_head_backward_saved(dh, dlogp, j, d.T, d.D);
        } else {
          train::fused_head_backward(dh, nullptr, ws, dlogp, h, W, g, l, d);
        }
        r.backwardMs = msSince(t0);
        return Status::ok();
      },
      reportToJs);
}

// ---- losses -----------------------------------------------------------------------------------

// dpoLoss({policyChosen[B], policyRejected[B], refChosen[B], refRejected[B], chosenTokens?[B],
//          dChosen[B], dRejected[B], B, loss?, beta?, sftWeight?, sftNorm?, meanOver?}) -> metrics
Napi::Value dpoLoss(const Napi::CallbackInfo& info) {
  Args a(info, "dpoLoss");
  train::DpoBatch b;
  train::DpoOptions o;
  b.B = a.size("B");
  o.loss = static_cast<train::PreferenceLoss>(a.choiceOr("loss", {"sigmoid", "hinge", "ipo"}, 0));
  o.beta = a.numberOr("beta", o.beta);
  o.sftWeight = a.numberOr("sftWeight", o.sftWeight);
  o.sftNorm = a.choiceOr("sftNorm", {"sum", "mean"}, 0) == 1 ? train::SftNorm::Mean : train::SftNorm::Sum;
  b.meanOver = a.numberOr("meanOver", 0);
  std::string s = kv("B", b.B);
  b.policyChosen = a.f32("policyChosen", b.B, s);
  b.policyRejected = a.f32("policyRejected", b.B, s);
  b.refChosen = a.f32("refChosen", b.B, s);
  b.refRejected = a.f32("refRejected", b.B, s);
  if (o.sftNorm == train::SftNorm::Mean || a.has("chosenTokens")) {
    b.chosenTokens = a.i64("chosenTokens", b.B, s);
    for (int64_t i = 0; i < b.B; i++) {
      if (b.chosenTokens[i] < 1) a.range("chosenTokens[" + std::to_string(i) + "] is " + std::to_string(b.chosenTokens[i]) + " but a chosen response has at least 1 token");
    }
  }
  float* dChosen = a.f32("dChosen", b.B, s);
  float* dRejected = a.f32("dRejected", b.B, s);
  return a.run<train::DpoMetrics>(
      [=](train::DpoMetrics& m) {
        m = train::dpo_loss(dChosen, dRejected, b, o);
        return Status::ok();
      },
      [](Napi::Env env, train::DpoMetrics& m) {
        Napi::Object r = Napi::Object::New(env);
        r.Set("loss", m.loss), r.Set("rewardChosen", m.rewardChosen), r.Set("rewardRejected", m.rewardRejected);
        r.Set("rewardAccuracy", m.rewardAccuracy), r.Set("rewardMargin", m.rewardMargin);
        r.Set("logpChosen", m.logpChosen), r.Set("logpRejected", m.logpRejected);
        return Napi::Value(r);
      });
}

// sftLoss({dlogp[T], logp[T], targets[T] (< 0: ignored), T, meanOver?}) -> loss
Napi::Value sftLoss(const Napi::CallbackInfo& info) {
  Args a(info, "sftLoss");
  int64_t T = a.size("T");
  double meanOver = a.numberOr("meanOver", 0);
  float* dlogp = a.f32("dlogp", T, kv("T", T));
  const float* logp = a.f32("logp", T, kv("T", T));
  const int64_t* targets = a.i64("targets", T, kv("T", T));
  return a.run<double>(
      [=](double& loss) {
        loss = train::sft_loss(dlogp, logp, targets, T, meanOver);
        return Status::ok();
      },
      [](Napi::Env env, double& loss) { return Napi::Number::New(env, loss); });
}

// sumBySequence({sums[B], logp[T], seq[T] (< 0: none), T, B}); sequenceGradToTokens({dlogp[T], dseq[B], seq[T], T, B})
Napi::Value sumBySequence(const Napi::CallbackInfo& info) {
  Args a(info, "sumBySequence");
  int64_t T = a.size("T"), B = a.size("B");
  float* sums = a.f32("sums", B, kv("B", B));
  const float* logp = a.f32("logp", T, kv("T", T));
  const int64_t* seq = a.i64("seq", T, kv("T", T), B, "the sequence count B", true);
  return a.run([=] { train::sum_by_sequence(sums, logp, seq, T, B); });
}
Napi::Value sequenceGradToTokens(const Napi::CallbackInfo& info) {
  Args a(info, "sequenceGradToTokens");
  int64_t T = a.size("T"), B = a.size("B");
  float* dlogp = a.f32("dlogp", T, kv("T", T));
  const float* dseq = a.f32("dseq", B, kv("B", B));
  const int64_t* seq = a.i64("seq", T, kv("T", T), B, "the sequence count B", true);
  return a.run([=] { train::sequence_grad_to_tokens(dlogp, dseq, seq, T); });
}

// ---- optimizer --------------------------------------------------------------------------------

// grads: Float32Array[] as gradient-only slots (for the norm and clipping).
std::vector<train::ParamSlot> gradSlots(Args& a) {
  Napi::Array arr = a.array("grads");
  std::vector<train::ParamSlot> slots(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    slots[i].grad = a.f32Any(arr.Get(i), a.name("grads") + "[" + std::to_string(i) + "]", &slots[i].n);
  }
  return slots;
}

// adamwStep({params: [{param, grad, m, v, group?}], groups: [{lr, weightDecay}], step, beta1?, beta2?, eps?})
Napi::Value adamwStep(const Napi::CallbackInfo& info) {
  Args a(info, "adamwStep");
  train::AdamWHyper hyper;
  hyper.beta1 = a.numberOr("beta1", hyper.beta1), hyper.beta2 = a.numberOr("beta2", hyper.beta2);
  hyper.eps = a.numberOr("eps", hyper.eps);
  int64_t step = a.size("step");
  Napi::Array ga = a.array("groups");
  std::vector<train::ParamGroup> groups(ga.Length());
  for (uint32_t i = 0; i < ga.Length(); i++) {
    const addon::Args g(ga.Get(i), a.name("groups") + "[" + std::to_string(i) + "]");
    groups[i].lr = g.number("lr");
    groups[i].weightDecay = g.number("weightDecay");
  }
  Napi::Array pa = a.array("params");
  std::vector<train::ParamSlot> slots(pa.Length());
  for (uint32_t i = 0; i < pa.Length(); i++) {
    const addon::Args p(pa.Get(i), a.name("params") + "[" + std::to_string(i) + "]");
    train::ParamSlot& s = slots[i];
    s.param = a.f32Any(p.get("param"), p.name("param"), &s.n);
    int64_t n = 0;
    for (auto [key, ptr] : {std::pair<const char*, float**>{"grad", &s.grad}, {"m", &s.m}, {"v", &s.v}}) {
      *ptr = a.f32Any(p.get(key), p.name(key), &n);
      if (n != s.n) {
        const std::string at = "params[" + std::to_string(i) + "].";
        a.range(at + key + " holds " + std::to_string(n) + " elements but " + at + "param holds " + std::to_string(s.n));
      }
    }
    s.group = p.has("group") ? p.integer("group") : 0;
  }
  return a.run<int>(
      [=](int&) { return train::adamw_step(slots.data(), static_cast<int64_t>(slots.size()), groups.data(),
                                           static_cast<int64_t>(groups.size()), hyper, step); },
      [](Napi::Env e, int&) { return e.Undefined(); });
}

// gradNorm({grads: Float32Array[]}) -> global L2 norm; clipGradNorm({grads, maxNorm}) -> the norm before clipping
Napi::Value gradNorm(const Napi::CallbackInfo& info) {
  Args a(info, "gradNorm");
  std::vector<train::ParamSlot> slots = gradSlots(a);
  return a.run<double>(
      [=](double& norm) {
        norm = train::grad_global_norm(slots.data(), static_cast<int64_t>(slots.size()));
        return Status::ok();
      },
      [](Napi::Env env, double& norm) { return Napi::Number::New(env, norm); });
}
Napi::Value clipGradNorm(const Napi::CallbackInfo& info) {
  Args a(info, "clipGradNorm");
  std::vector<train::ParamSlot> slots = gradSlots(a);
  double maxNorm = a.number("maxNorm");
  if (!(maxNorm > 0)) a.fail("maxNorm", "a positive number");
  return a.run<double>(
      [=](double& norm) {
        norm = train::clip_grad_norm(slots.data(), static_cast<int64_t>(slots.size()), maxNorm);
        return Status::ok();
      },
      [](Napi::Env env, double& norm) { return Napi::Number::New(env, norm); });
}

}  // namespace

void addTrainStepFunctions(Napi::Env env, Napi::Object& k) {
  auto fn = [&](const char* name, Napi::Function::Callback cb) { k.Set(name, Napi::Function::New(env, cb, name)); };
  fn("loraForward", loraForward);
  fn("loraBackward", loraBackward);
  fn("loraDeltaForward", loraDeltaForward);
  fn("loraDeltaBackward", loraDeltaBackward);
  fn("loraDropout", loraDropout);
  fn("fusedHeadForward", fusedHeadForward);
  fn("fusedHeadBackward", fusedHeadBackward);
  fn("fusedHeadBackwardSaved", fusedHeadBackwardSaved);
  fn("headStep", headStep);
  fn("dpoLoss", dpoLoss);
  fn("sftLoss", sftLoss);
  fn("sumBySequence", sumBySequence);
  fn("sequenceGradToTokens", sequenceGradToTokens);
  fn("adamwStep", adamwStep);
  fn("gradNorm", gradNorm);
  fn("clipGradNorm", clipGradNorm);
}

}  // namespace stic::addon::train_binding
