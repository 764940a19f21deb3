// The training half of the cuda.* test bindings (see cuda_binding.cpp): GEMM (reference kernel or
// cuBLASLt), the fused head, the DPO/SFT losses, multi-tensor AdamW with clipping, and sampling.
// Same option objects as the CPU twins in trainKernels.* / kernels.sampleToken, plus `dtype`,
// `repeats` and, for GEMM users, `gemm`: 'cublaslt' (default) or 'reference'.
// Legend: M, N, K matrix sizes; T tokens, D hidden, V vocab, B pairs / sequences / items, n elements.
#ifdef STIC_WITH_CUDA
#include <cuda_runtime.h>
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "addon/lab/cuda_binding_args.h"
#include "addon/lab/lab_registry.h"
#include "cuda/adamw.cuh"
#include "cuda/gemm.cuh"
#include "cuda/head.cuh"
#include "cuda/losses.cuh"
#include "cuda/sampling.cuh"

namespace stic::addon::cuda_binding {
namespace {

// gemm({transA?, transB?, M, N, K, alpha?, A, lda?, B, ldb?, beta?, C, ldc?, dtype?, impl?, repeats?}):
// C (fp32) = alpha op(A) op(B) + beta C with A, B stored as dtype.
Napi::Value gemm(const Napi::CallbackInfo& info) {
  Args a(info, "gemm");
  cuda::GemmArgs g;
  g.transA = a.boolOr("transA", false), g.transB = a.boolOr("transB", false);
  g.M = a.size("M"), g.N = a.size("N"), g.K = a.size("K");
  g.alpha = static_cast<float>(a.numberOr("alpha", 1.0));
  g.beta = static_cast<float>(a.numberOr("beta", 0.0));
  g.lda = a.ld("lda", g.transA ? g.M : g.K, "A");
  g.ldb = a.ld("ldb", g.transB ? g.K : g.N, "B");
  g.ldc = a.ld("ldc", g.N, "C");
  g.ab = a.dtype();
  const bool reference = a.choiceOr("impl", {"cublaslt", "reference"}, 0) == 1;
  const int64_t reps = a.repeats();
  const std::string sz = kv("M", g.M) + ", " + kv("N", g.N) + ", " + kv("K", g.K);
  auto A = a.f32("A", g.transA ? span(g.K, g.M, g.lda) : span(g.M, g.K, g.lda), sz);
  auto B = a.f32("B", g.transB ? span(g.N, g.K, g.ldb) : span(g.K, g.N, g.ldb), sz);
  auto C = a.f32("C", span(g.M, g.N, g.ldc), sz);
  return a.run([=](DeviceCall& c) mutable {
    GemmChoice choice;
    STIC_RETURN_IF_ERROR(makeGemm(reference, choice));
    void *dA, *dB;
    float* dC;
    STIC_RETURN_IF_ERROR(c.putFloats(A.data, A.n, g.ab, &dA));
    STIC_RETURN_IF_ERROR(c.putFloats(B.data, B.n, g.ab, &dB));
    STIC_RETURN_IF_ERROR(c.put(C.data, C.n, &dC));
    g.A = dA, g.B = dB, g.C = dC;
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] { return choice.gemm->run(g, c.stream()); }));
    return c.getBytes(C.data, dC, C.n * sizeof(float));
  });
}

// ---- fused head ------------------------------------------------------------------------------
cuda::HeadDims headDims(Args& a) {
  cuda::HeadDims d;
  d.T = a.size("T"), d.D = a.size("D"), d.V = a.size("V");
  d.chunk = a.sizeOr("chunk", d.chunk, 1);
  d.vocabChunk = a.sizeOr("vocabChunk", d.vocabChunk, 1);
  return d;
}
std::string headSizes(const cuda::HeadDims& d) { return kv("T", d.T) + ", " + kv("D", d.D) + ", " + kv("V", d.V); }

