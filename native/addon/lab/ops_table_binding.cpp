// The ops table's refusal on its own (core/ops.h: missingOps, requireOps), for the test that checks
// it names exactly the entries an incomplete table lacks (test/native/ops_table.test.ts): a model is
// refused at creation through it.
//   kernels.opsTableEntries() -> string[]                every entry's "family.op" name, in table order
//   kernels.requireOps(clear, what) -> string | null     a copy of the CPU table with the entries named
//                                                        in `clear` emptied; requireOps' refusal as
//                                                        "<CODE>: <message>", or null when it accepts
#include <napi.h>

#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/lab/lab_registry.h"
#include "core/ops.h"

namespace stic::addon {
namespace {

#define STIC_OP_NAME(family, op) #family "." #op,
const std::vector<std::string> kEntries = {STIC_OPS_ENTRIES(STIC_OP_NAME)};
#undef STIC_OP_NAME

// Empties the entry called `name` ("family.op"); false when the table has none of that name.
bool clearEntry(Ops& ops, const std::string& name) {
#define STIC_OP_CLEAR(family, op)        \
  if (name == #family "." #op) {         \
    ops.family.op = nullptr;             \
    return true;                         \
  }
  STIC_OPS_ENTRIES(STIC_OP_CLEAR)
#undef STIC_OP_CLEAR
  return false;
}

Napi::Value opsTableEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, kEntries.size());
  for (size_t i = 0; i < kEntries.size(); i++) out.Set(static_cast<uint32_t>(i), kEntries[i]);
  return out;
}

Napi::Value requireOpsOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<std::string> clear = requireStringArray(info[0], "kernels.requireOps clear", "an array of op names", "kernels.requireOps clear[i]");
  const std::string what = requireString(info[1], "kernels.requireOps what");
  Ops ops = cpuOps();
  for (size_t i = 0; i < clear.size(); i++) {
    if (!clearEntry(ops, clear[i])) {
      throwExpected(env, "an entry of the ops table (family.op, e.g. lora.lora_delta_forward)", "kernels.requireOps clear[" + std::to_string(i) + "]",
                    info[0].As<Napi::Array>().Get(static_cast<uint32_t>(i)));
    }
  }
  const Status s = requireOps(ops, what.c_str());
  if (s.isOk()) return env.Null();
  return Napi::String::New(env, std::string(codeName(s.code())) + ": " + s.message());
}

void initOpsTableExports(Napi::Env env, Napi::Object exports) {
  Napi::Object k = stic::lab::labObject(env, exports, "kernels");
  k.Set("opsTableEntries", Napi::Function::New(env, opsTableEntries, "opsTableEntries"));
  k.Set("requireOps", Napi::Function::New(env, requireOpsOf, "requireOps"));
}

}  // namespace

STIC_REGISTER_LAB_EXPORTS(kernels_ops_table, initOpsTableExports);

}  // namespace stic::addon
