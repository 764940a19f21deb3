// LLaVA-NeXT anyres preprocessing binding (native/image/anyres.h):
//   anyresPreprocess(image, options): Promise<Float32Array (K, C, S, S)>
// image {data: Uint8Array (H, W, C), width, height}; options {crop, canvasWidth, canvasHeight,
// resizedWidth, resizedHeight, mean, std, backend: "torchvision" | "pil"} (lib/data/anyres.ts
// computes the geometry).
#include <napi.h>

#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/image_args.h"
#include "addon/registry.h"
#include "addon/worker.h"
#include "image/anyres.h"

namespace stic::addon {
namespace {

Napi::Value anyresPreprocess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::Value> keepAlive;
  const image::ImageView src = parseImage(info[0], "image", keepAlive);
  const Args o(info[1], "options");
  image::AnyresOptions opts;
  opts.crop = static_cast<int>(o.integer("crop"));
  opts.canvasWidth = static_cast<int>(o.integer("canvasWidth"));
  opts.canvasHeight = static_cast<int>(o.integer("canvasHeight"));
  opts.resizedWidth = static_cast<int>(o.integer("resizedWidth"));
  opts.resizedHeight = static_cast<int>(o.integer("resizedHeight"));
  parseChannelFloats(o, "mean", opts.mean);
  parseChannelFloats(o, "std", opts.std);
  opts.backend = o.choice("backend", {"torchvision", "pil"}) == 0 ? image::AnyresBackend::Torchvision : image::AnyresBackend::Pil;
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
      keepAlive);
}

void initAnyresExports(Napi::Env env, Napi::Object exports) {
  exports.Set("anyresPreprocess", Napi::Function::New(env, anyresPreprocess, "anyresPreprocess"));
}

}  // namespace

STIC_REGISTER_EXPORTS(anyres, initAnyresExports);

}  // namespace stic::addon
