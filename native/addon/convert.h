// JS -> plain C++ conversion helpers. Every failure throws a TypeError shaped like sharp's:
// "Expected <what> for <name> but received <value>".
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace stic::addon {

std::string describeValue(const Napi::Value& v);  // "a string", "-3", "undefined", "an object"...
[[noreturn]] void throwExpected(Napi::Env env, const std::string& what, const std::string& name, const Napi::Value& got);

Napi::Object requireObject(const Napi::Value& v, const std::string& name);
std::string requireString(const Napi::Object& o, const char* key, const std::string& where);
double requireNumber(const Napi::Object& o, const char* key, const std::string& where);
int64_t requireInt(const Napi::Object& o, const char* key, const std::string& where);
int64_t requireIntValue(const Napi::Value& v, const std::string& name);
// A random seed: an integer in [0, 2^53) (what a JS number holds exactly).
uint64_t requireSeedValue(const Napi::Value& v, const std::string& name);
std::vector<int64_t> requireIntArray(const Napi::Object& o, const char* key, const std::string& where);
DType requireDType(const Napi::Object& o, const char* key, const std::string& where);
// An array of tensor names (argument `names`); each entry must be a string ("names[i]" in errors).
std::vector<std::string> requireTensorNames(const Napi::Value& v);

// A JS ArrayBuffer that owns a native Tensor's bytes (external: not copied into the JS heap).
Napi::ArrayBuffer tensorToArrayBuffer(Napi::Env env, const Tensor& t);

}  // namespace stic::addon
