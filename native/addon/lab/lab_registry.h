// The kernel lab's own export registry (stic_lab.node; native/addon/lab/): each lab binding file
// registers its exports with one line, as the shipped addon's files do with registry.h, but into
// this module's list, so that nothing of the lab can reach stic.node's exports:
//   STIC_REGISTER_LAB_EXPORTS(kernels, initKernelsExports);
#pragma once
#include <napi.h>

namespace stic::lab {

using LabExportInit = void (*)(Napi::Env env, Napi::Object exports);

struct LabExportRegistrar {
  LabExportRegistrar(const char* name, LabExportInit init);
};

// Calls every registered initialiser, in name order.
void initLabExports(Napi::Env env, Napi::Object exports);

// exports[key], created empty by whichever initialiser asks first, so that several binding files
// can add functions to one namespace (exports.kernels) whatever their registration order.
Napi::Object labObject(Napi::Env env, Napi::Object exports, const char* key);

}  // namespace stic::lab

#define STIC_REGISTER_LAB_EXPORTS(name, fn) \
  static ::stic::lab::LabExportRegistrar stic_lab_registrar_##name(#name, fn)
