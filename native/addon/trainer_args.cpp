// Argument parsing of the trainer binding (see trainer_args.h).
#include "addon/trainer_args.h"

#include <cmath>

#include "addon/convert.h"
#include "addon/model_wrap.h"

namespace stic::addon::trainer_args {

bool has(const Napi::Object& o, const char* key) { return !o.Get(key).IsUndefined(); }

bool boolOr(const Napi::Object& o, const char* key, const std::string& where, bool dflt) {
  if (!has(o, key)) return dflt;
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) throwExpected(o.Env(), "a boolean", where + "." + key, v);
  return v.As<Napi::Boolean>().Value();
}

int choiceOr(const Napi::Object& o, const char* key, const std::string& where, const std::vector<std::string>& choices, int dflt) {
  return has(o, key) ? requireChoice(o, key, where, choices) : dflt;
}

int requireChoice(const Napi::Object& o, const char* key, const std::string& where, const std::vector<std::string>& choices) {
  Napi::Value v = o.Get(key);
  for (size_t i = 0; v.IsString() && i < choices.size(); i++) {
    if (v.As<Napi::String>().Utf8Value() == choices[i]) return static_cast<int>(i);
  }
  std::string list;
  for (size_t i = 0; i < choices.size(); i++) list += (i ? (i + 1 == choices.size() ? " or " : ", ") : "") + ("'" + choices[i] + "'");
  throwExpected(o.Env(), list, where + "." + key, v);
}

double checkedNumber(const Napi::Object& o, const char* key, const std::string& where, bool (*ok)(double), const char* what,
                     double dflt, bool required) {
  if (!required && !has(o, key)) return dflt;
  const double x = requireNumber(o, key, where);
  if (!ok(x)) throwExpected(o.Env(), what, where + "." + key, o.Get(key));
  return x;
}

bool requireBoolKey(const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) throwExpected(o.Env(), "a boolean", where + "." + key, v);
  return v.As<Napi::Boolean>().Value();
}

bool positiveFinite(double x) { return std::isfinite(x) && x > 0; }
bool nonNegativeFinite(double x) { return std::isfinite(x) && x >= 0; }
bool finite(double x) { return std::isfinite(x); }
bool probability(double x) { return x >= 0 && x < 1; }

model::LoraSpec parseLoraSpec(const Napi::Value& value) {
  const std::string where = "spec.lora";
  Napi::Object o = requireObject(value, where);
  model::LoraSpec s;
  s.r = requireInt(o, "r", where);
  if (s.r < 1) throwExpected(o.Env(), "a positive integer", where + ".r", o.Get("r"));
  s.alpha = checkedNumber(o, "alpha", where, positiveFinite, "a positive number", 0, true);
  s.dropout = static_cast<float>(checkedNumber(o, "dropout", where, probability, "a probability in [0, 1)", 0, true));
  const int64_t seed = requireInt(o, "seed", where);
  if (seed < 0) throwExpected(o.Env(), "an integer in [0, 2^53)", where + ".seed", o.Get("seed"));
  s.seed = static_cast<uint64_t>(seed);
  Napi::Value targets = o.Get("targets");
  if (!targets.IsArray() || targets.As<Napi::Array>().Length() == 0) {
    throwExpected(o.Env(), "a non-empty array of module names (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)",
                  where + ".targets", targets);
  }
  Napi::Array a = targets.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    const std::string name = where + ".targets[" + std::to_string(i) + "]";
    Napi::Value v = a.Get(i);
    const int m = v.IsString() ? model::loraModuleByName(v.As<Napi::String>().Utf8Value()) : -1;
    if (m < 0) throwExpected(o.Env(), "one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj", name, v);
    if (s.targets[m]) throwExpected(o.Env(), "a module not listed before", name, v);
    s.targets[m] = true;
  }
  return s;
}

