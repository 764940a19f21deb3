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

#include "addon/call_guard.h"
#include "addon/convert.h"
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


// Token ids from an Int32Array or an array of integers.
std::vector<int64_t> requireIds(const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = o.Get(key);
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    Napi::Int32Array a = v.As<Napi::Int32Array>();
    return std::vector<int64_t>(a.Data(), a.Data() + a.ElementLength());
  }
  if (v.IsArray()) return requireIntArray(o, key, where);
  throwExpected(o.Env(), "an Int32Array or an array of token ids", where + "." + key, v);
}

model::Sequence parseSequence(const Napi::Object& o, const std::string& where) {
  return {requireIds(o, "ids", where), requireIntArray(o, "images", where)};
}

template <typename T, typename Parse>
std::vector<T> parseItems(const Napi::Value& value, Parse parse) {
  if (!value.IsArray()) throwExpected(value.Env(), "an array of items", "items", value);
  Napi::Array a = value.As<Napi::Array>();
  std::vector<T> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    std::string where = "items[" + std::to_string(i) + "]";
    out.push_back(parse(requireObject(a.Get(i), where), where));
  }
  return out;
}

model::ImageLayout parseLayout(const Napi::Value& v, const std::string& where) {
  Napi::Object o = requireObject(v, where);
  model::ImageLayout L;
  L.crops = requireInt(o, "crops", where);
  L.gridRows = requireInt(o, "gridRows", where);
  L.gridCols = requireInt(o, "gridCols", where);
  L.keepRow0 = requireInt(o, "keepRow0", where);
  L.keepRows = requireInt(o, "keepRows", where);
  L.keepCol0 = requireInt(o, "keepCol0", where);
  L.keepCols = requireInt(o, "keepCols", where);
  return L;
}

}  // namespace

CallImages parseCallImages(const Napi::Value& pixels, const Napi::Value& images, const LlavaConfig& cfg) {
  CallImages out;
  if (images.IsArray()) {
    Napi::Array a = images.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      out.layouts.push_back(parseLayout(a.Get(i), "images[" + std::to_string(i) + "]"));
      out.crops += out.layouts.back().crops;
    }
  } else {
    const int64_t N = requireIntValue(images, "count");
    if (N < 0) throwExpected(images.Env(), "a non-negative image count", "count", images);
    out.layouts.assign(static_cast<size_t>(N), model::ImageLayout{});
    out.crops = N;
  }
  if (!pixels.IsTypedArray() || pixels.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throwExpected(pixels.Env(), "a Float32Array of pixel values", "pixels", pixels);
  }
  Napi::Float32Array a = pixels.As<Napi::Float32Array>();
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
    int64_t maxTokens = requireIntValue(info[0], "maxTokens");
    if (maxTokens < 1) throwExpected(env, "a positive integer", "maxTokens", info[0]);
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
    int64_t i = requireIntValue(info[0], "index");
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
    const bool wantHidden = info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
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
    auto items = parseItems<model::ScoredSequence>(info[2], [](const Napi::Object& o, const std::string& where) {
      return model::ScoredSequence{parseSequence(o, where), requireInt(o, "responseStart", where)};
    });
    auto m = model_;
    return PromiseWorker<std::vector<std::vector<float>>>::queue(
        info.Env(),
        [m, images, items = std::move(items)](std::vector<std::vector<float>>& out) { return m->logprobs(out, images->batch(), items); },
        [](Napi::Env e, std::vector<std::vector<float>>& out) { return toFloat32Arrays(e, out); }, {Value()});
  }

  Napi::Value startGeneration(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CallImages images = parseCallImages(info[0], info[1], model_->config());
    auto items = parseItems<model::GenerationItem>(info[2], [](const Napi::Object& o, const std::string& where) {
      model::GenerationItem it;
      it.prompt = parseSequence(o, where);
      it.maxNewTokens = requireInt(o, "maxNewTokens", where);
      it.sampling.temperature = static_cast<float>(requireNumber(o, "temperature", where));
      it.sampling.topK = requireInt(o, "topK", where);
      it.sampling.topP = static_cast<float>(requireNumber(o, "topP", where));
      it.sampling.seed = static_cast<uint64_t>(requireInt(o, "seed", where));
      return it;
    });
    if (!info[3].IsArray()) throwExpected(env, "an array of token ids", "eosIds", info[3]);
    Napi::Array eosArray = info[3].As<Napi::Array>();
    std::vector<int64_t> eos;
    for (uint32_t i = 0; i < eosArray.Length(); i++) eos.push_back(requireIntValue(eosArray.Get(i), "eosIds[" + std::to_string(i) + "]"));
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

std::vector<float> requireFloats(const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = o.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throwExpected(o.Env(), "a Float32Array", where + "." + key, v);
  }
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

LoadOptions parseLoadOptions(const Napi::Value& value) {
  LoadOptions opt;
  if (value.IsUndefined()) return opt;
  Napi::Object o = requireObject(value, "options");
  Napi::Value dtype = o.Get("dtype");
  if (!dtype.IsUndefined()) {
    const std::string d = dtype.IsString() ? dtype.As<Napi::String>().Utf8Value() : "";
    if (d != "stored" && d != "F32") throwExpected(o.Env(), "'stored' or 'F32'", "options.dtype", dtype);
    opt.forceF32 = d == "F32";
  }
  Napi::Value adapter = o.Get("adapter");
  if (adapter.IsUndefined()) return opt;
  Napi::Object a = requireObject(adapter, "options.adapter");
  Napi::Value alpha = a.Get("alpha");
  if (!alpha.IsNumber()) throwExpected(o.Env(), "a number", "options.adapter.alpha", alpha);
  opt.alpha = alpha.As<Napi::Number>().DoubleValue();
  Napi::Value tensors = a.Get("tensors");
  if (!tensors.IsArray()) throwExpected(o.Env(), "an array of LoRA deltas", "options.adapter.tensors", tensors);
  Napi::Array arr = tensors.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    const std::string where = "options.adapter.tensors[" + std::to_string(i) + "]";
    Napi::Object t = requireObject(arr.Get(i), where);
    Napi::Value weight = t.Get("weight");
    if (!weight.IsString()) throwExpected(o.Env(), "an engine tensor name", where + ".weight", weight);
    model::LoraDelta d;
    d.weight = weight.As<Napi::String>().Utf8Value();
    d.r = requireIntValue(t.Get("r"), where + ".r");
    d.A = requireFloats(t, "A", where);
    d.B = requireFloats(t, "B", where);
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
        auto m = LlavaModel::load(cfg, sources, opt.forceF32, opt.adapter, opt.alpha);
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

std::vector<int64_t> parseTokenIds(const Napi::Object& o, const char* key, const std::string& where) {
  return requireIds(o, key, where);
}

STIC_REGISTER_EXPORTS(model, initModelExports);

}  // namespace stic::addon
