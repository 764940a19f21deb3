// LLaVA on the CPU backend, for lib/engine (contract: ModelBinding in lib/native/contract.ts).
//   llavaTensorSpecs(config)           -> [{name, shape}]   every weight the engine loads
//   loadLlava(config, sources)         -> Promise<LlavaModel>
//   LlavaModel: memory(), encodeImages, logits, logprobs (Promises), startGeneration -> LlavaGeneration
//   LlavaGeneration: step(maxTokens) -> Promise<{tokens, finish}>, stop(i), memory()
// One ObjectWrap per native resource; every slow call is a PromiseWorker whose inputs were copied
// into plain structs here, on the JS thread (the one conversion point).
// Legend: N images, S image side, T tokens, V vocab, Ti feature rows per image, D decoder hidden.
#include <napi.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>

#include "addon/args.h"
#include "addon/call_guard.h"
#include "addon/llava_args.h"
#include "addon/model_wrap.h"
#include "addon/registry.h"
#include "addon/worker.h"
#include "model/generation.h"
#include "model/llava.h"

namespace stic::addon {
namespace {

using model::LlavaConfig;
using model::LlavaModel;

// ---- JS -> C++ ----------------------------------------------------------------------------

model::Sequence parseSequence(const Args& o) { return {o.tokenIds("ids"), o.intArray("images")}; }

template <typename T, typename Parse>
std::vector<T> parseItems(const Napi::Value& value, Parse parse) {
  Napi::Array a = requireArray(value, "items", "an array of items");
  std::vector<T> out;
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(parse(Args(a.Get(i), "items[" + std::to_string(i) + "]")));
  return out;
}

model::ImageLayout parseLayout(const Args& o) {
  model::ImageLayout L;
  L.crops = o.integer("crops");
  L.gridRows = o.integer("gridRows");
  L.gridCols = o.integer("gridCols");
  L.keepRow0 = o.integer("keepRow0");
  L.keepRows = o.integer("keepRows");
  L.keepCol0 = o.integer("keepCol0");
  L.keepCols = o.integer("keepCols");
  return L;
}

}  // namespace

CallImages parseCallImages(const Napi::Value& pixels, const Napi::Value& images, const LlavaConfig& cfg) {
  CallImages out;
  if (images.IsArray()) {
    Napi::Array a = images.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      out.layouts.push_back(parseLayout(Args(a.Get(i), "images[" + std::to_string(i) + "]")));
      out.crops += out.layouts.back().crops;
    }
  } else {
    const int64_t N = requireInt(images, "count");
    if (N < 0) throwExpected(images.Env(), "a non-negative image count", "count", images);
    out.layouts.assign(static_cast<size_t>(N), model::ImageLayout{});
    out.crops = N;
  }
  Napi::Float32Array a = requireTypedArray(pixels, "pixels", napi_float32_array).As<Napi::Float32Array>();
  const int64_t S = cfg.vision.imageSize, want = out.crops * 3 * S * S;
  if (static_cast<int64_t>(a.ElementLength()) != want) {
    throw Napi::RangeError::New(pixels.Env(), "pixels: expected " + std::to_string(out.crops) + " x 3 x " + std::to_string(S) +
                                                  " x " + std::to_string(S) + " = " + std::to_string(want) + " values but found " +
                                                  std::to_string(a.ElementLength()));
  }
  out.pixels.assign(a.Data(), a.Data() + a.ElementLength());
  Status st = model::validateImageBatch(out.batch(), cfg);
  if (!st.isOk()) throw statusToError(pixels.Env(), st);
  return out;
}