// Rows with sel[t] >= 0, in order: the active rows the composites walk (head.cuh).
std::vector<int64_t> activeRows(const int64_t* sel, int64_t T) {
  std::vector<int64_t> rows;
  for (int64_t t = 0; t < T; t++) {
    if (sel[t] >= 0) rows.push_back(t);
  }
  return rows;
}

struct HeadOut {
  double ms = 0;
  double workspaceBytes = 0;
};
Napi::Value headOutToJs(Napi::Env env, HeadOut& o) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("ms", o.ms);
  r.Set("workspaceBytes", o.workspaceBytes);
  return r;
}

// fusedHeadForward({logp[T], gathered[T], lse[T], jac?[T,D], h[T,D], W[V,D], targets[T], T, D, V,
//                   chunk?, vocabChunk?, mode?, dtype?, gemm?, repeats?}) -> {ms, workspaceBytes}
Napi::Value fusedHeadForward(const Napi::CallbackInfo& info) {
  Args a(info, "fusedHeadForward");
  const cuda::HeadDims d = headDims(a);
  const cuda::GatherMode mode = a.choiceOr("mode", {"label", "top-alt"}, 0) == 1 ? cuda::GatherMode::TopAlt : cuda::GatherMode::Label;
  const DType dt = a.dtype();
  const bool reference = wantsReference(a);
  const int64_t reps = a.repeats();
  const std::string s = headSizes(d);
  auto logp = a.f32("logp", d.T, s), lse = a.f32("lse", d.T, s), jac = a.f32OrNull("jac", d.T * d.D, s);
  auto gathered = a.i64("gathered", d.T, s);
  auto h = a.f32("h", d.T * d.D, s), W = a.f32("W", d.V * d.D, s);
  auto targets = a.i64("targets", d.T, s, d.V, "the vocab size V", true);
  const std::vector<int64_t> active = activeRows(targets.data, d.T);
  return a.run<HeadOut>(
      [=](DeviceCall& c, HeadOut& out) {
        GemmChoice choice;
        STIC_RETURN_IF_ERROR(makeGemm(reference, choice));
        float *dLogp, *dLse;
        int64_t *dGathered, *dTargets, *dActive;
        void *dJac = nullptr, *dH, *dW, *work;
        STIC_RETURN_IF_ERROR(c.allocAs(d.T, &dLogp));
        STIC_RETURN_IF_ERROR(c.allocAs(d.T, &dLse));
        STIC_RETURN_IF_ERROR(c.allocAs(d.T, &dGathered));
        if (jac.data) STIC_RETURN_IF_ERROR(c.alloc(d.T * d.D * dtypeSize(dt), &dJac));
        STIC_RETURN_IF_ERROR(c.putFloats(h.data, d.T * d.D, dt, &dH));
        STIC_RETURN_IF_ERROR(c.putFloats(W.data, d.V * d.D, dt, &dW));
        STIC_RETURN_IF_ERROR(c.put(targets.data, d.T, &dTargets));
        STIC_RETURN_IF_ERROR(c.put(active.data(), active.size(), &dActive));
        const size_t wsBytes = cuda::fused_head_workspace_bytes(d, dt);
        STIC_RETURN_IF_ERROR(c.alloc(wsBytes, &work));
        out.workspaceBytes = static_cast<double>(wsBytes);
        STIC_RETURN_IF_ERROR(c.timed(reps, [&] {
          return cuda::fused_head_forward(dLogp, dGathered, dLse, dJac, work, dH, dW, dTargets, dActive,
                                          static_cast<int64_t>(active.size()), d, mode, dt, *choice.gemm, c.stream());
        }));
        out.ms = c.ms();
        STIC_RETURN_IF_ERROR(c.getBytes(logp.data, dLogp, d.T * sizeof(float)));
        STIC_RETURN_IF_ERROR(c.getBytes(lse.data, dLse, d.T * sizeof(float)));
        STIC_RETURN_IF_ERROR(c.getBytes(gathered.data, dGathered, d.T * sizeof(int64_t)));
        if (dJac) STIC_RETURN_IF_ERROR(c.getFloats(jac.data, dJac, d.T * d.D, dt));
        return Status::ok();
      },
      headOutToJs);
}

