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

#include "addon/args.h"
#include "addon/image_args.h"
#include "addon/registry.h"
#include "addon/worker.h"
#include "image/corrupt.h"
#include "image/preprocess.h"

namespace stic::addon {

image::ImageView parseImage(const Napi::Value& value, const std::string& where, std::vector<Napi::Value>& keepAlive) {
  const Args o(value, where);
  const int64_t w = o.integer("width"), h = o.integer("height");
  if (w < 1 || w > 65535) o.fail("width", "an integer between 1 and 65535");
  if (h < 1 || h > 65535) o.fail("height", "an integer between 1 and 65535");
  Napi::TypedArray bytes = requireTypedArray(o.get("data"), o.name("data"), napi_uint8_array);
  const size_t want = static_cast<size_t>(w) * h * image::kChannels;
  if (bytes.ByteLength() != want) {
    throw Napi::RangeError::New(o.env(), "Expected " + std::to_string(want) + " bytes (" + std::to_string(w) + " x " + std::to_string(h) +
                                             " x 3 RGB) for " + o.name("data") + " but received " + std::to_string(bytes.ByteLength()));
  }
  keepAlive.push_back(o.get("data"));
  return image::ImageView{typedData<const uint8_t>(bytes), static_cast<int>(w), static_cast<int>(h)};
}

void parseChannelFloats(const Args& o, const char* key, float out[image::kChannels]) {
  const std::vector<double> v = o.numbers(key, image::kChannels);
  for (int c = 0; c < image::kChannels; ++c) out[c] = static_cast<float>(v[c]);
}

namespace {

using image::ImageView;

// JS images -> views; every data buffer is kept alive by the worker until it finishes.
std::vector<ImageView> imagesArg(const Napi::Value& v, const std::string& name, std::vector<Napi::Value>& keepAlive) {
  Napi::Array a = requireArray(v, name, "an array of images {data, width, height}");
  std::vector<ImageView> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out[i] = parseImage(a.Get(i), name + "[" + std::to_string(i) + "]", keepAlive);
  return out;
}

void byteTriple(const Args& o, const char* key, uint8_t out[3]) {
  const std::vector<int64_t> v = o.intArray(key);
  const char* what = "an array of 3 integers in [0, 255]";
  if (v.size() != 3) o.fail(key, what);
  for (int c = 0; c < 3; ++c) {
    if (v[c] < 0 || v[c] > 255) o.fail(key, what);
    out[c] = static_cast<uint8_t>(v[c]);
  }
}

// [lo, hi], or absent (null): disabled.
image::Range rangeArg(const Args& o, const char* key) {
  if (!o.has(key)) return {};
  const Napi::Value v = o.get(key);
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 2) o.fail(key, "[lo, hi] or null");
  Napi::Array a = v.As<Napi::Array>();
  if (!a.Get(0u).IsNumber() || !a.Get(1u).IsNumber()) o.fail(key, "[lo, hi] or null");
  return {a.Get(0u).As<Napi::Number>().DoubleValue(), a.Get(1u).As<Napi::Number>().DoubleValue(), true};
}

void intRange(const Args& o, const char* key, int& lo, int& hi) {
  const std::vector<int64_t> v = o.intArray(key);
  if (v.size() != 2) o.fail(key, "[lo, hi] integers");
  lo = static_cast<int>(v[0]);
  hi = static_cast<int>(v[1]);
}

image::CorruptionKind kindArg(const Args& o) {
  const std::string k = o.string("kind");
  using K = image::CorruptionKind;
  for (K kind : {K::LowRes, K::Jitter, K::Noise, K::Diffusion, K::Blur, K::Mask, K::Stic}) {
    if (k == image::corruptionKindName(kind)) return kind;
  }
  o.fail("kind", "one of lowres, jitter, noise, diffusion, blur, mask, stic");
}

image::CorruptionSpec specArg(const Napi::Value& v) {
  const Args o(v, "spec");
  image::CorruptionSpec s;
  s.kind = kindArg(o);
  intRange(o, "lowres", s.lowresMin, s.lowresMax);
  s.jitter[0] = rangeArg(o, "brightness");
  s.jitter[1] = rangeArg(o, "contrast");
  s.jitter[2] = rangeArg(o, "saturation");
  s.jitter[3] = rangeArg(o, "hue");
  s.noiseSigma = rangeArg(o, "noiseSigma");
  intRange(o, "diffusionStep", s.stepMin, s.stepMax);
  s.steps = static_cast<int>(o.integer("diffusionSteps"));
  s.betaStart = o.number("betaStart");
  s.betaEnd = o.number("betaEnd");
  s.blurSigma = rangeArg(o, "blurSigma");
  s.blurKernel = static_cast<int>(o.integer("blurKernel"));
  s.patchSize = static_cast<int>(o.integer("patchSize"));
  s.maskRatio = rangeArg(o, "maskRatio");
  byteTriple(o, "maskFill", s.maskFill);
  s.lowresProbability = o.number("lowresProbability");
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
  const Args o(info[1], "options");
  image::PreprocessOptions opts;
  opts.mode = o.choice("mode", {"pad", "clip"}) == 0 ? image::PreprocessMode::Pad : image::PreprocessMode::Clip;
  opts.size = static_cast<int>(o.integer("size"));
  opts.crop = static_cast<int>(o.integer("crop"));
  parseChannelFloats(o, "mean", opts.mean);
  parseChannelFloats(o, "std", opts.std);
  byteTriple(o, "padColor", opts.padColor);
  opts.filter = o.choice("resample", {"bicubic", "bilinear"}) == 0 ? image::Filter::Bicubic : image::Filter::Bilinear;
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
  Napi::Array seedArray = requireArray(info[1], "seeds", "an array of seeds");
  if (seedArray.Length() != images.size()) {
    throw Napi::RangeError::New(env, "Expected one seed per image (" + std::to_string(images.size()) +
                                         ") for seeds but received " + std::to_string(seedArray.Length()));
  }
  std::vector<uint64_t> seeds(images.size());
  for (uint32_t i = 0; i < seedArray.Length(); ++i) seeds[i] = requireSeed(seedArray.Get(i), "seeds[" + std::to_string(i) + "]");
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
