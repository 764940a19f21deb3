// LLaVA-NeXT anyres preprocessing binding (native/image/anyres.h):
//   anyresPreprocess(image, options): Promise<Float32Array (K, C, S, S)>
// image {data: Uint8Array (H, W, C), width, height}; options {crop, canvasWidth, canvasHeight,
// resizedWidth, resizedHeight, mean, std, backend: "torchvision" | "pil"} (lib/data/anyres.ts
// computes the geometry).
#include <napi.h>

#include <string>
#include <vector>

#include "addon/convert.h"
#include "addon/registry.h"
#include "addon/worker.h"
#include "image/anyres.h"

namespace stic::addon {
namespace {

image::ImageView imageArg(const Napi::Value& v, Napi::Value& keepAlive) {
  const std::string where = "image";
  Napi::Object o = requireObject(v, where);
  const int64_t w = requireInt(o, "width", where), h = requireInt(o, "height", where);
  if (w < 1 || w > 65535) throwExpected(v.Env(), "an integer between 1 and 65535", where + ".width", o.Get("width"));
  if (h < 1 || h > 65535) throwExpected(v.Env(), "an integer between 1 and 65535", where + ".height", o.Get("height"));
  Napi::Value d = o.Get("data");
  if (!d.IsTypedArray() || d.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throwExpected(v.Env(), "a Uint8Array", where + ".data", d);
  }
  auto bytes = d.As<Napi::Uint8Array>();
  const size_t want = static_cast<size_t>(w) * h * image::kChannels;
  if (bytes.ByteLength() != want) {
    throw Napi::RangeError::New(v.Env(), "Expected " + std::to_string(want) + " bytes (" + std::to_string(w) + " x " + std::to_string(h) +
                                             " x 3 RGB) for image.data but received " + std::to_string(bytes.ByteLength()));
  }
  keepAlive = d;
  return image::ImageView{bytes.Data(), static_cast<int>(w), static_cast<int>(h)};
}

void triple(const Napi::Object& o, const char* key, float out[3]) {
  Napi::Value v = o.Get(key);
  const std::string name = std::string("options.") + key;
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 3) throwExpected(o.Env(), "an array of 3 numbers", name, v);
  for (uint32_t c = 0; c < 3; ++c) {
    Napi::Value x = v.As<Napi::Array>().Get(c);
    if (!x.IsNumber()) throwExpected(o.Env(), "a number", name + "[" + std::to_string(c) + "]", x);
    out[c] = x.As<Napi::Number>().FloatValue();
  }
}

Napi::Value anyresPreprocess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value keepAlive;
  const image::ImageView src = imageArg(info[0], keepAlive);
  Napi::Object o = requireObject(info[1], "options");
  image::AnyresOptions opts;
  opts.crop = static_cast<int>(requireInt(o, "crop", "options"));
  opts.canvasWidth = static_cast<int>(requireInt(o, "canvasWidth", "options"));
  opts.canvasHeight = static_cast<int>(requireInt(o, "canvasHeight", "options"));
  opts.resizedWidth = static_cast<int>(requireInt(o, "resizedWidth", "options"));
  opts.resizedHeight = static_cast<int>(requireInt(o, "resizedHeight", "options"));
  triple(o, "mean", opts.mean);
  triple(o, "std", opts.std);
  const std::string backend = requireString(o, "backend", "options");
  if (backend == "torchvision") opts.backend = image::AnyresBackend::Torchvision;
  else if (backend == "pil") opts.backend = image::AnyresBackend::Pil;
  else throwExpected(env, "\"torchvision\" or \"pil\"", "options.backend", o.Get("backend"));
  Status valid = image::validateAnyresOptions(opts);
  if (!valid.isOk()) throw Napi::RangeError::New(env, valid.message());
  struct Out {
    std::vector<float> pixels;  // (K, C, S, S)
  };
  return PromiseWorker<Out>::queue(
      env,
      [src, opts](Out& out) {
        out.pixels.resize(static_cast<size_t>(opts.crops()) * image::kChannels * opts.crop * opts.crop);
        image::anyresCrops(src, opts, out.pixels.data());
        return Status::ok();
      },
      [](Napi::Env e, Out& out) -> Napi::Value {
        auto* holder = new std::vector<float>(std::move(out.pixels));
        const size_t n = holder->size();
        Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(
            e, holder->data(), n * sizeof(float), [](Napi::Env, void*, std::vector<float>* h) { delete h; }, holder);
        return Napi::Float32Array::New(e, n, buf, 0);
      },
      {keepAlive});
}

void initAnyresExports(Napi::Env env, Napi::Object exports) {
  exports.Set("anyresPreprocess", Napi::Function::New(env, anyresPreprocess, "anyresPreprocess"));
}

}  // namespace

STIC_REGISTER_EXPORTS(anyres, initAnyresExports);

}  // namespace stic::addon
