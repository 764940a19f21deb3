// LLaVA training on the CPU backend: the one trainer (model/trainer.h) as two JS classes, by what
// its spec trains (contract: TrainerBinding and PretrainBinding in lib/native/contract.ts):
//   createTrainer(model, spec) -> Promise<LlavaTrainer>     LoRA adapters (+ projector) over a model
//   LlavaTrainer: spec, tensorInfo, getTensors, setTensors, getStep, setStep, pairLogprobs, dpoStep,
//                 sftStep, optimizerStep, zeroGrad, mergedWeights, memory, memoryPlan
//   createPretrainer(config) -> Promise<Pretrainer>         every weight, zero until set or read
//   Pretrainer: tensorInfo, getTensors, setTensors, readTensors, getStep, setStep, step, loss,
//               optimizerStep, zeroGrad, memory
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
#include "addon/llava_args.h"
#include "addon/model_wrap.h"
#include "addon/param_args.h"
#include "addon/registry.h"
#include "addon/trainer_args.h"
#include "addon/worker.h"
#include "model/full_params.h"
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

Napi::Value sftResult(Napi::Env env, model::SftStepResult& out) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loss", out.loss);
  o.Set("tokens", static_cast<double>(out.tokens));
  return o;
}

// ---- the two classes ----------------------------------------------------------------------

// What a spec's JS class is called, how its messages name it, how it finds a tensor's name and
// calls an unknown one, and its tensors' group names (tensorInfo).
struct Flavour {
  const char* jsClass;
  const char* noun;
  const char* factory;
  bool pefts;  // names: the store's or PEFT's aliases too (TrainableParams::find)
  const char* missing;
  const char* groups[2];
};
const Flavour kAdapters{"LlavaTrainer", "trainer", "createTrainer", true, "no trainable tensor is named", {"lora", "projector"}};
// kDecayGroup, kNoDecayGroup (full_params.h)
const Flavour kFull{"Pretrainer", "pretrainer", "createPretrainer", false, "the model has no tensor named", {"decay", "no_decay"}};

// ---- constructors per environment (worker threads each load the addon) ---------------------

struct Ctors {
  Napi::FunctionReference adapters, full;
};
std::mutex ctorMutex;
std::map<napi_env, Ctors*>& ctorMap() {
  static std::map<napi_env, Ctors*> m;
  return m;
}
Napi::FunctionReference& trainerCtor(Napi::Env env, bool full) {
  std::lock_guard<std::mutex> lock(ctorMutex);
  Ctors* c = ctorMap().at(env);
  return full ? c->full : c->adapters;
}

// The trainer an External carries (the factories' constructor argument), or null.
std::shared_ptr<Trainer> externalTrainer(const Napi::CallbackInfo& info) {
  if (info.Length() != 1 || !info[0].IsExternal()) return nullptr;
  return *info[0].As<Napi::External<std::shared_ptr<Trainer>>>().Data();
}

