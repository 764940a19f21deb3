// Full-parameter pretraining of small LLaVA models on the CPU (contract: PretrainBinding in
// lib/native/contract.ts): a thin configuration of the one trainer (model/trainer.h, a full
// TrainSpec): its SFT step with the pretrainer's item rules, its optimizer step with the
// pretrainer's two groups (decay, no_decay) and frozen tensors.
//   createPretrainer(config) -> Promise<Pretrainer>      every weight zero until set or read
//   Pretrainer: tensorInfo, getTensors, setTensors, readTensors, getStep, setStep, step, loss,
//               optimizerStep, zeroGrad, memory
// Inputs are copied into plain structs here (the one conversion point); every slow call is a
// PromiseWorker. One call at a time per pretrainer: a call while another runs is refused.
// The config and tensor sources are parsed by llava_args.h and the pixels by model_wrap.h, shared with
// model_binding.cpp, the tensor kinds and names by param_args.h, shared with trainer_binding.cpp;
// everything else by the one argument reader (args.h).
// Legend: N images, S image side, T tokens of an item, D hidden, p patch side, P patches.
#include <napi.h>

#include <atomic>
#include <map>
#include <mutex>

#include "addon/args.h"
#include "addon/call_guard.h"
#include "addon/llava_args.h"
#include "addon/model_wrap.h"
#include "addon/param_args.h"
#include "addon/registry.h"
#include "addon/worker.h"
#include "model/full_params.h"
#include "model/trainer.h"

