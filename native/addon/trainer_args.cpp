// Argument parsing of the trainer binding (see trainer_args.h).
#include "addon/trainer_args.h"

#include "addon/args.h"
#include "model/full_params.h"

namespace stic::addon::trainer_args {

namespace {

const std::vector<std::string> kLoss = {"sigmoid", "hinge", "ipo"};
const std::vector<std::string> kSftNorm = {"sum", "mean"};
const std::vector<std::string> kRejectedMode = {"label", "top-alt"};
const std::vector<std::string> kRefProjector = {"original", "trained"};

train::GatherMode rejectedMode(const Args& o) {
  return o.choice("rejectedMode", kRejectedMode) == 0 ? train::GatherMode::Label : train::GatherMode::TopAlt;
}

// o.key: the dropout key of a micro-step.
void parseKey(const Args& o, int64_t* step, int64_t* micro) {
  const Args k = o.object("key");
  *step = k.size("step", 0);
  *micro = k.size("micro", 0);
}

model::PairInput parsePair(const Args& o, std::optional<model::RefLogps>* ref) {
  model::PairInput p;
  p.images = o.intArray("images");
  p.prompt = o.tokenIds("promptIds");
  p.chosen = o.tokenIds("chosenIds");
  p.rejected = o.tokenIds("rejectedIds");
  const bool hasC = o.has("refChosen"), hasR = o.has("refRejected");
  if (hasC != hasR) {
    throw Napi::TypeError::New(o.env(), o.where() + ": expected refChosen and refRejected together (or neither) but received only " +
                                            (hasC ? "refChosen" : "refRejected"));
  }
  if (ref && hasC) {
    *ref = model::RefLogps{static_cast<float>(o.number("refChosen", Num::Finite)), static_cast<float>(o.number("refRejected", Num::Finite))};
  }
  return p;
}

train::ParamGroup parseGroup(const Args& g) { return {g.number("lr", Num::NonNegative), g.number("weightDecay", Num::NonNegative)}; }

}  // namespace

model::LoraSpec parseLoraSpec(const Napi::Value& value) {
  const Args o(value, "spec.lora");
  model::LoraSpec s;
  s.r = o.size("r");
  s.alpha = o.number("alpha", Num::Positive);
  s.dropout = static_cast<float>(o.number("dropout", Num::Probability));
  s.seed = o.seed("seed");
  Napi::Value targets = o.get("targets");
  if (!targets.IsArray() || targets.As<Napi::Array>().Length() == 0) {
    o.fail("targets", "a non-empty array of module names (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)");
  }
  Napi::Array a = targets.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    const std::string name = o.name("targets") + "[" + std::to_string(i) + "]";
    Napi::Value v = a.Get(i);
    const int m = v.IsString() ? model::loraModuleByName(v.As<Napi::String>().Utf8Value()) : -1;
    if (m < 0) throwExpected(o.env(), "one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj", name, v);
    if (s.targets[m]) throwExpected(o.env(), "a module not listed before", name, v);
    s.targets[m] = true;
  }
  return s;
}

std::vector<model::PairInput> parsePairs(const Napi::Value& value, std::vector<std::optional<model::RefLogps>>* refs) {
  Napi::Array a = requireArray(value, "pairs", "an array of preference pairs");
  std::vector<model::PairInput> out;
  if (refs) refs->assign(a.Length(), std::nullopt);
  for (uint32_t i = 0; i < a.Length(); i++) {
    out.push_back(parsePair(Args(a.Get(i), "pairs[" + std::to_string(i) + "]"), refs ? &(*refs)[i] : nullptr));
  }
  return out;
}

std::vector<model::SftItem> parseSftItems(const Napi::Value& value) {
  Napi::Array a = requireArray(value, "items", "an array of SFT items");
  std::vector<model::SftItem> items;
  for (uint32_t i = 0; i < a.Length(); i++) {
    const Args o(a.Get(i), "items[" + std::to_string(i) + "]");
    items.push_back({{o.tokenIds("ids"), o.intArray("images")}, o.mask("mask")});
  }
  return items;
}

