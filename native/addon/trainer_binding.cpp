// LLaVA training on the CPU backend (contract: TrainerBinding in lib/native/contract.ts).
//   createTrainer(model, spec) -> Promise<LlavaTrainer>
//   LlavaTrainer: spec, tensorInfo, getTensors, setTensors, getStep, setStep, pairLogprobs, dpoStep,
//                 sftStep, optimizerStep, zeroGrad, mergedWeights, memory, memoryPlan
// Inputs are copied into plain structs here (the one conversion point); every slow call is a
// PromiseWorker. One call at a time per trainer: a call while another runs is refused, so a step,
// an optimizer update and a checkpoint read can never interleave.
// Legend: N images, S image side, B pairs, r LoRA rank.
#include <napi.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "addon/args.h"
#include "addon/call_guard.h"
#include "addon/model_wrap.h"
#include "addon/param_args.h"
#include "addon/registry.h"
#include "addon/trainer_args.h"
#include "addon/worker.h"
#include "model/trainer.h"

namespace stic::addon {
namespace {

using model::Trainer;
using namespace trainer_args;

// ---- C++ -> JS ----------------------------------------------------------------------------

Napi::Array numbers(Napi::Env env, const std::vector<float>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), static_cast<double>(v[i]));
  return a;
}

Napi::Array numbers(Napi::Env env, const std::vector<int64_t>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), static_cast<double>(v[i]));
  return a;
}

Napi::Array shapeArray(Napi::Env env, const Shape& shape) {
  Napi::Array a = Napi::Array::New(env, shape.size());
  for (size_t i = 0; i < shape.size(); i++) a.Set(static_cast<uint32_t>(i), static_cast<double>(shape[i]));
  return a;
}

Napi::Float32Array floats(Napi::Env env, const float* data, int64_t n) {
  Napi::Float32Array a = Napi::Float32Array::New(env, n);
  if (n > 0) std::memcpy(a.Data(), data, n * sizeof(float));
  return a;
}

void setMetrics(Napi::Object o, const train::DpoMetrics& m) {
  o.Set("loss", m.loss);
  o.Set("rewardChosen", m.rewardChosen);
  o.Set("rewardRejected", m.rewardRejected);
  o.Set("rewardAccuracy", m.rewardAccuracy);
  o.Set("rewardMargin", m.rewardMargin);
  o.Set("logpChosen", m.logpChosen);
  o.Set("logpRejected", m.logpRejected);
}

// ---- constructors per environment (worker threads each load the addon) ---------------------

std::mutex ctorMutex;
std::map<napi_env, Napi::FunctionReference*>& ctorMap() {
  static std::map<napi_env, Napi::FunctionReference*> m;
  return m;
}
Napi::FunctionReference& trainerCtor(Napi::Env env) {
  std::lock_guard<std::mutex> lock(ctorMutex);
  return *ctorMap().at(env);
}