namespace stic::addon {
namespace {

using Pretrainer = model::Trainer;  // a full-parameter trainer
using model::ParamKind;

// ---- JS -> C++ ----------------------------------------------------------------------------

// pixels (N, 3, S, S) for `count` N single-tile images, copied (the worker reads no JS memory).
CallImages parsePixels(const Napi::Value& pixels, const Napi::Value& count, const model::LlavaConfig& cfg) {
  requireInt(count, "count", 0);  // a number of images: no tiled layouts here
  return parseCallImages(pixels, count, cfg);
}

// items[i] = {ids, mask, images}: an SFT item (its image indices into the call's N images).
std::vector<model::SftItem> parseItems(const Napi::Value& value) {
  Napi::Array a = requireArray(value, "items", "an array of items");
  std::vector<model::SftItem> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    const Args o(a.Get(i), "items[" + std::to_string(i) + "]");
    out.push_back({{o.tokenIds("ids"), o.intArray("images")}, o.mask("mask")});
  }
  return out;
}

model::SftStepOptions parseStepOptions(const Napi::Value& value, bool backward) {
  model::SftStepOptions opt;
  opt.rules = model::ItemRules::Pretrainer;
  opt.backward = backward;
  if (isAbsent(value)) return opt;
  const Args o(value, "options");
  opt.meanOver = o.numberOr("meanOver", 0, Num::Positive);
  opt.gradScale = o.numberOr("gradScale", 1, Num::Positive);
  return opt;
}

// The two groups (full_params.h: decay on matrices only) at one learning rate, and the frozen tensors.
model::OptimizerSpec parseOptimizer(const Napi::Value& value) {
  const Args o(value, "options");
  model::OptimizerSpec opt;
  // Every hyperparameter is required: the defaults are lib/toy/pretrain.ts's (TOY_PRETRAIN_DEFAULTS).
  const double lr = o.number("lr", Num::NonNegative);
  const double weightDecay = o.number("weightDecay", Num::NonNegative);
  opt.groups.resize(2);
  opt.groups[model::kDecayGroup] = {lr, weightDecay};
  opt.groups[model::kNoDecayGroup] = {lr, 0.0};
  opt.hyper.beta1 = o.number("beta1", Num::UnitOpen);
  opt.hyper.beta2 = o.number("beta2", Num::UnitOpen);
  opt.hyper.eps = o.number("eps", Num::Positive);
  opt.maxGradNorm = o.number("maxGradNorm", Num::Finite);
  opt.frozen = requireStringArray(o.get("frozen"), o.name("frozen"), "an array of tensor names", "a tensor name");
  return opt;
}

Napi::Array shapeArray(Napi::Env env, const Shape& shape) {
  Napi::Array a = Napi::Array::New(env, shape.size());
  for (size_t i = 0; i < shape.size(); i++) a.Set(static_cast<uint32_t>(i), static_cast<double>(shape[i]));
  return a;
}

// ---- constructors per environment (worker threads each load the addon) ---------------------

std::mutex ctorMutex;
std::map<napi_env, Napi::FunctionReference*>& ctorMap() {
  static std::map<napi_env, Napi::FunctionReference*> m;
  return m;
}
Napi::FunctionReference& pretrainerCtor(Napi::Env env) {
  std::lock_guard<std::mutex> lock(ctorMutex);
  return *ctorMap().at(env);
}

// ---- Pretrainer ---------------------------------------------------------------------------

class PretrainerWrap : public Napi::ObjectWrap<PretrainerWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Pretrainer",
                       {InstanceMethod("tensorInfo", &PretrainerWrap::tensorInfo), InstanceMethod("getTensors", &PretrainerWrap::getTensors),
                        InstanceMethod("setTensors", &PretrainerWrap::setTensors),
                        InstanceMethod("readTensors", &PretrainerWrap::readTensors), InstanceMethod("getStep", &PretrainerWrap::getStep),
                        InstanceMethod("setStep", &PretrainerWrap::setStep), InstanceMethod("step", &PretrainerWrap::step),
                        InstanceMethod("loss", &PretrainerWrap::loss), InstanceMethod("optimizerStep", &PretrainerWrap::optimizerStep),
                        InstanceMethod("zeroGrad", &PretrainerWrap::zeroGrad), InstanceMethod("memory", &PretrainerWrap::memory)});
  }
  explicit PretrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PretrainerWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "Pretrainer cannot be constructed directly: use createPretrainer()");
    }
    p_ = *info[0].As<Napi::External<std::shared_ptr<Pretrainer>>>().Data();
  }

 private:
  // Queues work on the pretrainer, one call at a time (call_guard.h).
  template <typename Out>
  Napi::Promise queue(Napi::Env env, const char* method, std::function<Status(Pretrainer&, Out&)> work,
                      typename PromiseWorker<Out>::ToJs toJs, std::vector<Napi::Value> keep = {}) {
    keep.push_back(Value());
    auto p = p_;
    return guard_.queue<Out>(env, method, [p, work = std::move(work)](Out& out) { return work(*p, out); }, std::move(toJs), std::move(keep));
  }
  void requireIdle(Napi::Env env, const char* method) const { guard_.requireIdle(env, method); }
  // The model's tensors by their engine names.
  TensorTable table() const {
    const model::ParamStore& s = p_->params().store();
    return {s, [ps = &s](const std::string& name) { return ps->find(name); }, "the model has no tensor named"};
  }

  Napi::Value tensorInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto& ts = p_->params().store().tensors();
    Napi::Array a = Napi::Array::New(env, ts.size());
    for (size_t i = 0; i < ts.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", ts[i].name);
      o.Set("shape", shapeArray(env, ts[i].shape));
      o.Set("group", ts[i].group == model::kDecayGroup ? "decay" : "no_decay");
      a.Set(static_cast<uint32_t>(i), o);
    }
    return a;
  }

  Napi::Value getTensors(const Napi::CallbackInfo& info) {
    const ParamKind kind = requireParamKind(info[0]);
    std::vector<const model::ParamTensor*> which = requireTensorList(table(), info[1], "getTensors");
    using Out = std::vector<std::vector<float>>;
    return queue<Out>(
        info.Env(), "getTensors",
        [which = std::move(which), kind](Pretrainer& p, Out& out) {
          out = readKind(p.params().store(), kind, which);
          return Status::ok();
        },
        float32Arrays);
  }

  Napi::Value setTensors(const Napi::CallbackInfo& info) {
    const ParamKind kind = requireParamKind(info[0]);
    std::vector<TensorWrite> writes = requireTensorWrites(table(), info[1], "setTensors");
    return queue<bool>(
        info.Env(), "setTensors",
        [writes = std::move(writes), kind](Pretrainer& p, bool&) {
          writeKind(p.params().store(), kind, writes);
          return Status::ok();
        },
        [](Napi::Env e, bool&) { return e.Undefined(); });
  }

  Napi::Value readTensors(const Napi::CallbackInfo& info) {
    const ParamKind kind = requireParamKind(info[0]);
    std::vector<io::TensorSource> sources = parseTensorSources(info[1]);
    return queue<bool>(
        info.Env(), "readTensors",
        [sources = std::move(sources), kind, table = table()](Pretrainer&, bool&) { return readSources(table, kind, sources); },
        [](Napi::Env e, bool&) { return e.Undefined(); });
  }

  Napi::Value getStep(const Napi::CallbackInfo& info) {
    requireIdle(info.Env(), "getStep");
    return Napi::Number::New(info.Env(), static_cast<double>(p_->params().store().step));
  }

  Napi::Value setStep(const Napi::CallbackInfo& info) {
    const int64_t step = requireInt(info[0], "step", 0);
    requireIdle(info.Env(), "setStep");
    p_->params().store().step = step;
    return info.Env().Undefined();
  }

  Napi::Value runStep(const Napi::CallbackInfo& info, const char* method, bool backward) {
    auto images = std::make_shared<CallImages>(parsePixels(info[0], info[1], p_->config()));
    std::vector<model::SftItem> items = parseItems(info[2]);
    const model::SftStepOptions opt = parseStepOptions(info[3], backward);
    using Out = model::SftStepResult;
    return queue<Out>(
        info.Env(), method,
        [images, items = std::move(items), opt](Pretrainer& p, Out& out) { return p.sftStep(out, images->batch(), items, opt); },
        [](Napi::Env e, Out& out) {
          Napi::Object o = Napi::Object::New(e);
          o.Set("loss", out.loss);
          o.Set("tokens", static_cast<double>(out.tokens));
          return o;
        });
  }
  Napi::Value step(const Napi::CallbackInfo& info) { return runStep(info, "step", true); }
  Napi::Value loss(const Napi::CallbackInfo& info) { return runStep(info, "loss", false); }

  Napi::Value optimizerStep(const Napi::CallbackInfo& info) {
    const model::OptimizerSpec opt = parseOptimizer(info[0]);
    using Out = model::OptimizerResult;
    return queue<Out>(
        info.Env(), "optimizerStep", [opt](Pretrainer& p, Out& out) { return p.optimizerStep(out, opt); },
        [](Napi::Env e, Out& out) {
          Napi::Object o = Napi::Object::New(e);
          o.Set("gradNorm", out.gradNorm);
          o.Set("step", static_cast<double>(out.step));
          o.Set("skipped", out.skipped);
          return o;
        });
  }

  Napi::Value zeroGrad(const Napi::CallbackInfo& info) {
    return queue<bool>(
        info.Env(), "zeroGrad",
        [](Pretrainer& p, bool&) {
          p.params().store().zeroGrad();
          return Status::ok();
        },
        [](Napi::Env e, bool&) { return e.Undefined(); });
  }

  Napi::Value memory(const Napi::CallbackInfo& info) {
    requireIdle(info.Env(), "memory");
    Napi::Object o = Napi::Object::New(info.Env());
    const model::ParamStore& s = p_->params().store();
    o.Set("parameterBytes", static_cast<double>(s.parameterBytes()));
    o.Set("gradientBytes", static_cast<double>(s.gradientBytes()));
    o.Set("optimizerBytes", static_cast<double>(s.optimizerBytes()));
    o.Set("lastStepActivationBytes", static_cast<double>(p_->lastStepActivationBytes()));
    return o;
  }

  std::shared_ptr<Pretrainer> p_;
  CallGuard guard_{"Pretrainer", "pretrainer"};
};

Napi::Value createPretrainer(const Napi::CallbackInfo& info) {
  const model::LlavaConfig cfg = parseLlavaConfig(info[0]);
  return PromiseWorker<std::shared_ptr<Pretrainer>>::queue(
      info.Env(),
      [cfg](std::shared_ptr<Pretrainer>& out) {
        auto p = Pretrainer::createFull(cfg);
        if (!p.isOk()) return p.status();
        out = std::shared_ptr<Pretrainer>(p.take().release());
        return Status::ok();
      },
      [](Napi::Env e, std::shared_ptr<Pretrainer>& out) {
        // The External lives only for the constructor call, which copies the shared_ptr.
        auto ext = Napi::External<std::shared_ptr<Pretrainer>>::New(e, &out);
        return pretrainerCtor(e).New({ext});
      });
}

void initPretrainExports(Napi::Env env, Napi::Object exports) {
  auto* ctor = new Napi::FunctionReference(Napi::Persistent(PretrainerWrap::define(env)));
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
  exports.Set("createPretrainer", Napi::Function::New(env, createPretrainer, "createPretrainer"));
}

}  // namespace

STIC_REGISTER_EXPORTS(pretrain, initPretrainExports);

}  // namespace stic::addon