namespace {

model::PairInput parsePair(const Napi::Object& o, const std::string& where, std::optional<model::RefLogps>* ref) {
  model::PairInput p;
  p.images = requireIntArray(o, "images", where);
  p.prompt = parseTokenIds(o, "promptIds", where);
  p.chosen = parseTokenIds(o, "chosenIds", where);
  p.rejected = parseTokenIds(o, "rejectedIds", where);
  const bool hasC = has(o, "refChosen"), hasR = has(o, "refRejected");
  if (hasC != hasR) {
    throw Napi::TypeError::New(o.Env(), where + ": expected refChosen and refRejected together (or neither) but received only " +
                                            (hasC ? "refChosen" : "refRejected"));
  }
  if (ref && hasC) {
    const float c = static_cast<float>(checkedNumber(o, "refChosen", where, finite, "a finite number", 0, true));
    const float r = static_cast<float>(checkedNumber(o, "refRejected", where, finite, "a finite number", 0, true));
    *ref = model::RefLogps{c, r};
  }
  return p;
}

}  // namespace

std::vector<model::PairInput> parsePairs(const Napi::Value& value, std::vector<std::optional<model::RefLogps>>* refs) {
  if (!value.IsArray()) throwExpected(value.Env(), "an array of preference pairs", "pairs", value);
  Napi::Array a = value.As<Napi::Array>();
  std::vector<model::PairInput> out;
  if (refs) refs->assign(a.Length(), std::nullopt);
  for (uint32_t i = 0; i < a.Length(); i++) {
    const std::string where = "pairs[" + std::to_string(i) + "]";
    out.push_back(parsePair(requireObject(a.Get(i), where), where, refs ? &(*refs)[i] : nullptr));
  }
  return out;
}

namespace {

std::vector<uint8_t> parseMask(const Napi::Object& o, const std::string& where) {
  Napi::Value v = o.Get("mask");
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    Napi::Uint8Array a = v.As<Napi::Uint8Array>();
    return std::vector<uint8_t>(a.Data(), a.Data() + a.ElementLength());
  }
  if (!v.IsArray()) throwExpected(o.Env(), "a Uint8Array or an array of 0/1 flags", where + ".mask", v);
  std::vector<uint8_t> out;
  for (int64_t x : requireIntArray(o, "mask", where)) out.push_back(x != 0 ? 1 : 0);
  return out;
}

}  // namespace

StepKey parseKey(const Napi::Object& o, const std::string& where) {
  Napi::Object k = requireObject(o.Get("key"), where + ".key");
  StepKey key{requireInt(k, "step", where + ".key"), requireInt(k, "micro", where + ".key")};
  if (key.step < 0) throwExpected(o.Env(), "a non-negative integer", where + ".key.step", k.Get("step"));
  if (key.micro < 0) throwExpected(o.Env(), "a non-negative integer", where + ".key.micro", k.Get("micro"));
  return key;
}

model::DpoStepOptions parseDpoOptions(const Napi::Value& value) {
  const std::string where = "options";
  Napi::Object o = requireObject(value, where);
  model::DpoStepOptions opt;
  StepKey key = parseKey(o, where);
  opt.step = key.step;
  opt.micro = key.micro;
  // The loss hyperparameters are required: their defaults live in the TypeScript option tables
  // (lib/stic/train_options.ts), the one place a user reads and changes them.
  opt.loss.loss = static_cast<train::PreferenceLoss>(requireChoice(o, "loss", where, {"sigmoid", "hinge", "ipo"}));
  opt.loss.beta = checkedNumber(o, "beta", where, positiveFinite, "a positive number", 0, true);
  opt.loss.sftWeight = checkedNumber(o, "sftWeight", where, nonNegativeFinite, "a non-negative number", 0, true);
  opt.loss.sftNorm = requireChoice(o, "sftNorm", where, {"sum", "mean"}) == 0 ? train::SftNorm::Sum : train::SftNorm::Mean;
  opt.rejectedMode = requireChoice(o, "rejectedMode", where, {"label", "top-alt"}) == 0 ? train::GatherMode::Label : train::GatherMode::TopAlt;
  opt.gradScale = checkedNumber(o, "gradScale", where, positiveFinite, "a positive number", 1.0, false);
  // How the step runs is required too (lib/train/tasks.ts says it).
  opt.sharedPrefix = requireBoolKey(o, "sharedPrefix", where);
  opt.gradCheckpointing = requireBoolKey(o, "gradCheckpointing", where);
  opt.refTrainedProjector = requireChoice(o, "refProjector", where, {"original", "trained"}) == 1;
  return opt;
}

