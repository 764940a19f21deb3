// Image preprocessing and corruption bindings (native/image/). Shapes: images are
// {data: Uint8Array (H, W, C), width, height}; preprocessImages returns Float32Array (N, C, S, S).
//   preprocessImages(images, options): Promise<Float32Array>
//   corruptImages(images, seeds, spec): Promise<{image, params}[]>
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "addon/convert.h"
#include "addon/registry.h"
#include "addon/worker.h"
#include "image/corrupt.h"
#include "image/preprocess.h"

namespace stic::addon {
namespace {

using image::ImageView;

// JS images -> views; every data buffer is kept alive by the worker until it finishes.
std::vector<ImageView> imagesArg(const Napi::Value& v, const std::string& name, std::vector<Napi::Value>& keepAlive) {
  if (!v.IsArray()) throwExpected(v.Env(), "an array of images {data, width, height}", name, v);
  Napi::Array a = v.As<Napi::Array>();
  std::vector<ImageView> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const std::string where = name + "[" + std::to_string(i) + "]";
    Napi::Object o = requireObject(a.Get(i), where);
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
      throw Napi::RangeError::New(v.Env(), "Expected " + std::to_string(want) + " bytes (" + std::to_string(w) + " x " +
                                               std::to_string(h) + " x 3 RGB) for " + where + ".data but received " +
                                               std::to_string(bytes.ByteLength()));
    }
    out[i] = ImageView{bytes.Data(), static_cast<int>(w), static_cast<int>(h)};
    keepAlive.push_back(d);
  }
  return out;
}

void floatTriple(const Napi::Object& o, const char* key, const std::string& where, float out[3]) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 3) throwExpected(o.Env(), "an array of 3 numbers", where + "." + key, v);
  for (uint32_t c = 0; c < 3; ++c) {
    Napi::Value x = v.As<Napi::Array>().Get(c);
    if (!x.IsNumber()) throwExpected(o.Env(), "a number", where + "." + key + "[" + std::to_string(c) + "]", x);
    out[c] = x.As<Napi::Number>().FloatValue();
  }
}

void byteTriple(const Napi::Object& o, const char* key, const std::string& where, uint8_t out[3]) {
  std::vector<int64_t> v = requireIntArray(o, key, where);
  if (v.size() != 3) throwExpected(o.Env(), "an array of 3 integers in [0, 255]", where + "." + key, o.Get(key));
  for (int c = 0; c < 3; ++c) {
    if (v[c] < 0 || v[c] > 255) throwExpected(o.Env(), "an array of 3 integers in [0, 255]", where + "." + key, o.Get(key));
    out[c] = static_cast<uint8_t>(v[c]);
  }
}

// [lo, hi] or null (disabled).
image::Range rangeArg(const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = o.Get(key);
  if (v.IsNull()) return {};
  const std::string name = where + "." + key;
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 2) throwExpected(o.Env(), "[lo, hi] or null", name, v);
  Napi::Array a = v.As<Napi::Array>();
  if (!a.Get(0u).IsNumber() || !a.Get(1u).IsNumber()) throwExpected(o.Env(), "[lo, hi] or null", name, v);
  return {a.Get(0u).As<Napi::Number>().DoubleValue(), a.Get(1u).As<Napi::Number>().DoubleValue(), true};
}

void intRange(const Napi::Object& o, const char* key, const std::string& where, int& lo, int& hi) {
  std::vector<int64_t> v = requireIntArray(o, key, where);
  if (v.size() != 2) throwExpected(o.Env(), "[lo, hi] integers", where + "." + key, o.Get(key));
  lo = static_cast<int>(v[0]);
  hi = static_cast<int>(v[1]);
}

image::CorruptionKind kindArg(const Napi::Object& o, const std::string& where) {
  const std::string k = requireString(o, "kind", where);
  using K = image::CorruptionKind;
  for (K kind : {K::LowRes, K::Jitter, K::Noise, K::Diffusion, K::Blur, K::Mask, K::Stic}) {
    if (k == image::corruptionKindName(kind)) return kind;
  }
  throwExpected(o.Env(), "one of lowres, jitter, noise, diffusion, blur, mask, stic", where + ".kind", o.Get("kind"));
}