// fusedHeadBackward({dh[T,D], dW?[V,D] (fp32, accumulated by every repeat), dlogp[T], h, W, gathered[T], lse[T], T, D, V,
//                    chunk?, vocabChunk?, dtype?, gemm?, repeats?})
Napi::Value fusedHeadBackward(const Napi::CallbackInfo& info) {
  Args a(info, "fusedHeadBackward");
  const cuda::HeadDims d = headDims(a);
  const DType dt = a.dtype();
  const bool reference = wantsReference(a);
  const int64_t reps = a.repeats();
  const std::string s = headSizes(d);
  auto dh = a.f32("dh", d.T * d.D, s), dlogp = a.f32("dlogp", d.T, s), lse = a.f32("lse", d.T, s);
  auto dWeight = a.f32OrNull("dW", d.V * d.D, s);
  auto h = a.f32("h", d.T * d.D, s), W = a.f32("W", d.V * d.D, s);
  auto gathered = a.i64("gathered", d.T, s, d.V, "the vocab size V", true);
  const std::vector<int64_t> active = activeRows(gathered.data, d.T);
  return a.run<HeadOut>(
      [=](DeviceCall& c, HeadOut& out) {
        GemmChoice choice;
        STIC_RETURN_IF_ERROR(makeGemm(reference, choice));
        float* dDW = nullptr;
        if (dWeight.data) STIC_RETURN_IF_ERROR(c.put(dWeight.data, d.V * d.D, &dDW));
        float *dDlogp, *dLse;
        int64_t *dGathered, *dActive;
        void *dDh, *dH, *dW, *work;
        STIC_RETURN_IF_ERROR(c.alloc(d.T * d.D * dtypeSize(dt), &dDh));
        STIC_RETURN_IF_ERROR(c.put(dlogp.data, d.T, &dDlogp));
        STIC_RETURN_IF_ERROR(c.put(lse.data, d.T, &dLse));
        STIC_RETURN_IF_ERROR(c.put(gathered.data, d.T, &dGathered));
        STIC_RETURN_IF_ERROR(c.put(active.data(), active.size(), &dActive));
        STIC_RETURN_IF_ERROR(c.putFloats(h.data, d.T * d.D, dt, &dH));
        STIC_RETURN_IF_ERROR(c.putFloats(W.data, d.V * d.D, dt, &dW));
        const size_t wsBytes = cuda::fused_head_workspace_bytes(d, dt);
        STIC_RETURN_IF_ERROR(c.alloc(wsBytes, &work));
        out.workspaceBytes = static_cast<double>(wsBytes);
        STIC_RETURN_IF_ERROR(c.timed(reps, [&] {
          return cuda::fused_head_backward(dDh, dDW, work, dDlogp, dH, dW, dGathered, dLse, dActive,
                                           static_cast<int64_t>(active.size()), d, dt, *choice.gemm, c.stream());
        }));
        out.ms = c.ms();
        if (dDW) STIC_RETURN_IF_ERROR(c.getFloats(dWeight.data, dDW, d.V * d.D, DType::F32));
        return c.getFloats(dh.data, dDh, d.T * d.D, dt);
      },
      headOutToJs);
}

