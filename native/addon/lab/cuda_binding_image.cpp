// cuda.corruptImagesWithParams(images, seeds, params, options?): the GPU corruption kernels applied
// to a batch with the parameters the CPU path drew (corruptImages' `params`, one per image, any mix
// of kinds). Parameters are drawn on the host in both paths (native/cuda/corrupt.cuh explains the
// split), so this compares the pixel work alone, image for image, with the same seeds.
// Resolves to {images, ms}: the corrupted images in input order and the device time of the kernels.
// Legend: N images, H height, W width, C = 3 channels.
#ifdef STIC_WITH_CUDA
#include <cuda_runtime.h>
#include <napi.h>

#include <algorithm>
#include <string>
#include <vector>

#include "addon/lab/cuda_binding_args.h"
#include "addon/lab/lab_registry.h"
#include "cuda/corrupt.cuh"
#include "cpu/blur.h"
#include "cpu/resample.h"

namespace stic::addon::cuda_binding {
namespace {

struct HostImage {
  const uint8_t* data;
  int width, height;
  int64_t offset;  // in the batch buffer
  size_t bytes() const { return static_cast<size_t>(width) * height * 3; }
};

// Everything the kernels need, built on the JS thread from the params objects.
struct Batch {
  std::vector<HostImage> images;
  int64_t totalBytes = 0;
  std::vector<int> lowres, outW, outH;  // image indices and their output sizes
  std::vector<cuda::JitterJob> jitter;
  std::vector<int> jitterIndex;
  std::vector<cuda::NoiseJob> noise;
  std::vector<cuda::BlurJob> blur;
  std::vector<float> blurWeights;
  int64_t blurTmpFloats = 0;
  std::vector<cuda::MaskJob> mask;
  std::vector<uint8_t> maskFlags;
  int64_t maxBytes = 0;
};

void addJitter(Batch& b, int i, const addon::Args& p) {
  static const char* kNames[4] = {"brightness", "contrast", "saturation", "hue"};
  cuda::JitterJob j{};
  const HostImage& im = b.images[i];
  j.offset = im.offset, j.width = im.width, j.height = im.height;
  Napi::Array order = p.array("order", "an array of jitter op names");
  int stage = 0;
  bool used[4] = {false, false, false, false};
  for (uint32_t s = 0; s < order.Length(); s++) {
    const std::string name = order.Get(s).IsString() ? order.Get(s).As<Napi::String>().Utf8Value() : "";
    const int op = static_cast<int>(std::find(kNames, kNames + 4, name) - kNames);
    if (op >= 4 || used[op]) throwExpected(p.env(), "distinct names among brightness, contrast, saturation, hue", p.name("order") + "[" + std::to_string(s) + "]", order.Get(s));
    used[op] = true;
    j.order[stage++] = op;
    j.enabled[op] = 1;
    j.factor[op] = p.number(kNames[op]);
  }
  for (int op = 0; op < 4; op++) {
    if (!used[op]) j.order[stage++] = op;  // disabled: its stage does nothing
  }
  b.jitter.push_back(j);
  b.jitterIndex.push_back(i);
}

Batch parseBatch(Args& a, const Napi::CallbackInfo& info) {
  Batch b;
  Napi::Env env = info.Env();
  Napi::Array images = requireArray(info[0], "images", "an array of images");
  Napi::Array seeds = requireArray(info[1], "seeds", "an array of seeds");
  Napi::Array params = requireArray(info[2], "params", "an array of corruption params");
  a.keep(images), a.keep(params);
  if (seeds.Length() != images.Length() || params.Length() != images.Length()) {
    throw Napi::RangeError::New(env, "cuda.corruptImagesWithParams: expected one seed and one params object per image (" +
                                         std::to_string(images.Length()) + ") but received " + std::to_string(seeds.Length()) +
                                         " seeds and " + std::to_string(params.Length()) + " params");
  }
  uint8_t fill[3] = {0, 0, 0};
  if (!isAbsent(info[3]) && addon::Args(info[3], "options").has("maskFill")) {
    const addon::Args options(info[3], "options");
    const std::vector<int64_t> f = options.intArray("maskFill");
    if (f.size() != 3) options.fail("maskFill", "[r, g, b]");
    for (uint32_t c = 0; c < 3; c++) fill[c] = static_cast<uint8_t>(f[c]);
  }
  for (uint32_t i = 0; i < images.Length(); i++) {
    const addon::Args o(images.Get(i), "images[" + std::to_string(i) + "]");
    HostImage im;
    im.width = static_cast<int>(o.integer("width"));
    im.height = static_cast<int>(o.integer("height"));
    auto data = a.typed<uint8_t>(o.get("data"), o.name("data"), napi_uint8_array, static_cast<int64_t>(im.width) * im.height * 3,
                                 "width x height x 3");
    im.data = data.data;
    im.offset = b.totalBytes;
    b.totalBytes += static_cast<int64_t>(im.bytes());
    b.maxBytes = std::max<int64_t>(b.maxBytes, static_cast<int64_t>(im.bytes()));
    b.images.push_back(im);
  }
  for (uint32_t i = 0; i < params.Length(); i++) {
    const addon::Args p(params.Get(i), "params[" + std::to_string(i) + "]");
    const std::string kind = p.string("kind");
    const HostImage& im = b.images[i];
    const uint64_t seed = static_cast<uint64_t>(requireInt(seeds.Get(i), "seeds[" + std::to_string(i) + "]"));
    if (kind == "lowres") {
      int w = 0, h = 0;
      image::shorterSideSize(im.width, im.height, static_cast<int>(p.number("size")), w, h);
      b.lowres.push_back(static_cast<int>(i)), b.outW.push_back(w), b.outH.push_back(h);
    } else if (kind == "jitter") {
      addJitter(b, static_cast<int>(i), p);
    } else if (kind == "noise") {
      b.noise.push_back(cuda::gaussian_noise_job(im.offset, im.bytes(), seed, p.number("sigma")));
    } else if (kind == "diffusion") {
      b.noise.push_back(cuda::diffusion_noise_job(im.offset, im.bytes(), seed, p.number("alphaBar")));
    } else if (kind == "blur") {
      const int k = static_cast<int>(p.number("kernelSize"));
      const std::vector<float> w = image::gaussianKernel1d(k, p.number("sigma"));
      b.blur.push_back({im.offset, b.blurTmpFloats, im.width, im.height, k, static_cast<int32_t>(b.blurWeights.size())});
      b.blurWeights.insert(b.blurWeights.end(), w.begin(), w.end());
      b.blurTmpFloats += static_cast<int64_t>(im.bytes());
    } else if (kind == "mask") {
      const int patch = static_cast<int>(p.number("patchSize"));
      const int gw = (im.width + patch - 1) / patch, gh = (im.height + patch - 1) / patch;
      cuda::MaskJob j{im.offset, static_cast<int64_t>(b.maskFlags.size()), im.width, im.height, patch, gw, {fill[0], fill[1], fill[2], 0}};
      b.maskFlags.resize(b.maskFlags.size() + static_cast<size_t>(gw) * gh, 0);
      auto masked = a.typed<int32_t>(p.get("masked"), p.name("masked"), napi_int32_array, 0, "");
      Napi::TypedArray ta = p.get("masked").As<Napi::TypedArray>();
      for (size_t m = 0; m < ta.ElementLength(); m++) {
        const int32_t idx = masked.data[m];
        if (idx < 0 || idx >= gw * gh) throw Napi::RangeError::New(env, p.name("masked") + "[" + std::to_string(m) + "] is outside the patch grid");
        b.maskFlags[j.flagOffset + idx] = 1;
      }
      b.mask.push_back(j);
    } else {
      p.fail("kind", "one of lowres, jitter, noise, diffusion, blur, mask");
    }
  }
  return b;
}

struct CorruptOut {
  std::vector<std::vector<uint8_t>> pixels;
  std::vector<int> width, height;
  double ms = 0;
};

// Enqueues every kind's kernels on the batch (in place on `work`, lowres into `lowDst`).
Status runKernels(DeviceCall& c, const Batch& b, uint8_t* src, uint8_t* work, const cuda::ResamplePlan& plan,
                  const cuda::ResampleJob* dJobs, uint8_t* lowDst, uint8_t* lowTmp, int32_t* lowWeights,
                  const cuda::JitterJob* dJitter, unsigned long long* graySums, const cuda::NoiseJob* dNoise,
                  const cuda::BlurJob* dBlur, const float* dBlurW, float* blurTmp, const cuda::MaskJob* dMask,
                  const uint8_t* dFlags) {
  // Every run starts from the source pixels, so repeated (timed) runs compute the same result.
  STIC_RETURN_IF_ERROR(cuda::cudaStatus(cudaMemcpyAsync(work, src, b.totalBytes, cudaMemcpyDeviceToDevice, c.stream()), c.op()));
  STIC_RETURN_IF_ERROR(cuda::corrupt_lowres(lowDst, src, dJobs, plan, lowTmp, lowWeights, c.stream()));
  STIC_RETURN_IF_ERROR(cuda::corrupt_jitter(work, dJitter, static_cast<int64_t>(b.jitter.size()), b.maxBytes / 3, graySums, c.stream()));
  STIC_RETURN_IF_ERROR(cuda::corrupt_noise(work, dNoise, static_cast<int64_t>(b.noise.size()), b.maxBytes, c.stream()));
  STIC_RETURN_IF_ERROR(cuda::corrupt_blur(work, dBlur, dBlurW, blurTmp, static_cast<int64_t>(b.blur.size()), b.maxBytes, c.stream()));
  return cuda::corrupt_mask(work, dMask, dFlags, static_cast<int64_t>(b.mask.size()), b.maxBytes / 3, c.stream());
}

Napi::Value corruptImagesWithParams(const Napi::CallbackInfo& info) {
  Args a(info, "corruptImagesWithParams");  // used for its typed-array checks and keep-alive list
  Batch b = parseBatch(a, info);
  const int64_t reps = isAbsent(info[3]) ? 1 : addon::Args(info[3], "options").sizeOr("repeats", 1, 1);
  std::vector<int64_t> srcOffsets;
  std::vector<int32_t> inW, inH;
  for (int i : b.lowres) srcOffsets.push_back(b.images[i].offset), inW.push_back(b.images[i].width), inH.push_back(b.images[i].height);
  const cuda::ResamplePlan plan = cuda::resample_plan(srcOffsets.data(), inW.data(), inH.data(), b.outW.data(), b.outH.data(),
                                                      static_cast<int64_t>(b.lowres.size()));
  return a.run<CorruptOut>(
      [b, plan, reps](DeviceCall& c, CorruptOut& r) {
        std::vector<uint8_t> packed(b.totalBytes);
        for (const HostImage& im : b.images) std::copy(im.data, im.data + im.bytes(), packed.begin() + im.offset);
        uint8_t *src, *work, *lowDst, *lowTmp, *dFlags = nullptr;
        int32_t* lowWeights;
        cuda::ResampleJob* dJobs = nullptr;
        cuda::JitterJob* dJitter = nullptr;
        cuda::NoiseJob* dNoise = nullptr;
        cuda::BlurJob* dBlur = nullptr;
        cuda::MaskJob* dMask = nullptr;
        float *dBlurW = nullptr, *blurTmp;
        unsigned long long* graySums;
        STIC_RETURN_IF_ERROR(c.put(packed.data(), packed.size(), &src));
        STIC_RETURN_IF_ERROR(c.allocAs(packed.size(), &work));
        STIC_RETURN_IF_ERROR(c.allocAs(plan.dstBytes, &lowDst));
        STIC_RETURN_IF_ERROR(c.allocAs(plan.tmpBytes, &lowTmp));
        STIC_RETURN_IF_ERROR(c.allocAs(plan.weightInts, &lowWeights));
        STIC_RETURN_IF_ERROR(c.allocAs(b.blurTmpFloats, &blurTmp));
        STIC_RETURN_IF_ERROR(c.allocAs(b.jitter.size(), &graySums));
        if (!plan.jobs.empty()) STIC_RETURN_IF_ERROR(c.put(plan.jobs.data(), plan.jobs.size(), &dJobs));
        if (!b.jitter.empty()) STIC_RETURN_IF_ERROR(c.put(b.jitter.data(), b.jitter.size(), &dJitter));
        if (!b.noise.empty()) STIC_RETURN_IF_ERROR(c.put(b.noise.data(), b.noise.size(), &dNoise));
        if (!b.blur.empty()) STIC_RETURN_IF_ERROR(c.put(b.blur.data(), b.blur.size(), &dBlur));
        if (!b.blurWeights.empty()) STIC_RETURN_IF_ERROR(c.put(b.blurWeights.data(), b.blurWeights.size(), &dBlurW));
        if (!b.mask.empty()) STIC_RETURN_IF_ERROR(c.put(b.mask.data(), b.mask.size(), &dMask));
        if (!b.maskFlags.empty()) STIC_RETURN_IF_ERROR(c.put(b.maskFlags.data(), b.maskFlags.size(), &dFlags));
        STIC_RETURN_IF_ERROR(c.timed(reps, [&] {
          return runKernels(c, b, src, work, plan, dJobs, lowDst, lowTmp, lowWeights, dJitter, graySums, dNoise, dBlur, dBlurW,
                            blurTmp, dMask, dFlags);
        }));
        r.ms = c.ms();
        const size_t N = b.images.size();
        r.pixels.resize(N);
        r.width.resize(N);
        r.height.resize(N);
        for (size_t i = 0; i < N; i++) r.width[i] = b.images[i].width, r.height[i] = b.images[i].height;
        for (size_t k = 0; k < b.lowres.size(); k++) r.width[b.lowres[k]] = b.outW[k], r.height[b.lowres[k]] = b.outH[k];
        std::vector<bool> isLow(N, false);
        for (int i : b.lowres) isLow[i] = true;
        for (size_t i = 0; i < N; i++) {
          r.pixels[i].resize(static_cast<size_t>(r.width[i]) * r.height[i] * 3);
          if (!isLow[i]) STIC_RETURN_IF_ERROR(c.getBytes(r.pixels[i].data(), work + b.images[i].offset, r.pixels[i].size()));
        }
        for (size_t k = 0; k < b.lowres.size(); k++) {
          STIC_RETURN_IF_ERROR(c.getBytes(r.pixels[b.lowres[k]].data(), lowDst + plan.jobs[k].dstOffset, r.pixels[b.lowres[k]].size()));
        }
        return c.finish();
      },
      [](Napi::Env e, CorruptOut& r) {
        Napi::Array out = Napi::Array::New(e, r.pixels.size());
        for (uint32_t i = 0; i < r.pixels.size(); i++) {
          Napi::Object o = Napi::Object::New(e);
          Napi::Uint8Array data = Napi::Uint8Array::New(e, r.pixels[i].size());
          std::copy(r.pixels[i].begin(), r.pixels[i].end(), data.Data());
          o.Set("data", data), o.Set("width", r.width[i]), o.Set("height", r.height[i]);
          out.Set(i, o);
        }
        Napi::Object res = Napi::Object::New(e);
        res.Set("images", out);
        res.Set("ms", r.ms);
        return Napi::Value(res);
      });
}

void initCudaImageExports(Napi::Env env, Napi::Object exports) {
  Napi::Object k = cudaExports(env, exports);
  k.Set("corruptImagesWithParams", Napi::Function::New(env, corruptImagesWithParams, "corruptImagesWithParams"));
}

}  // namespace

STIC_REGISTER_LAB_EXPORTS(cuda_image, initCudaImageExports);

}  // namespace stic::addon::cuda_binding
#endif  // STIC_WITH_CUDA
