// stic_lab.node, the kernel lab: the CPU, training and CUDA kernels on their own, over typed arrays,
// for tests and benchmarks (test/helpers/lab.ts loads it; its contract is test/helpers/lab_contract.ts).
// Built only when CMake's STIC_LAB is on (scripts/build_lab.sh, run by npm test / bench / test:gpu);
// a plain `npm install` builds stic.node alone. It links against stic.node, so every kernel it calls
// is the shipped addon's own code, with its state (the SGEMM tile choice, the compute thread).
#include <napi.h>

#include <map>
#include <string>

#include "addon/lab/lab_registry.h"

namespace stic::lab {
namespace {
std::map<std::string, LabExportInit>& registry() {
  static std::map<std::string, LabExportInit> r;  // function-local: safe across static-init order
  return r;
}
}  // namespace

LabExportRegistrar::LabExportRegistrar(const char* name, LabExportInit init) { registry()[name] = init; }

void initLabExports(Napi::Env env, Napi::Object exports) {
  for (auto& [name, init] : registry()) init(env, exports);
}

Napi::Object labObject(Napi::Env env, Napi::Object exports, const char* key) {
  if (!exports.Has(key)) exports.Set(key, Napi::Object::New(env));
  return exports.Get(key).As<Napi::Object>();
}

}  // namespace stic::lab

static Napi::Object InitSticLab(Napi::Env env, Napi::Object exports) {
  stic::lab::initLabExports(env, exports);
  return exports;
}
NODE_API_MODULE(stic_lab, InitSticLab)