// fusedHeadBackwardSaved({dh[T,D], dlogp[T], jac[T,D], T, D, dtype?, repeats?})
Napi::Value fusedHeadBackwardSaved(const Napi::CallbackInfo& info) {
  Args a(info, "fusedHeadBackwardSaved");
  const int64_t T = a.size("T"), D = a.size("D");
  const DType dt = a.dtype();
  const int64_t reps = a.repeats();
  const std::string s = kv("T", T) + ", " + kv("D", D);
  auto dh = a.f32("dh", T * D, s), dlogp = a.f32("dlogp", T, s), jac = a.f32("jac", T * D, s);
  return a.run([=](DeviceCall& c) {
    void *dDh, *dJac;
    float* dDlogp;
    STIC_RETURN_IF_ERROR(c.alloc(T * D * dtypeSize(dt), &dDh));
    STIC_RETURN_IF_ERROR(c.putFloats(jac.data, T * D, dt, &dJac));
    STIC_RETURN_IF_ERROR(c.put(dlogp.data, T, &dDlogp));
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] { return cuda::fused_head_backward_saved(dDh, dDlogp, dJac, T, D, dt, c.stream()); }));
    return c.getFloats(dh.data, dDh, T * D, dt);
  });
}

// ---- losses ----------------------------------------------------------------------------------
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
  const std::string s = kv("B", b.B);
  auto pw = a.f32("policyChosen", b.B, s), pl = a.f32("policyRejected", b.B, s);
  auto rw = a.f32("refChosen", b.B, s), rl = a.f32("refRejected", b.B, s);
  auto dw = a.f32("dChosen", b.B, s), dl = a.f32("dRejected", b.B, s);
  auto tokens = (o.sftNorm == train::SftNorm::Mean || a.has("chosenTokens")) ? a.i64("chosenTokens", b.B, s) : HostArray<int64_t>{};
  return a.run<train::DpoMetrics>(
      [=](DeviceCall& c, train::DpoMetrics& m) {
        train::DpoBatch db = b;
        float *dPw, *dPl, *dRw, *dRl, *dDw, *dDl;
        int64_t* dTok = nullptr;
        train::DpoMetrics* dM;
        STIC_RETURN_IF_ERROR(c.put(pw.data, b.B, &dPw));
        STIC_RETURN_IF_ERROR(c.put(pl.data, b.B, &dPl));
        STIC_RETURN_IF_ERROR(c.put(rw.data, b.B, &dRw));
        STIC_RETURN_IF_ERROR(c.put(rl.data, b.B, &dRl));
        if (tokens.data) STIC_RETURN_IF_ERROR(c.put(tokens.data, b.B, &dTok));
        STIC_RETURN_IF_ERROR(c.allocAs(b.B, &dDw));
        STIC_RETURN_IF_ERROR(c.allocAs(b.B, &dDl));
        STIC_RETURN_IF_ERROR(c.allocAs(1, &dM));
        db.policyChosen = dPw, db.policyRejected = dPl, db.refChosen = dRw, db.refRejected = dRl, db.chosenTokens = dTok;
        STIC_RETURN_IF_ERROR(cuda::dpo_loss(dDw, dDl, dM, db, o, c.stream()));
        STIC_RETURN_IF_ERROR(c.getBytes(dw.data, dDw, b.B * sizeof(float)));
        STIC_RETURN_IF_ERROR(c.getBytes(dl.data, dDl, b.B * sizeof(float)));
        STIC_RETURN_IF_ERROR(c.getBytes(&m, dM, sizeof(m)));
        return c.finish();  // m is read by toJs: wait for the copy
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
  const int64_t T = a.size("T");
  const double meanOver = a.numberOr("meanOver", 0);
  auto dlogp = a.f32("dlogp", T, kv("T", T)), logp = a.f32("logp", T, kv("T", T));
  auto targets = a.i64("targets", T, kv("T", T));
  return a.run<double>(
      [=](DeviceCall& c, double& loss) {
        float *dDlogp, *dLogp;
        int64_t* dTargets;
        double* dLoss;
        STIC_RETURN_IF_ERROR(c.allocAs(T, &dDlogp));
        STIC_RETURN_IF_ERROR(c.put(logp.data, T, &dLogp));
        STIC_RETURN_IF_ERROR(c.put(targets.data, T, &dTargets));
        STIC_RETURN_IF_ERROR(c.allocAs(1, &dLoss));
        STIC_RETURN_IF_ERROR(cuda::sft_loss(dDlogp, dLoss, dLogp, dTargets, T, meanOver, c.stream()));
        STIC_RETURN_IF_ERROR(c.getBytes(dlogp.data, dDlogp, T * sizeof(float)));
        STIC_RETURN_IF_ERROR(c.getBytes(&loss, dLoss, sizeof(double)));
        return c.finish();
      },
      [](Napi::Env env, double& loss) { return Napi::Number::New(env, loss); });
}

// sumBySequence({sums[B], logp[T], seq[T], T, B}) and sequenceGradToTokens({dlogp[T], dseq[B], seq[T], T, B})
Napi::Value bySequence(const Napi::CallbackInfo& info, bool toTokens) {
  Args a(info, toTokens ? "sequenceGradToTokens" : "sumBySequence");
  const int64_t T = a.size("T"), B = a.size("B");
  auto perSeq = a.f32(toTokens ? "dseq" : "sums", B, kv("B", B));
  auto perTok = a.f32(toTokens ? "dlogp" : "logp", T, kv("T", T));
  auto seq = a.i64("seq", T, kv("T", T), B, "the sequence count B", true);
  return a.run([=](DeviceCall& c) {
    float *dSeqVals, *dTokVals;
    int64_t* dSeq;
    STIC_RETURN_IF_ERROR(c.put(seq.data, T, &dSeq));
    if (toTokens) {
      STIC_RETURN_IF_ERROR(c.put(perSeq.data, B, &dSeqVals));
      STIC_RETURN_IF_ERROR(c.allocAs(T, &dTokVals));
      STIC_RETURN_IF_ERROR(c.timed(1, [&] { return cuda::sequence_grad_to_tokens(dTokVals, dSeqVals, dSeq, T, c.stream()); }));
      return c.getBytes(perTok.data, dTokVals, T * sizeof(float));
    }
    STIC_RETURN_IF_ERROR(c.put(perTok.data, T, &dTokVals));
    STIC_RETURN_IF_ERROR(c.allocAs(B, &dSeqVals));
    STIC_RETURN_IF_ERROR(c.timed(1, [&] { return cuda::sum_by_sequence(dSeqVals, dTokVals, dSeq, T, B, c.stream()); }));
    return c.getBytes(perSeq.data, dSeqVals, B * sizeof(float));
  });
}

// ---- optimizer -------------------------------------------------------------------------------
// The tensors of one optimizer call, host side: their JS arrays and their table rows.
struct OptimizerTensors {
  std::vector<HostArray<float>> param, grad, m, v;
  std::vector<int32_t> group;
};

// Uploads every tensor (param, m, v only when present) and the table and blocks; fills `table`.
Status uploadTensors(DeviceCall& c, const OptimizerTensors& t, std::vector<cuda::AdamWTensor>& table,
                     cuda::AdamWTensor** dTable, cuda::AdamWBlock** dBlocks, int64_t* nb) {
  table.resize(t.grad.size());
  for (size_t i = 0; i < t.grad.size(); i++) {
    cuda::AdamWTensor& e = table[i];
    e.n = t.grad[i].n;
    e.group = t.group.empty() ? 0 : t.group[i];
    STIC_RETURN_IF_ERROR(c.put(t.grad[i].data, e.n, &e.grad));
    if (!t.param.empty()) {
      STIC_RETURN_IF_ERROR(c.put(t.param[i].data, e.n, &e.param));
      STIC_RETURN_IF_ERROR(c.put(t.m[i].data, e.n, &e.m));
      STIC_RETURN_IF_ERROR(c.put(t.v[i].data, e.n, &e.v));
    }
  }
  const std::vector<cuda::AdamWBlock> blocks = cuda::adamw_blocks(table.data(), static_cast<int64_t>(table.size()));
  *nb = static_cast<int64_t>(blocks.size());
  STIC_RETURN_IF_ERROR(c.put(table.data(), table.size(), dTable));
  STIC_RETURN_IF_ERROR(c.put(blocks.data(), blocks.size(), dBlocks));
  return c.finish();  // the host vectors above are about to go out of scope: let the copies finish
}

OptimizerTensors gradsOnly(Args& a) {
  OptimizerTensors t;
  Napi::Array arr = a.array("grads");
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    const int64_t n = v.IsTypedArray() ? static_cast<int64_t>(v.As<Napi::TypedArray>().ElementLength()) : 0;
    t.grad.push_back(a.typed<float>(v, a.name("grads") + "[" + std::to_string(i) + "]", napi_float32_array, n, ""));
  }
  return t;
}

