// dpoLoss(pairs, options) -> metrics: the DPO loss and reward metrics of summed response log-probs,
// through train::dpo_loss, the code a training step (LlavaTrainer::dpoStep) ends with. Used by the
// held-out evaluation of `stic dpo --eval-prefs` (lib/train/dpo_eval.ts). Every hyperparameter is
// required: the option tables (lib/stic/train_options.ts) hold the defaults.
//   pairs:   [{policyChosen, policyRejected, refChosen, refRejected, chosenTokens}] (B >= 1)
//   options: {loss: 'sigmoid'|'hinge'|'ipo', beta > 0, sftWeight >= 0, sftNorm: 'sum'|'mean'}
// O(B) scalar work: it runs on the calling thread and returns the metrics object.
#include <napi.h>

#include <string>
#include <vector>

#include "addon/convert.h"
#include "addon/registry.h"
#include "addon/trainer_args.h"
#include "cpu/losses.h"

namespace stic::addon {
namespace {

using namespace trainer_args;

int requireChoice(const Napi::Object& o, const char* key, const std::string& where, const std::vector<std::string>& choices) {
  if (!has(o, key)) {
    std::string list;
    for (size_t i = 0; i < choices.size(); i++) list += (i ? (i + 1 == choices.size() ? " or " : ", ") : "") + ("'" + choices[i] + "'");
    throwExpected(o.Env(), list, where + "." + key, o.Get(key));
  }
  return choiceOr(o, key, where, choices, 0);
}

train::DpoOptions parseLossOptions(const Napi::Value& value) {
  const std::string where = "options";
  Napi::Object o = requireObject(value, where);
  train::DpoOptions opt;
  opt.loss = static_cast<train::PreferenceLoss>(requireChoice(o, "loss", where, {"sigmoid", "hinge", "ipo"}));
  opt.beta = checkedNumber(o, "beta", where, positiveFinite, "a positive number", 0, true);
  opt.sftWeight = checkedNumber(o, "sftWeight", where, nonNegativeFinite, "a non-negative number", 0, true);
  opt.sftNorm = requireChoice(o, "sftNorm", where, {"sum", "mean"}) == 0 ? train::SftNorm::Sum : train::SftNorm::Mean;
  return opt;
}

// The pairs' columns, as dpo_loss reads them.
struct LossColumns {
  std::vector<float> policyChosen, policyRejected, refChosen, refRejected;
  std::vector<int64_t> chosenTokens;
};

LossColumns parseLossPairs(const Napi::Value& value) {
  if (!value.IsArray() || value.As<Napi::Array>().Length() == 0) throwExpected(value.Env(), "a non-empty array of pairs", "pairs", value);
  Napi::Array a = value.As<Napi::Array>();
  LossColumns c;
  for (uint32_t i = 0; i < a.Length(); i++) {
    const std::string where = "pairs[" + std::to_string(i) + "]";
    Napi::Object p = requireObject(a.Get(i), where);
    // Not range-checked: a diverged policy's NaN shows in the metrics, as in a training step's.
    auto logp = [&](const char* key) { return static_cast<float>(requireNumber(p, key, where)); };
    c.policyChosen.push_back(logp("policyChosen"));
    c.policyRejected.push_back(logp("policyRejected"));
    c.refChosen.push_back(logp("refChosen"));
    c.refRejected.push_back(logp("refRejected"));
    const int64_t n = requireInt(p, "chosenTokens", where);
    if (n < 1) throwExpected(p.Env(), "a positive token count (a chosen response has at least 1 token)", where + ".chosenTokens", p.Get("chosenTokens"));
    c.chosenTokens.push_back(n);
  }
  return c;
}

Napi::Value dpoLoss(const Napi::CallbackInfo& info) {
  LossColumns c = parseLossPairs(info[0]);
  const train::DpoOptions opt = parseLossOptions(info[1]);
  const int64_t B = static_cast<int64_t>(c.chosenTokens.size());
  train::DpoBatch batch{B, c.policyChosen.data(), c.policyRejected.data(), c.refChosen.data(), c.refRejected.data(), c.chosenTokens.data(), 0};
  std::vector<float> grads(2 * B);  // dL/d policy logp: not returned (no backward here)
  const train::DpoMetrics m = train::dpo_loss(grads.data(), grads.data() + B, batch, opt);
  Napi::Env env = info.Env();
  Napi::Object r = Napi::Object::New(env);
  r.Set("loss", m.loss), r.Set("rewardChosen", m.rewardChosen), r.Set("rewardRejected", m.rewardRejected);
  r.Set("rewardAccuracy", m.rewardAccuracy), r.Set("rewardMargin", m.rewardMargin);
  r.Set("logpChosen", m.logpChosen), r.Set("logpRejected", m.logpRejected);
  return r;
}

void initDpoLossExports(Napi::Env env, Napi::Object exports) {
  exports.Set("dpoLoss", Napi::Function::New(env, dpoLoss, "dpoLoss"));
}

}  // namespace

STIC_REGISTER_EXPORTS(dpo_loss, initDpoLossExports);

}  // namespace stic::addon