namespace {

// ---- C++ -> JS ----------------------------------------------------------------------------

// A Float32Array over the vector's memory (moved to the heap; freed when V8 collects the array).
Napi::Float32Array toFloat32Array(Napi::Env env, std::vector<float>&& v) {
  auto* owned = new std::vector<float>(std::move(v));
  auto buf = Napi::ArrayBuffer::New(env, owned->data(), owned->size() * sizeof(float),
                                    [](Napi::Env, void*, std::vector<float>* h) { delete h; }, owned);
  return Napi::Float32Array::New(env, owned->size(), buf, 0);
}

Napi::Array toFloat32Arrays(Napi::Env env, std::vector<std::vector<float>>& vs) {
  Napi::Array a = Napi::Array::New(env, vs.size());
  for (size_t i = 0; i < vs.size(); i++) a.Set(static_cast<uint32_t>(i), toFloat32Array(env, std::move(vs[i])));
  return a;
}

// ---- constructors per environment (worker threads each load the addon) ---------------------

struct Constructors {
  Napi::FunctionReference model, generation;
};
std::mutex ctorMutex;
std::map<napi_env, Constructors*>& ctorMap() {
  static std::map<napi_env, Constructors*> m;
  return m;
}
Constructors& ctors(Napi::Env env) {
  std::lock_guard<std::mutex> lock(ctorMutex);
  return *ctorMap().at(env);
}

// ---- LlavaGeneration ----------------------------------------------------------------------

class GenerationWrap : public Napi::ObjectWrap<GenerationWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "LlavaGeneration",
                       {InstanceMethod("step", &GenerationWrap::step), InstanceMethod("stop", &GenerationWrap::stop),
                        InstanceMethod("memory", &GenerationWrap::memory)});
  }
  explicit GenerationWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GenerationWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "LlavaGeneration cannot be constructed directly: use model.startGeneration()");
    }
    auto* g = info[0].As<Napi::External<model::Generation>>().Data();
    gen_ = std::shared_ptr<model::Generation>(g);
  }

 private:
  struct StepOut {
    std::vector<std::vector<int32_t>> tokens;
    std::vector<std::string> finish;
  };

  Napi::Value step(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t maxTokens = requireInt(info[0], "maxTokens", 1);
    auto gen = gen_;
    return guard_.queue<StepOut>(
        env, "step",
        [gen, maxTokens](StepOut& out) {
          Status s = gen->step(maxTokens, out.tokens);
          for (size_t i = 0; i < gen->size(); i++) out.finish.push_back(model::finishName(gen->finish(i)));
          return s;
        },
        [](Napi::Env e, StepOut& out) {
          Napi::Object o = Napi::Object::New(e);
          Napi::Array tokens = Napi::Array::New(e, out.tokens.size());
          Napi::Array finish = Napi::Array::New(e, out.finish.size());
          for (size_t i = 0; i < out.tokens.size(); i++) {
            Napi::Int32Array t = Napi::Int32Array::New(e, out.tokens[i].size());
            // A sequence that produced no token this step has no buffer: memcpy of null is UB (UBSan).
            if (!out.tokens[i].empty()) std::memcpy(t.Data(), out.tokens[i].data(), out.tokens[i].size() * sizeof(int32_t));
            tokens.Set(static_cast<uint32_t>(i), t);
          }
          for (size_t i = 0; i < out.finish.size(); i++) finish.Set(static_cast<uint32_t>(i), out.finish[i]);
          o.Set("tokens", tokens);
          o.Set("finish", finish);
          return o;
        },
        {Value()});
  }

  Napi::Value stop(const Napi::CallbackInfo& info) {
    const int64_t i = requireInt(info[0], "index");
    if (i < 0 || i >= static_cast<int64_t>(gen_->size())) {
      throw Napi::RangeError::New(info.Env(), "stop: index " + std::to_string(i) + " is out of range for " +
                                                  std::to_string(gen_->size()) + " items");
    }
    guard_.requireIdle(info.Env(), "stop");
    gen_->stop(static_cast<size_t>(i));
    return info.Env().Undefined();
  }

  Napi::Value memory(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("kvCacheBytes", static_cast<double>(gen_->kvCacheBytes()));
    o.Set("activationBytes", static_cast<double>(gen_->activationBytes()));
    return o;
  }

  std::shared_ptr<model::Generation> gen_;
  CallGuard guard_{"LlavaGeneration", "generation"};
};