struct NormOut {
  double norm = 0;
  int32_t skipped = 0;
};

// gradNorm({grads}) -> norm; clipGradNorm({grads, maxNorm}) -> the norm before clipping (grads scaled in place).
Napi::Value gradNorm(const Napi::CallbackInfo& info, bool clip) {
  Args a(info, clip ? "clipGradNorm" : "gradNorm");
  const double maxNorm = clip ? a.number("maxNorm") : 0.0;
  const OptimizerTensors t = gradsOnly(a);
  return a.run<NormOut>(
      [=](DeviceCall& c, NormOut& out) {
        std::vector<cuda::AdamWTensor> table;
        cuda::AdamWTensor* dTable;
        cuda::AdamWBlock* dBlocks;
        int64_t nb = 0;
        STIC_RETURN_IF_ERROR(uploadTensors(c, t, table, &dTable, &dBlocks, &nb));
        double* dNorm;
        int32_t* dSkip;
        void* work;
        STIC_RETURN_IF_ERROR(c.allocAs(1, &dNorm));
        STIC_RETURN_IF_ERROR(c.allocAs(1, &dSkip, true));
        STIC_RETURN_IF_ERROR(c.alloc(cuda::grad_norm_workspace_bytes(nb), &work));
        STIC_RETURN_IF_ERROR(clip ? cuda::clip_grad_norm(dNorm, dSkip, work, dTable, dBlocks, nb, maxNorm, c.stream())
                                  : cuda::grad_global_norm(dNorm, work, dTable, dBlocks, nb, c.stream()));
        for (size_t i = 0; clip && i < t.grad.size(); i++) {
          STIC_RETURN_IF_ERROR(c.getBytes(t.grad[i].data, table[i].grad, t.grad[i].n * sizeof(float)));
        }
        STIC_RETURN_IF_ERROR(c.getBytes(&out.norm, dNorm, sizeof(double)));
        return c.finish();
      },
      [](Napi::Env env, NormOut& o) { return Napi::Number::New(env, o.norm); });
}