image::CorruptionSpec specArg(const Napi::Value& v) {
  const std::string where = "spec";
  Napi::Object o = requireObject(v, where);
  image::CorruptionSpec s;
  s.kind = kindArg(o, where);
  intRange(o, "lowres", where, s.lowresMin, s.lowresMax);
  s.jitter[0] = rangeArg(o, "brightness", where);
  s.jitter[1] = rangeArg(o, "contrast", where);
  s.jitter[2] = rangeArg(o, "saturation", where);
  s.jitter[3] = rangeArg(o, "hue", where);
  s.noiseSigma = rangeArg(o, "noiseSigma", where);
  intRange(o, "diffusionStep", where, s.stepMin, s.stepMax);
  s.steps = static_cast<int>(requireInt(o, "diffusionSteps", where));
  s.betaStart = requireNumber(o, "betaStart", where);
  s.betaEnd = requireNumber(o, "betaEnd", where);
  s.blurSigma = rangeArg(o, "blurSigma", where);
  s.blurKernel = static_cast<int>(requireInt(o, "blurKernel", where));
  s.patchSize = static_cast<int>(requireInt(o, "patchSize", where));
  s.maskRatio = rangeArg(o, "maskRatio", where);
  byteTriple(o, "maskFill", where, s.maskFill);
  s.lowresProbability = requireNumber(o, "lowresProbability", where);
  if (!s.noiseSigma.enabled) s.noiseSigma = {0.0, 0.0, true};
  if (!s.maskRatio.enabled) s.maskRatio = {0.0, 0.0, true};
  return s;
}

// A JS Uint8Array that owns a native image's pixels (external: no copy).
Napi::Object imageToJs(Napi::Env env, image::Image& img) {
  auto* holder = new std::vector<uint8_t>(std::move(img.data));
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(
      env, holder->data(), holder->size(), [](Napi::Env, void*, std::vector<uint8_t>* h) { delete h; }, holder);
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", Napi::Uint8Array::New(env, buf.ByteLength(), buf, 0));
  o.Set("width", img.width);
  o.Set("height", img.height);
  return o;
}

Napi::Object paramsToJs(Napi::Env env, const image::CorruptionParams& p, const image::CorruptionSpec& spec) {
  using K = image::CorruptionKind;
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", image::corruptionKindName(p.kind));
  switch (p.kind) {
    case K::LowRes: o.Set("size", p.size); break;
    case K::Jitter: {
      Napi::Array order = Napi::Array::New(env);
      uint32_t n = 0;
      for (int op : p.jitterOrder) {
        if (!p.jitterEnabled[op]) continue;
        const char* name = image::jitterOpName(static_cast<image::JitterOp>(op));
        order.Set(n++, name);
        o.Set(name, p.jitterFactor[op]);
      }
      o.Set("order", order);
      break;
    }
    case K::Noise: o.Set("sigma", p.sigma); break;
    case K::Diffusion:
      o.Set("step", p.step);
      o.Set("alphaBar", p.alphaBar);
      break;
    case K::Blur:
      o.Set("sigma", p.sigma);
      o.Set("kernelSize", p.kernelSize);
      break;
    case K::Mask: {
      o.Set("ratio", p.ratio);
      o.Set("patchSize", spec.patchSize);
      // One typed array instead of hundreds of element sets (a 336 px image has 576 patches).
      Napi::Int32Array masked = Napi::Int32Array::New(env, p.masked.size());
      std::copy(p.masked.begin(), p.masked.end(), masked.Data());
      o.Set("masked", masked);
      break;
    }
    case K::Stic: break;
  }
  return o;
}

