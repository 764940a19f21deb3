#include "addon/registry.h"

#include <map>
#include <string>

namespace stic::addon {
namespace {
std::map<std::string, ExportInit>& registry() {
  static std::map<std::string, ExportInit> r;  // function-local: safe across static-init order
  return r;
}
}  // namespace

ExportRegistrar::ExportRegistrar(const char* name, ExportInit init) { registry()[name] = init; }

void initAllExports(Napi::Env env, Napi::Object exports) {
  for (auto& [name, init] : registry()) init(env, exports);
}

}  // namespace stic::addon