PairLogprobsOptions parsePairLogprobsOptions(const Napi::Value& value) {
  const Args o(value, "options");
  PairLogprobsOptions opt;
  opt.policy = o.choice("model", {"reference", "policy"}) == 1;
  opt.rejectedMode = rejectedMode(o);
  // The reference's projector; the policy always uses the trained one.
  opt.trainedProjector = !opt.policy && o.choice("refProjector", kRefProjector) == 1;
  return opt;
}

model::DpoStepOptions parseDpoOptions(const Napi::Value& value) {
  const Args o(value, "options");
  model::DpoStepOptions opt;
  parseKey(o, &opt.step, &opt.micro);
  // The loss hyperparameters are required: their defaults live in the TypeScript option tables
  // (lib/stic/train_options.ts), the one place a user reads and changes them; how the step runs is
  // required too (lib/train/tasks.ts says it).
  opt.loss.loss = static_cast<train::PreferenceLoss>(o.choice("loss", kLoss));
  opt.loss.beta = o.number("beta", Num::Positive);
  opt.loss.sftWeight = o.number("sftWeight", Num::NonNegative);
  opt.loss.sftNorm = o.choice("sftNorm", kSftNorm) == 0 ? train::SftNorm::Sum : train::SftNorm::Mean;
  opt.rejectedMode = rejectedMode(o);
  opt.gradScale = o.numberOr("gradScale", 1.0, Num::Positive);
  opt.sharedPrefix = o.boolean("sharedPrefix");
  opt.gradCheckpointing = o.boolean("gradCheckpointing");
  opt.refTrainedProjector = o.choice("refProjector", kRefProjector) == 1;
  return opt;
}

model::SftStepOptions parseSftOptions(const Napi::Value& value) {
  const Args o(value, "options");
  model::SftStepOptions opt;
  parseKey(o, &opt.step, &opt.micro);
  opt.meanOver = o.numberOr("meanOver", 0, Num::Positive);
  opt.gradScale = o.numberOr("gradScale", 1.0, Num::Positive);
  opt.gradCheckpointing = o.boolean("gradCheckpointing");
  return opt;
}

model::StepShape parseStepShape(const Napi::Value& value) {
  const Args o(value, "shape");
  model::StepShape s;
  s.featureRows = o.size("featureRows", 0);
  s.rows = o.size("rows", 0);
  s.keys = o.size("keys", 0);
  s.entries = o.size("entries", 0);
  s.backward = true;
  s.refFeatures = o.boolOr("refFeatures", false);
  return s;
}

model::OptimizerSpec parseOptimizerOptions(const Napi::Value& value, bool projectorRequired) {
  const Args o(value, "options");
  model::OptimizerSpec opt;
  opt.groups.resize(2);  // kLoraGroup, kProjectorGroup
  opt.groups[model::kLoraGroup] = parseGroup(o.object("lora"));
  if (projectorRequired || o.has("projector")) opt.groups[model::kProjectorGroup] = parseGroup(o.object("projector"));
  // Required: the defaults are the option tables' (lib/stic/train_options.ts).
  opt.hyper.beta1 = o.number("beta1", Num::UnitOpen);
  opt.hyper.beta2 = o.number("beta2", Num::UnitOpen);
  opt.hyper.eps = o.number("eps", Num::Positive);
  opt.maxGradNorm = o.number("maxGradNorm", Num::Finite);
  return opt;
}

model::SftStepOptions parsePretrainStepOptions(const Napi::Value& value, bool backward) {
  model::SftStepOptions opt;
  opt.targetRequired = false;
  opt.backward = backward;
  if (isAbsent(value)) return opt;
  const Args o(value, "options");
  opt.meanOver = o.numberOr("meanOver", 0, Num::Positive);
  opt.gradScale = o.numberOr("gradScale", 1, Num::Positive);
  return opt;
}

model::OptimizerSpec parsePretrainOptimizer(const Napi::Value& value) {
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

}  // namespace stic::addon::trainer_args
