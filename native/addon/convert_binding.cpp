// convertDType(src, srcType, dst, dstType): Promise<void> — element-type conversion of typed
// arrays on the CPU backend (the host side of checkpoint load/save).
#include <napi.h>

#include "addon/args.h"
#include "addon/registry.h"
#include "addon/worker.h"
#include "cpu/convert.h"

namespace stic::addon {
namespace {

struct Bytes {
  void* data;
  size_t bytes;
};

Bytes typedArrayBytes(const Napi::Value& v, const std::string& name) {
  Napi::TypedArray a = requireAnyTypedArray(v, name);
  return {typedData<char>(a), a.ByteLength()};
}

DType dtypeArg(const Napi::Value& v, const std::string& name) {
  return requireDType(v, name, std::string("a dtype name (") + kDTypeNames + ")");
}

Napi::Value convertDType(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes src = typedArrayBytes(info[0], "src");
  DType srcType = dtypeArg(info[1], "srcType");
  Bytes dst = typedArrayBytes(info[2], "dst");
  DType dstType = dtypeArg(info[3], "dstType");
  if (src.bytes % dtypeSize(srcType) != 0) {
    throw Napi::RangeError::New(env, "src has " + std::to_string(src.bytes) + " bytes, not a multiple of the " +
                                         dtypeName(srcType) + " element size");
  }
  size_t n = src.bytes / dtypeSize(srcType);
  if (dst.bytes != n * dtypeSize(dstType)) {
    throw Napi::RangeError::New(env, "dst has " + std::to_string(dst.bytes) + " bytes but " + std::to_string(n) + " " +
                                         dtypeName(dstType) + " elements need " + std::to_string(n * dtypeSize(dstType)));
  }
  return PromiseWorker<int>::queue(
      env, [=](int&) { return cpu::convert(dst.data, dstType, src.data, srcType, n); },
      [](Napi::Env e, int&) { return e.Undefined(); }, {info[0], info[2]});
}

void initConvertExports(Napi::Env env, Napi::Object exports) {
  exports.Set("convertDType", Napi::Function::New(env, convertDType, "convertDType"));
}

}  // namespace

STIC_REGISTER_EXPORTS(convert, initConvertExports);

}  // namespace stic::addon