// ---- LlavaTrainer -------------------------------------------------------------------------

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "LlavaTrainer",
                       {InstanceMethod("spec", &TrainerWrap::spec), InstanceMethod("tensorInfo", &TrainerWrap::tensorInfo),
                        InstanceMethod("getTensors", &TrainerWrap::getTensors), InstanceMethod("setTensors", &TrainerWrap::setTensors),
                        InstanceMethod("getStep", &TrainerWrap::getStep), InstanceMethod("setStep", &TrainerWrap::setStep),
                        InstanceMethod("pairLogprobs", &TrainerWrap::pairLogprobs), InstanceMethod("dpoStep", &TrainerWrap::dpoStep),
                        InstanceMethod("sftStep", &TrainerWrap::sftStep), InstanceMethod("optimizerStep", &TrainerWrap::optimizerStep),
                        InstanceMethod("zeroGrad", &TrainerWrap::zeroGrad), InstanceMethod("mergedWeights", &TrainerWrap::mergedWeights),
                        InstanceMethod("memory", &TrainerWrap::memory), InstanceMethod("memoryPlan", &TrainerWrap::memoryPlan)});
  }
  explicit TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "LlavaTrainer cannot be constructed directly: use createTrainer()");
    }
    trainer_ = *info[0].As<Napi::External<std::shared_ptr<Trainer>>>().Data();
  }

 private:
  // Queues work on the trainer, one call at a time (call_guard.h): a step, an update and a
  // checkpoint read never interleave.
  template <typename Out>
  Napi::Promise queue(Napi::Env env, const char* method, std::function<Status(Trainer&, Out&)> work,
                      typename PromiseWorker<Out>::ToJs toJs, std::vector<Napi::Value> keep = {}) {
    keep.push_back(Value());
    auto t = trainer_;
    return guard_.queue<Out>(env, method, [t, work = std::move(work)](Out& out) { return work(*t, out); }, std::move(toJs), std::move(keep));
  }

  void requireIdle(Napi::Env env, const char* method) const { guard_.requireIdle(env, method); }

  // The trainable tensors by name, PEFT's names included (TrainableParams::find).
  TensorTable table() const {
    const model::TrainableParams& p = trainer_->params();
    return {p.store(), [pp = &p](const std::string& name) { return pp->find(name); }, "no trainable tensor is named"};
  }

  Napi::Value spec(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const model::LoraSpec& s = trainer_->params().spec();
    Napi::Object lora = Napi::Object::New(env);
    lora.Set("r", static_cast<double>(s.r));
    lora.Set("alpha", s.alpha);
    lora.Set("dropout", static_cast<double>(s.dropout));
    Napi::Array targets = Napi::Array::New(env);
    for (int m = 0; m < model::kLoraModules; m++) {
      if (s.targets[m]) targets.Set(targets.Length(), model::loraModuleName(m));
    }
    lora.Set("targets", targets);
    lora.Set("seed", static_cast<double>(s.seed));
    Napi::Object o = Napi::Object::New(env);
    o.Set("lora", lora);
    o.Set("trainProjector", trainer_->params().trainProjector());
    return o;
  }

  Napi::Value tensorInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto& ts = trainer_->params().tensors();
    Napi::Array a = Napi::Array::New(env, ts.size());
    for (size_t i = 0; i < ts.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", ts[i].name);
      o.Set("shape", shapeArray(env, ts[i].shape));
      o.Set("group", ts[i].group == model::kLoraGroup ? "lora" : "projector");
      a.Set(static_cast<uint32_t>(i), o);
    }
    return a;
  }

  Napi::Value getTensors(const Napi::CallbackInfo& info) {
    const model::ParamKind kind = requireParamKind(info[0]);
    std::vector<const model::ParamTensor*> which = requireTensorList(table(), info[1], "getTensors");
    using Out = std::vector<std::vector<float>>;
    return queue<Out>(
        info.Env(), "getTensors",
        [which = std::move(which), kind](Trainer& t, Out& out) {
          out = readKind(t.params().store(), kind, which);
          return Status::ok();
        },
        float32Arrays);
  }

  Napi::Value setTensors(const Napi::CallbackInfo& info) {
    const model::ParamKind kind = requireParamKind(info[0]);
    std::vector<TensorWrite> writes = requireTensorWrites(table(), info[1], "setTensors");
    return queue<bool>(
        info.Env(), "setTensors",
        [writes = std::move(writes), kind](Trainer& t, bool&) {
          writeKind(t.params().store(), kind, writes);
          return Status::ok();
        },
        [](Napi::Env e, bool&) { return e.Undefined(); });
  }

  Napi::Value getStep(const Napi::CallbackInfo& info) {
    requireIdle(info.Env(), "getStep");
    return Napi::Number::New(info.Env(), static_cast<double>(trainer_->params().store().step));
  }

  Napi::Value setStep(const Napi::CallbackInfo& info) {
    const int64_t step = requireInt(info[0], "step", 0);
    requireIdle(info.Env(), "setStep");
    trainer_->params().store().step = step;
    return info.Env().Undefined();
  }

  Napi::Value pairLogprobs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto images = std::make_shared<CallImages>(parseCallImages(info[0], info[1], trainer_->config()));
    std::vector<model::PairInput> pairs = parsePairs(info[2], nullptr);
    const PairLogprobsOptions o = parsePairLogprobsOptions(info[3]);
    using Out = std::vector<model::RefLogps>;
    return queue<Out>(
        env, "pairLogprobs",
        [images, pairs = std::move(pairs), o](Trainer& t, Out& out) {
          return t.pairLogprobs(out, images->batch(), pairs, o.policy, o.rejectedMode, o.trainedProjector);
        },
        [](Napi::Env e, Out& out) {
          std::vector<float> c, r;
          for (const auto& x : out) c.push_back(x.chosen), r.push_back(x.rejected);
          Napi::Object o = Napi::Object::New(e);
          o.Set("chosen", numbers(e, c));
          o.Set("rejected", numbers(e, r));
          return o;
        });
  }

  Napi::Value dpoStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto images = std::make_shared<CallImages>(parseCallImages(info[0], info[1], trainer_->config()));
    std::vector<std::optional<model::RefLogps>> refs;
    std::vector<model::PairInput> pairs = parsePairs(info[2], &refs);
    model::DpoStepOptions opt = parseDpoOptions(info[3]);
    using Out = model::DpoStepResult;
    return queue<Out>(
        env, "dpoStep",
        [images, pairs = std::move(pairs), refs = std::move(refs), opt](Trainer& t, Out& out) {
          return t.dpoStep(out, images->batch(), pairs, refs, opt);
        },
        [](Napi::Env e, Out& out) {
          Napi::Object o = Napi::Object::New(e);
          setMetrics(o, out.metrics);
          o.Set("policyChosen", numbers(e, out.policyChosen));
          o.Set("policyRejected", numbers(e, out.policyRejected));
          o.Set("refChosen", numbers(e, out.refChosen));
          o.Set("refRejected", numbers(e, out.refRejected));
          o.Set("chosenTokens", numbers(e, out.chosenTokens));
          o.Set("rejectedTokens", numbers(e, out.rejectedTokens));
          return o;
        });
  }

  Napi::Value sftStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto images = std::make_shared<CallImages>(parseCallImages(info[0], info[1], trainer_->config()));
    std::vector<model::SftItem> items = parseSftItems(info[2]);
    model::SftStepOptions opt = parseSftOptions(info[3]);
    using Out = model::SftStepResult;
    return queue<Out>(
        env, "sftStep",
        [images, items = std::move(items), opt](Trainer& t, Out& out) { return t.sftStep(out, images->batch(), items, opt); },
        [](Napi::Env e, Out& out) {
          Napi::Object r = Napi::Object::New(e);
          r.Set("loss", out.loss);
          r.Set("tokens", static_cast<double>(out.tokens));
          return r;
        });
  }

  Napi::Value optimizerStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const model::OptimizerSpec opt = parseOptimizerOptions(info[0], trainer_->params().trainProjector());
    using Out = model::OptimizerResult;
    return queue<Out>(
        env, "optimizerStep", [opt](Trainer& t, Out& out) { return t.optimizerStep(out, opt); },
        [](Napi::Env e, Out& out) {
          Napi::Object r = Napi::Object::New(e);
          r.Set("gradNorm", out.gradNorm);
          r.Set("step", static_cast<double>(out.step));
          r.Set("skipped", out.skipped);
          return r;
        });
  }

  Napi::Value zeroGrad(const Napi::CallbackInfo& info) {
    return queue<bool>(
        info.Env(), "zeroGrad",
        [](Trainer& t, bool&) {
          t.params().store().zeroGrad();
          return Status::ok();
        },
        [](Napi::Env e, bool&) { return e.Undefined(); });
  }

  Napi::Value mergedWeights(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<std::string> names;
    if (!isAbsent(info[0])) names = requireStringArray(info[0], "names", "an array of tensor names", "a tensor name");
    using Out = std::vector<model::NamedTensor>;
    return queue<Out>(
        env, "mergedWeights", [names](Trainer& t, Out& out) { return t.mergedWeights(out, names); },
        [](Napi::Env e, Out& out) {
          Napi::Array a = Napi::Array::New(e, out.size());
          for (size_t i = 0; i < out.size(); i++) {
            Napi::Object o = Napi::Object::New(e);
            o.Set("name", out[i].name);
            o.Set("shape", shapeArray(e, out[i].shape));
            o.Set("data", floats(e, out[i].data.data(), static_cast<int64_t>(out[i].data.size())));
            a.Set(static_cast<uint32_t>(i), o);
          }
          return a;
        });
  }

  Napi::Value memory(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    model::ParamStore& p = trainer_->params().store();
    o.Set("parameterBytes", static_cast<double>(p.parameterBytes()));
    o.Set("gradientBytes", static_cast<double>(p.gradientBytes()));
    o.Set("optimizerBytes", static_cast<double>(p.optimizerBytes()));
    o.Set("lastStepActivationBytes", static_cast<double>(trainer_->lastStepActivationBytes()));
    return o;
  }

  // The activation bytes of a training step of this shape, without and with gradient checkpointing.
  Napi::Value memoryPlan(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    model::StepShape shape = parseStepShape(info[0]);
    Napi::Object o = Napi::Object::New(env);
    for (bool ckpt : {false, true}) {
      shape.checkpointed = ckpt;
      const model::StepMemory m = trainer_->planStep(shape);
      Napi::Object a = Napi::Object::New(env);
      a.Set("savedBytes", static_cast<double>(m.saved));
      a.Set("scratchBytes", static_cast<double>(m.scratch));
      o.Set(ckpt ? "checkpointed" : "full", a);
    }
    return o;
  }

  std::shared_ptr<Trainer> trainer_;
  CallGuard guard_{"LlavaTrainer", "trainer"};
};

