// Each binding file registers its exports with one line, so adding a module never edits a
// shared file:  STIC_REGISTER_EXPORTS(safetensors, initSafetensorsExports);
#pragma once
#include <napi.h>

namespace stic::addon {

using ExportInit = void (*)(Napi::Env env, Napi::Object exports);

struct ExportRegistrar {
  ExportRegistrar(const char* name, ExportInit init);
};

// Calls every registered initialiser (in name order, so the module layout is deterministic).
void initAllExports(Napi::Env env, Napi::Object exports);

}  // namespace stic::addon

#define STIC_REGISTER_EXPORTS(name, fn) \
  static ::stic::addon::ExportRegistrar stic_registrar_##name(#name, fn)