// adamwStep({params: [{param, grad, m, v, group?}], groups: [{lr, weightDecay}], step, beta1?, beta2?, eps?,
//            maxGradNorm?}) -> {gradNorm, skipped}: with maxGradNorm, clipping (device-side decision, no
// host round trip) and AdamW run back to back on one stream, as in a training step.
Napi::Value adamwStep(const Napi::CallbackInfo& info) {
  Args a(info, "adamwStep");
  OptimizerTensors t;
  Napi::Array params = a.array("params");
  for (uint32_t i = 0; i < params.Length(); i++) {
    const addon::Args p(params.Get(i), a.name("params") + "[" + std::to_string(i) + "]");
    Napi::Value g = p.get("grad");
    const int64_t n = g.IsTypedArray() ? static_cast<int64_t>(g.As<Napi::TypedArray>().ElementLength()) : 0;
    const std::string sz = "the gradient's " + kv("n", n);
    t.grad.push_back(a.typed<float>(g, p.name("grad"), napi_float32_array, n, sz));
    t.param.push_back(a.typed<float>(p.get("param"), p.name("param"), napi_float32_array, n, sz));
    t.m.push_back(a.typed<float>(p.get("m"), p.name("m"), napi_float32_array, n, sz));
    t.v.push_back(a.typed<float>(p.get("v"), p.name("v"), napi_float32_array, n, sz));
    t.group.push_back(static_cast<int32_t>(p.has("group") ? p.integer("group") : 0));
  }
  std::vector<train::ParamGroup> groups;
  Napi::Array ga = a.array("groups");
  for (uint32_t i = 0; i < ga.Length(); i++) {
    const addon::Args g(ga.Get(i), a.name("groups") + "[" + std::to_string(i) + "]");
    groups.push_back({g.number("lr"), g.number("weightDecay")});
  }
  for (size_t i = 0; i < t.group.size(); i++) {
    if (t.group[i] < 0 || t.group[i] >= static_cast<int32_t>(groups.size())) {
      throw Napi::RangeError::New(a.env(), a.name("params") + "[" + std::to_string(i) + "].group is " + std::to_string(t.group[i]) +
                                               " but there are " + std::to_string(groups.size()) + " groups");
    }
  }
  train::AdamWHyper hyper;
  hyper.beta1 = a.numberOr("beta1", hyper.beta1);
  hyper.beta2 = a.numberOr("beta2", hyper.beta2);
  hyper.eps = a.numberOr("eps", hyper.eps);
  const int64_t step = a.size("step");
  const double maxNorm = a.numberOr("maxGradNorm", 0.0);
  auto constants = cuda::adamw_constants(groups.data(), static_cast<int64_t>(groups.size()), hyper, step);
  if (!constants.isOk()) throw statusToError(a.env(), constants.status());
  const cuda::AdamWStepConstants k = constants.value();
  return a.run<NormOut>(
      [=](DeviceCall& c, NormOut& out) {
        std::vector<cuda::AdamWTensor> table;
        cuda::AdamWTensor* dTable;
        cuda::AdamWBlock* dBlocks;
        int64_t nb = 0;
        STIC_RETURN_IF_ERROR(uploadTensors(c, t, table, &dTable, &dBlocks, &nb));
        double* dNorm;
        int32_t* dSkip = nullptr;
        void* work;
        STIC_RETURN_IF_ERROR(c.allocAs(1, &dNorm, true));
        STIC_RETURN_IF_ERROR(c.alloc(cuda::grad_norm_workspace_bytes(nb), &work));
        if (maxNorm > 0) {
          STIC_RETURN_IF_ERROR(c.allocAs(1, &dSkip, true));
          STIC_RETURN_IF_ERROR(cuda::clip_grad_norm(dNorm, dSkip, work, dTable, dBlocks, nb, maxNorm, c.stream()));
        }
        STIC_RETURN_IF_ERROR(cuda::adamw_step(dTable, dBlocks, nb, k, dSkip, c.stream()));
        for (size_t i = 0; i < t.grad.size(); i++) {
          STIC_RETURN_IF_ERROR(c.getBytes(t.param[i].data, table[i].param, t.grad[i].n * sizeof(float)));
          STIC_RETURN_IF_ERROR(c.getBytes(t.m[i].data, table[i].m, t.grad[i].n * sizeof(float)));
          STIC_RETURN_IF_ERROR(c.getBytes(t.v[i].data, table[i].v, t.grad[i].n * sizeof(float)));
          STIC_RETURN_IF_ERROR(c.getBytes(t.grad[i].data, table[i].grad, t.grad[i].n * sizeof(float)));
        }
        STIC_RETURN_IF_ERROR(c.getBytes(&out.norm, dNorm, sizeof(double)));
        if (dSkip) STIC_RETURN_IF_ERROR(c.getBytes(&out.skipped, dSkip, sizeof(int32_t)));
        out.norm = maxNorm > 0 ? out.norm : -1.0;
        return c.finish();
      },
      [maxNorm](Napi::Env env, NormOut& o) {
        Napi::Object r = Napi::Object::New(env);
        r.Set("gradNorm", maxNorm > 0 ? Napi::Value(Napi::Number::New(env, o.norm)) : env.Null());
        r.Set("skipped", Napi::Boolean::New(env, o.skipped != 0));
        return Napi::Value(r);
      });
}

