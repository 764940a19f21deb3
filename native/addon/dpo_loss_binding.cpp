// dpoLoss(pairs, options) -> metrics: the DPO loss and reward metrics of summed response log-probs,
// through train::dpo_loss, the code a training step (Trainer::dpoStep) ends with. Used by the
// held-out evaluation of `stic dpo --eval-prefs` (lib/train/dpo_eval.ts). Every hyperparameter is
// required: the option tables (lib/stic/train_options.ts) hold the defaults.
//   pairs:   [{policyChosen, policyRejected, refChosen, refRejected, chosenTokens}] (B >= 1)
//   options: {loss: 'sigmoid'|'hinge'|'ipo', beta > 0, sftWeight >= 0, sftNorm: 'sum'|'mean'}
// O(B) scalar work: it runs on the calling thread and returns the metrics object.
#include <napi.h>

#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/registry.h"
#include "cpu/losses.h"

namespace stic::addon {
namespace {

train::DpoOptions parseLossOptions(const Napi::Value& value) {
  const Args o(value, "options");
  train::DpoOptions opt;
  opt.loss = static_cast<train::PreferenceLoss>(o.choice("loss", {"sigmoid", "hinge", "ipo"}));
  opt.beta = o.number("beta", Num::Positive);
  opt.sftWeight = o.number("sftWeight", Num::NonNegative);
  opt.sftNorm = o.choice("sftNorm", {"sum", "mean"}) == 0 ? train::SftNorm::Sum : train::SftNorm::Mean;
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
    const Args p(a.Get(i), "pairs[" + std::to_string(i) + "]");
    // Not range-checked: a diverged policy's NaN shows in the metrics, as in a training step's.
    auto logp = [&](const char* key) { return static_cast<float>(p.number(key)); };
    c.policyChosen.push_back(logp("policyChosen"));
    c.policyRejected.push_back(logp("policyRejected"));
    c.refChosen.push_back(logp("refChosen"));
    c.refRejected.push_back(logp("refRejected"));
    const int64_t n = p.integer("chosenTokens");
    if (n < 1) p.fail("chosenTokens", "a positive token count (a chosen response has at least 1 token)");
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