// ---- LlavaModel ---------------------------------------------------------------------------

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "LlavaModel",
                       {InstanceMethod("memory", &ModelWrap::memory), InstanceMethod("encodeImages", &ModelWrap::encodeImages),
                        InstanceMethod("logits", &ModelWrap::logits), InstanceMethod("logprobs", &ModelWrap::logprobs),
                        InstanceMethod("startGeneration", &ModelWrap::startGeneration)});
  }
  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "LlavaModel cannot be constructed directly: use loadLlava()");
    }
    model_ = *info[0].As<Napi::External<std::shared_ptr<LlavaModel>>>().Data();
  }

 private:
  Napi::Value memory(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("weightBytes", static_cast<double>(model_->weightBytes()));
    o.Set("mappedWeightBytes", static_cast<double>(model_->mappedWeightBytes()));
    o.Set("weightDType", dtypeName(model_->weights().matrixDType));
    return o;
  }

  struct Encoded {
    std::vector<float> features;
    std::vector<std::vector<float>> hidden;
  };

  // features: each image's token rows in order (image_layout.h), images concatenated: (sum of tokens, D).
  Napi::Value encodeImages(const Napi::CallbackInfo& info) {
    auto images = std::make_shared<CallImages>(parseCallImages(info[0], info[1], model_->config()));
    const bool wantHidden = !isAbsent(info[2]) && requireBool(info[2], "hidden");
    auto m = model_;
    return PromiseWorker<Encoded>::queue(
        info.Env(),
        [m, images, wantHidden](Encoded& out) {
          const auto& cfg = m->config();
          const int64_t D = cfg.decoder.hiddenSize;
          const model::ImageBatch batch = images->batch();
          std::vector<float> all(batch.featureRows(cfg) * D);
          STIC_RETURN_IF_ERROR(m->encodeImages(all.data(), wantHidden ? &out.hidden : nullptr, batch));
          for (const auto& rows : model::imageTokenRows(batch, cfg)) {
            for (int64_t r : rows) out.features.insert(out.features.end(), all.begin() + r * D, all.begin() + (r + 1) * D);
          }
          return Status::ok();
        },
        [](Napi::Env e, Encoded& out) {
          Napi::Object o = Napi::Object::New(e);
          o.Set("features", toFloat32Array(e, std::move(out.features)));
          o.Set("hidden", toFloat32Arrays(e, out.hidden));
          return o;
        },
        {Value()});
  }

  Napi::Value logits(const Napi::CallbackInfo& info) {
    auto images = std::make_shared<CallImages>(parseCallImages(info[0], info[1], model_->config()));
    auto items = parseItems<model::Sequence>(info[2], parseSequence);
    auto m = model_;
    return PromiseWorker<std::vector<std::vector<float>>>::queue(
        info.Env(),
        [m, images, items = std::move(items)](std::vector<std::vector<float>>& out) { return m->logits(out, images->batch(), items); },
        [](Napi::Env e, std::vector<std::vector<float>>& out) { return toFloat32Arrays(e, out); }, {Value()});
  }

  Napi::Value logprobs(const Napi::CallbackInfo& info) {
    auto images = std::make_shared<CallImages>(parseCallImages(info[0], info[1], model_->config()));
    auto items = parseItems<model::ScoredSequence>(info[2], [](const Args& o) { return model::ScoredSequence{parseSequence(o), o.integer("responseStart")}; });
    auto m = model_;
    return PromiseWorker<std::vector<std::vector<float>>>::queue(
        info.Env(),
        [m, images, items = std::move(items)](std::vector<std::vector<float>>& out) { return m->logprobs(out, images->batch(), items); },
        [](Napi::Env e, std::vector<std::vector<float>>& out) { return toFloat32Arrays(e, out); }, {Value()});
  }

  Napi::Value startGeneration(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CallImages images = parseCallImages(info[0], info[1], model_->config());
    auto items = parseItems<model::GenerationItem>(info[2], [](const Args& o) {
      model::GenerationItem it;
      it.prompt = parseSequence(o);
      it.maxNewTokens = o.integer("maxNewTokens");
      it.sampling.temperature = static_cast<float>(o.number("temperature"));
      it.sampling.topK = o.integer("topK");
      it.sampling.topP = static_cast<float>(o.number("topP"));
      it.sampling.seed = o.seed("seed");
      return it;
    });
    requireArray(info[3], "eosIds", "an array of token ids");
    std::vector<int64_t> eos = requireIntArray(info[3], "eosIds");
    auto g = model::Generation::create(model_, std::move(images.pixels), std::move(images.layouts), std::move(items), std::move(eos));
    if (!g.isOk()) throw statusToError(env, g.status());
    auto ext = Napi::External<model::Generation>::New(env, g.take().release());
    return ctors(env).generation.New({ext});
  }

  std::shared_ptr<LlavaModel> model_;

  friend std::shared_ptr<LlavaModel> stic::addon::unwrapLlavaModel(const Napi::Value&, const std::string&);
};