Napi::Value preprocessImages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::Value> keepAlive;
  auto images = imagesArg(info[0], "images", keepAlive);
  Napi::Object o = requireObject(info[1], "options");
  image::PreprocessOptions opts;
  const std::string mode = requireString(o, "mode", "options");
  if (mode == "pad") opts.mode = image::PreprocessMode::Pad;
  else if (mode == "clip") opts.mode = image::PreprocessMode::Clip;
  else throwExpected(env, "\"pad\" or \"clip\"", "options.mode", o.Get("mode"));
  opts.size = static_cast<int>(requireInt(o, "size", "options"));
  opts.crop = static_cast<int>(requireInt(o, "crop", "options"));
  floatTriple(o, "mean", "options", opts.mean);
  floatTriple(o, "std", "options", opts.std);
  byteTriple(o, "padColor", "options", opts.padColor);
  const std::string resample = requireString(o, "resample", "options");
  if (resample == "bicubic") opts.filter = image::Filter::Bicubic;
  else if (resample == "bilinear") opts.filter = image::Filter::Bilinear;
  else throwExpected(env, "\"bicubic\" or \"bilinear\"", "options.resample", o.Get("resample"));
  Status valid = image::validatePreprocessOptions(opts);
  if (!valid.isOk()) throw Napi::RangeError::New(env, valid.message());
  struct Out {
    std::vector<float> pixels;  // (N, C, S, S)
  };
  return PromiseWorker<Out>::queue(
      env,
      [images, opts](Out& out) {
        out.pixels.resize(images.size() * image::kChannels * opts.crop * opts.crop);
        return image::preprocessBatch(images, opts, out.pixels.data());
      },
      [](Napi::Env e, Out& out) -> Napi::Value {
        auto* holder = new std::vector<float>(std::move(out.pixels));
        const size_t n = holder->size();
        Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(
            e, holder->data(), n * sizeof(float), [](Napi::Env, void*, std::vector<float>* h) { delete h; }, holder);
        return Napi::Float32Array::New(e, n, buf, 0);
      },
      keepAlive);
}

Napi::Value corruptImages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::Value> keepAlive;
  auto images = imagesArg(info[0], "images", keepAlive);
  if (!info[1].IsArray()) throwExpected(env, "an array of seeds", "seeds", info[1]);
  Napi::Array seedArray = info[1].As<Napi::Array>();
  if (seedArray.Length() != images.size()) {
    throw Napi::RangeError::New(env, "Expected one seed per image (" + std::to_string(images.size()) +
                                         ") for seeds but received " + std::to_string(seedArray.Length()));
  }
  std::vector<uint64_t> seeds(images.size());
  for (uint32_t i = 0; i < seedArray.Length(); ++i) seeds[i] = requireSeedValue(seedArray.Get(i), "seeds[" + std::to_string(i) + "]");
  const image::CorruptionSpec spec = specArg(info[2]);
  Status valid = image::validateCorruptionSpec(spec);
  if (!valid.isOk()) throw Napi::RangeError::New(env, valid.message());
  using Out = std::vector<image::CorruptionResult>;
  return PromiseWorker<Out>::queue(
      env, [images, seeds, spec](Out& out) { return image::corruptBatch(images, seeds, spec, out); },
      [spec](Napi::Env e, Out& out) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(e, out.size());
        for (size_t i = 0; i < out.size(); ++i) {
          Napi::Object r = Napi::Object::New(e);
          r.Set("image", imageToJs(e, out[i].image));
          r.Set("params", paramsToJs(e, out[i].params, spec));
          arr.Set(static_cast<uint32_t>(i), r);
        }
        return arr;
      },
      keepAlive);
}

void initImageExports(Napi::Env env, Napi::Object exports) {
  exports.Set("preprocessImages", Napi::Function::New(env, preprocessImages, "preprocessImages"));
  exports.Set("corruptImages", Napi::Function::New(env, corruptImages, "corruptImages"));
}

}  // namespace

STIC_REGISTER_EXPORTS(image, initImageExports);

}  // namespace stic::addon