// ---- the trainer ---------------------------------------------------------------------------

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  static Napi::Function define(Napi::Env env, bool full) {
    using W = TrainerWrap;
    std::vector<PropertyDescriptor> methods = {
        InstanceMethod("tensorInfo", &W::tensorInfo), InstanceMethod("getTensors", &W::getTensors),
        InstanceMethod("setTensors", &W::setTensors), InstanceMethod("getStep", &W::getStep),
        InstanceMethod("setStep", &W::setStep),       InstanceMethod("optimizerStep", &W::optimizerStep),
        InstanceMethod("zeroGrad", &W::zeroGrad),     InstanceMethod("memory", &W::memory)};
    const std::vector<PropertyDescriptor> own =
        full ? std::vector<PropertyDescriptor>{InstanceMethod("readTensors", &W::readTensors), InstanceMethod("step", &W::step),
                                               InstanceMethod("loss", &W::loss)}
             : std::vector<PropertyDescriptor>{InstanceMethod("spec", &W::spec), InstanceMethod("pairLogprobs", &W::pairLogprobs),
                                               InstanceMethod("dpoStep", &W::dpoStep), InstanceMethod("sftStep", &W::sftStep),
                                               InstanceMethod("mergedWeights", &W::mergedWeights),
                                               InstanceMethod("memoryPlan", &W::memoryPlan)};
    methods.insert(methods.end(), own.begin(), own.end());
    return DefineClass(env, full ? kFull.jsClass : kAdapters.jsClass, methods);
  }
  explicit TrainerWrap(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<TrainerWrap>(info),
        trainer_(externalTrainer(info)),
        flavour_(trainer_ && trainer_->spec().full ? kFull : kAdapters),
        guard_(flavour_.jsClass, flavour_.noun) {
    if (!trainer_) {
      const bool full = info.NewTarget().StrictEquals(trainerCtor(info.Env(), true).Value());
      const Flavour& f = full ? kFull : kAdapters;
      throw Napi::TypeError::New(info.Env(), std::string(f.jsClass) + " cannot be constructed directly: use " + f.factory + "()");
    }
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

  // The trainer's tensors by name (the adapters' PEFT names included: TrainableParams::find).
  TensorTable table() const {
    const model::TrainableParams& p = trainer_->params();
    if (flavour_.pefts) return {p.store(), [pp = &p](const std::string& name) { return pp->find(name); }, flavour_.missing};
    return {p.store(), [ps = &p.store()](const std::string& name) { return ps->find(name); }, flavour_.missing};
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
      o.Set("group", flavour_.groups[ts[i].group]);
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
        sftResult);
  }

  Napi::Value optimizerStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const model::OptimizerSpec opt = trainer_->spec().full ? parsePretrainOptimizer(info[0])
                                                           : parseOptimizerOptions(info[0], trainer_->params().trainProjector());
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

  Napi::Value readTensors(const Napi::CallbackInfo& info) {
    const model::ParamKind kind = requireParamKind(info[0]);
    std::vector<io::TensorSource> sources = parseTensorSources(info[1]);
    return queue<bool>(
        info.Env(), "readTensors",
        [sources = std::move(sources), kind, table = table()](Trainer&, bool&) { return readSources(table, kind, sources); },
        [](Napi::Env e, bool&) { return e.Undefined(); });
  }

  // step (backward) and loss: the pretrainer's items on N single-tile images.
  Napi::Value pretrainStep(const Napi::CallbackInfo& info, const char* method, bool backward) {
    requireInt(info[1], "count", 0);  // a number of images: no tiled layouts here
    auto images = std::make_shared<CallImages>(parseCallImages(info[0], info[1], trainer_->config()));
    std::vector<model::SftItem> items = parseSftItems(info[2]);
    const model::SftStepOptions opt = parsePretrainStepOptions(info[3], backward);
    using Out = model::SftStepResult;
    return queue<Out>(
        info.Env(), method,
        [images, items = std::move(items), opt](Trainer& t, Out& out) { return t.sftStep(out, images->batch(), items, opt); },
        sftResult);
  }
  Napi::Value step(const Napi::CallbackInfo& info) { return pretrainStep(info, "step", true); }
  Napi::Value loss(const Napi::CallbackInfo& info) { return pretrainStep(info, "loss", false); }

  Napi::Value memory(const Napi::CallbackInfo& info) {
    if (trainer_->spec().full) requireIdle(info.Env(), "memory");
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
  const Flavour& flavour_;
  CallGuard guard_;
};

// ---- factories ----------------------------------------------------------------------------

// A trainer's JS object: the class of its spec, constructed from an External (which lives only for
// the constructor call, which copies the shared_ptr).
Napi::Value wrap(Napi::Env env, std::shared_ptr<Trainer>& t) {
  auto ext = Napi::External<std::shared_ptr<Trainer>>::New(env, &t);
  return trainerCtor(env, t->spec().full).New({ext});
}

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
      [](Napi::Env e, std::shared_ptr<Trainer>& out) { return wrap(e, out); });
}

Napi::Value createPretrainer(const Napi::CallbackInfo& info) {
  const model::LlavaConfig cfg = parseLlavaConfig(info[0]);
  return PromiseWorker<std::shared_ptr<Trainer>>::queue(
      info.Env(),
      [cfg](std::shared_ptr<Trainer>& out) {
        auto t = Trainer::createFull(cpuBackend(), cfg);  // the backend the addon runs its models on (model_binding.cpp)
        if (!t.isOk()) return t.status();
        out = std::shared_ptr<Trainer>(t.take().release());
        return Status::ok();
      },
      [](Napi::Env e, std::shared_ptr<Trainer>& out) { return wrap(e, out); });
}

void initTrainerExports(Napi::Env env, Napi::Object exports) {
  auto* ctors = new Ctors{Napi::Persistent(TrainerWrap::define(env, false)), Napi::Persistent(TrainerWrap::define(env, true))};
  {
    std::lock_guard<std::mutex> lock(ctorMutex);
    ctorMap()[env] = ctors;
  }
  napi_env raw = env;
  env.AddCleanupHook([raw, ctors]() {
    std::lock_guard<std::mutex> lock(ctorMutex);
    ctorMap().erase(raw);
    delete ctors;
  });
  exports.Set("createTrainer", Napi::Function::New(env, createTrainer, "createTrainer"));
  exports.Set("createPretrainer", Napi::Function::New(env, createPretrainer, "createPretrainer"));
  exports.Set("trainPassRowBudget", Napi::Number::New(env, static_cast<double>(model::kPassTokenBudget)));
}

}  // namespace

STIC_REGISTER_EXPORTS(trainer, initTrainerExports);

}  // namespace stic::addon