// ---- free functions -----------------------------------------------------------------------

Napi::Value createTrainer(const Napi::CallbackInfo& info) {
  std::shared_ptr<model::LlavaModel> m = unwrapLlavaModel(info[0], "model");
  const Args spec(info[1], "spec");
  model::TrainSpec trains;
  trains.lora = parseLoraSpec(spec.get("lora"));
  trains.projector = spec.boolean("trainProjector");
  return PromiseWorker<std::shared_ptr<Trainer>>::queue(
      info.Env(),
      [m, trains](std::shared_ptr<Trainer>& out) {
        auto t = Trainer::create(m, trains);
        if (!t.isOk()) return t.status();
        out = std::shared_ptr<Trainer>(t.take().release());
        return Status::ok();
      },
      [](Napi::Env e, std::shared_ptr<Trainer>& out) {
        // The External lives only for the constructor call, which copies the shared_ptr.
        auto ext = Napi::External<std::shared_ptr<Trainer>>::New(e, &out);
        return trainerCtor(e).New({ext});
      });
}

void initTrainerExports(Napi::Env env, Napi::Object exports) {
  auto* ctor = new Napi::FunctionReference(Napi::Persistent(TrainerWrap::define(env)));
  {
    std::lock_guard<std::mutex> lock(ctorMutex);
    ctorMap()[env] = ctor;
  }
  napi_env raw = env;
  env.AddCleanupHook([raw, ctor]() {
    std::lock_guard<std::mutex> lock(ctorMutex);
    ctorMap().erase(raw);
    delete ctor;
  });
  exports.Set("createTrainer", Napi::Function::New(env, createTrainer, "createTrainer"));
  exports.Set("trainPassRowBudget", Napi::Number::New(env, static_cast<double>(model::kPassTokenBudget)));
}

}  // namespace

STIC_REGISTER_EXPORTS(trainer, initTrainerExports);

}  // namespace stic::addon