namespace {

train::ParamGroup parseGroup(const Napi::Object& o, const char* key, const std::string& where) {
  const std::string w = where + "." + key;
  Napi::Object g = requireObject(o.Get(key), w);
  return {checkedNumber(g, "lr", w, nonNegativeFinite, "a non-negative number", 0, true),
          checkedNumber(g, "weightDecay", w, nonNegativeFinite, "a non-negative number", 0, true)};
}

}  // namespace

std::vector<model::SftItem> parseSftItems(const Napi::Value& value) {
  if (!value.IsArray()) throwExpected(value.Env(), "an array of SFT items", "items", value);
  Napi::Array a = value.As<Napi::Array>();
  std::vector<model::SftItem> items;
  for (uint32_t i = 0; i < a.Length(); i++) {
    const std::string where = "items[" + std::to_string(i) + "]";
    Napi::Object o = requireObject(a.Get(i), where);
    items.push_back({{parseTokenIds(o, "ids", where), requireIntArray(o, "images", where)}, parseMask(o, where)});
  }
  return items;
}

model::SftStepOptions parseSftOptions(const Napi::Value& value) {
  const std::string where = "options";
  Napi::Object o = requireObject(value, where);
  StepKey key = parseKey(o, where);
  model::SftStepOptions opt;
  opt.step = key.step;
  opt.micro = key.micro;
  opt.meanOver = checkedNumber(o, "meanOver", where, positiveFinite, "a positive number", 0, false);
  opt.gradScale = checkedNumber(o, "gradScale", where, positiveFinite, "a positive number", 1.0, false);
  opt.gradCheckpointing = requireBoolKey(o, "gradCheckpointing", where);
  return opt;
}

model::StepShape parseStepShape(const Napi::Value& value) {
  const std::string where = "shape";
  Napi::Object o = requireObject(value, where);
  model::StepShape s;
  const std::pair<const char*, int64_t*> sizes[] = {
      {"featureRows", &s.featureRows}, {"rows", &s.rows}, {"keys", &s.keys}, {"entries", &s.entries}};
  for (auto [key, dst] : sizes) {
    *dst = requireInt(o, key, where);
    if (*dst < 0) throwExpected(o.Env(), "a non-negative integer", where + "." + key, o.Get(key));
  }
  s.backward = true;
  s.refFeatures = boolOr(o, "refFeatures", where, false);
  return s;
}

model::OptimizerOptions parseOptimizerOptions(const Napi::Value& value, bool projectorRequired) {
  const std::string where = "options";
  Napi::Object o = requireObject(value, where);
  model::OptimizerOptions opt;
  opt.lora = parseGroup(o, "lora", where);
  if (projectorRequired || has(o, "projector")) opt.projector = parseGroup(o, "projector", where);
  // Required: the defaults are the option tables' (lib/stic/train_options.ts).
  opt.hyper.beta1 = checkedNumber(o, "beta1", where, probability, "a number in [0, 1)", 0, true);
  opt.hyper.beta2 = checkedNumber(o, "beta2", where, probability, "a number in [0, 1)", 0, true);
  opt.hyper.eps = checkedNumber(o, "eps", where, positiveFinite, "a positive number", 0, true);
  opt.maxGradNorm = checkedNumber(o, "maxGradNorm", where, finite, "a finite number", 0, true);
  return opt;
}

}  // namespace stic::addon::trainer_args
