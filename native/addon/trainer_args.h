// The trainer binding's argument parsing (JS -> plain C++ structs, on the JS thread), shared by
// native/addon/trainer_binding.cpp. Every failure throws a TypeError shaped like
// "Expected <what> for <name> but received <value>", or names the pair ("pairs[2]: ...").
#pragma once
#include <napi.h>

#include <optional>
#include <string>
#include <vector>

#include "model/trainer.h"

namespace stic::addon::trainer_args {

struct StepKey {
  int64_t step = 0, micro = 0;
};

bool has(const Napi::Object& o, const char* key);
bool requireBoolKey(const Napi::Object& o, const char* key, const std::string& where);
bool boolOr(const Napi::Object& o, const char* key, const std::string& where, bool dflt);
// The index of o[key] among `choices`, or dflt when absent.
int choiceOr(const Napi::Object& o, const char* key, const std::string& where, const std::vector<std::string>& choices, int dflt);
int requireChoice(const Napi::Object& o, const char* key, const std::string& where, const std::vector<std::string>& choices);
// o[key] checked by ok(); dflt when absent and not required.
double checkedNumber(const Napi::Object& o, const char* key, const std::string& where, bool (*ok)(double), const char* what,
                     double dflt, bool required);
bool positiveFinite(double x);
bool nonNegativeFinite(double x);
bool finite(double x);
bool probability(double x);

model::LoraSpec parseLoraSpec(const Napi::Value& value);  // spec.lora
// pairs[i]; refs (when given) receives each pair's reference log-probs or nullopt.
std::vector<model::PairInput> parsePairs(const Napi::Value& value, std::vector<std::optional<model::RefLogps>>* refs);
std::vector<model::SftItem> parseSftItems(const Napi::Value& value);
StepKey parseKey(const Napi::Object& o, const std::string& where);  // o.key
model::DpoStepOptions parseDpoOptions(const Napi::Value& value);
model::SftStepOptions parseSftOptions(const Napi::Value& value);
// memoryPlan's shape: {featureRows, rows, keys, entries, refFeatures?} of a training step.
model::StepShape parseStepShape(const Napi::Value& value);
model::OptimizerOptions parseOptimizerOptions(const Napi::Value& value, bool projectorRequired);

}  // namespace stic::addon::trainer_args