// ---- free functions -----------------------------------------------------------------------

Napi::Value llavaTensorSpecs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LlavaConfig cfg = parseLlavaConfig(info[0]);
  auto specs = model::llavaTensorSpecs(cfg);
  Napi::Array out = Napi::Array::New(env, specs.size());
  for (size_t i = 0; i < specs.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", specs[i].name);
    Napi::Array shape = Napi::Array::New(env, specs[i].shape.size());
    for (size_t j = 0; j < specs[i].shape.size(); j++) shape.Set(static_cast<uint32_t>(j), static_cast<double>(specs[i].shape[j]));
    o.Set("shape", shape);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// options (optional): {dtype?: 'stored' | 'F32', adapter?: {alpha, tensors: [{weight, r, A, B}]}}.
struct LoadOptions {
  bool forceF32 = false;
  std::vector<model::LoraDelta> adapter;
  double alpha = 0;
};

LoadOptions parseLoadOptions(const Napi::Value& value) {
  LoadOptions opt;
  if (isAbsent(value)) return opt;
  const Args o(value, "options");
  opt.forceF32 = o.choiceOr("dtype", {"stored", "F32"}, 0) == 1;
  if (!o.has("adapter")) return opt;
  const Args a = o.object("adapter");
  opt.alpha = a.number("alpha");
  Napi::Array tensors = a.array("tensors", "an array of LoRA deltas");
  for (uint32_t i = 0; i < tensors.Length(); i++) {
    const Args t(tensors.Get(i), a.name("tensors") + "[" + std::to_string(i) + "]");
    model::LoraDelta d;
    if (!t.get("weight").IsString()) t.fail("weight", "an engine tensor name");
    d.weight = t.string("weight");
    d.r = t.integer("r");
    d.A = t.float32s("A");
    d.B = t.float32s("B");
    opt.adapter.push_back(std::move(d));
  }
  return opt;
}

Napi::Value loadLlava(const Napi::CallbackInfo& info) {
  LlavaConfig cfg = parseLlavaConfig(info[0]);
  std::vector<io::TensorSource> sources = parseTensorSources(info[1]);
  LoadOptions opt = parseLoadOptions(info[2]);
  return PromiseWorker<std::shared_ptr<LlavaModel>>::queue(
      info.Env(),
      [cfg, sources = std::move(sources), opt = std::move(opt)](std::shared_ptr<LlavaModel>& out) {
        auto m = LlavaModel::load(cpuBackend(), cfg, sources, opt.forceF32, opt.adapter, opt.alpha);
        if (!m.isOk()) return m.status();
        out = m.take();
        return Status::ok();
      },
      [](Napi::Env e, std::shared_ptr<LlavaModel>& out) {
        // The External lives only for the constructor call, which copies the shared_ptr.
        auto ext = Napi::External<std::shared_ptr<LlavaModel>>::New(e, &out);
        return ctors(e).model.New({ext});
      });
}

void initModelExports(Napi::Env env, Napi::Object exports) {
  auto* c = new Constructors();
  c->model = Napi::Persistent(ModelWrap::define(env));
  c->generation = Napi::Persistent(GenerationWrap::define(env));
  {
    std::lock_guard<std::mutex> lock(ctorMutex);
    ctorMap()[env] = c;
  }
  napi_env raw = env;
  env.AddCleanupHook([raw, c]() {
    std::lock_guard<std::mutex> lock(ctorMutex);
    ctorMap().erase(raw);
    delete c;
  });
  exports.Set("llavaTensorSpecs", Napi::Function::New(env, llavaTensorSpecs, "llavaTensorSpecs"));
  exports.Set("loadLlava", Napi::Function::New(env, loadLlava, "loadLlava"));
}

}  // namespace

std::shared_ptr<LlavaModel> unwrapLlavaModel(const Napi::Value& value, const std::string& name) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(ctors(env).model.Value())) {
    throwExpected(env, "a LlavaModel (from loadLlava)", name, value);
  }
  return ModelWrap::Unwrap(value.As<Napi::Object>())->model_;
}

STIC_REGISTER_EXPORTS(model, initModelExports);

}  // namespace stic::addon