// ---- sampling --------------------------------------------------------------------------------
// sampleTokens({logits[B*ld], B, V, ld?, items: [{temperature, topK, topP, seed, step}], tokens: Int32Array[B], dtype?, repeats?})
Napi::Value sampleTokens(const Napi::CallbackInfo& info) {
  Args a(info, "sampleTokens");
  const int64_t B = a.size("B"), V = a.size("V"), ld = a.ld("ld", V, "logits");
  const DType dt = a.dtype();
  const int64_t reps = a.repeats();
  const std::string sz = kv("B", B) + ", " + kv("V", V) + ", " + kv("ld", ld);
  auto logits = a.f32("logits", span(B, V, ld), sz);
  auto tokens = a.i32("tokens", B, sz);
  Napi::Array arr = a.array("items");
  if (static_cast<int64_t>(arr.Length()) != B) {
    throw Napi::RangeError::New(a.env(), a.name("items") + " holds " + std::to_string(arr.Length()) + " items but B=" + std::to_string(B));
  }
  std::vector<cuda::SampleItem> items(B);
  for (int64_t i = 0; i < B; i++) {
    const addon::Args o(arr.Get(static_cast<uint32_t>(i)), a.name("items") + "[" + std::to_string(i) + "]");
    items[i].temperature = static_cast<float>(o.number("temperature"));
    items[i].topK = static_cast<int32_t>(o.integer("topK"));
    items[i].topP = static_cast<float>(o.number("topP"));
    items[i].seed = static_cast<uint64_t>(o.integer("seed"));
    items[i].step = static_cast<uint64_t>(o.integer("step"));
    items[i].pad = 0;
  }
  return a.run([=](DeviceCall& c) {
    void *dLogits, *work;
    cuda::SampleItem* dItems;
    int32_t* dTokens;
    STIC_RETURN_IF_ERROR(c.putFloats(logits.data, logits.n, dt, &dLogits));
    STIC_RETURN_IF_ERROR(c.put(items.data(), items.size(), &dItems));
    STIC_RETURN_IF_ERROR(c.allocAs(B, &dTokens));
    STIC_RETURN_IF_ERROR(c.alloc(cuda::sample_tokens_workspace_bytes(B, V), &work));
    STIC_RETURN_IF_ERROR(c.timed(reps, [&] { return cuda::sample_tokens(dTokens, dLogits, ld, dItems, B, V, work, dt, c.stream()); }));
    return c.getBytes(tokens.data, dTokens, B * sizeof(int32_t));
  });
}

void initCudaTrainExports(Napi::Env env, Napi::Object exports) {
  Napi::Object k = cudaExports(env, exports);
  auto fn = [&](const char* name, Napi::Function::Callback cb) { k.Set(name, Napi::Function::New(env, cb, name)); };
  fn("gemm", gemm);
  fn("fusedHeadForward", fusedHeadForward);
  fn("fusedHeadBackward", fusedHeadBackward);
  fn("fusedHeadBackwardSaved", fusedHeadBackwardSaved);
  fn("dpoLoss", dpoLoss);
  fn("sftLoss", sftLoss);
  fn("sumBySequence", [](const Napi::CallbackInfo& i) { return bySequence(i, false); });
  fn("sequenceGradToTokens", [](const Napi::CallbackInfo& i) { return bySequence(i, true); });
  fn("gradNorm", [](const Napi::CallbackInfo& i) { return gradNorm(i, false); });
  fn("clipGradNorm", [](const Napi::CallbackInfo& i) { return gradNorm(i, true); });
  fn("adamwStep", adamwStep);
  fn("sampleTokens", sampleTokens);
}

}  // namespace

STIC_REGISTER_LAB_EXPORTS(cuda_train, initCudaTrainExports);

}  // namespace stic::addon::cuda_binding
#endif  // STIC_WITH_CUDA
