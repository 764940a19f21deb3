// The token sampler and the corruptions' counter-based RNG on their own, for the tests that check
// them against TypeScript references and their CUDA twins (test/cpu/sampling.test.ts,
// test/data/corrupt.test.ts, test/cuda/sampling.test.ts); the engine and corruptImages call the same
// native functions (cpu/sampling.h, cpu/random.h).
//   kernels.sampleToken(logits, {temperature, topK, topP, seed}, step) -> token id
//   kernels.corruptionRandom(seed, stream, first, count, dist) -> Uint32Array (words) | Float32Array (normals)
// Legend: V vocab.
#include <napi.h>

#include <string>

#include "addon/args.h"
#include "addon/lab/lab_registry.h"
#include "cpu/random.h"
#include "cpu/sampling.h"

namespace stic::addon {
namespace {

// The token model::sampleToken picks for (logits[V], params, step).
Napi::Value sampleToken(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Float32Array logits = requireTypedArray(info[0], "logits", napi_float32_array).As<Napi::Float32Array>();
  const Args p(info[1], "params");
  model::SamplingParams sp;
  sp.temperature = static_cast<float>(p.number("temperature"));
  sp.topK = p.integer("topK");
  sp.topP = static_cast<float>(p.number("topP"));
  sp.seed = static_cast<uint64_t>(p.integer("seed"));
  const int64_t step = requireInt(info[2], "step");
  model::SamplerScratch scratch;
  return Napi::Number::New(env, static_cast<double>(model::sampleToken(logits.Data(), logits.ElementLength(), sp, step, scratch)));
}

// Words or normals [first, first + count) of one stream of a seed's Philox generator.
Napi::Value corruptionRandom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint64_t seed = requireSeed(info[0], "seed");
  const image::Stream streams[] = {image::Stream::Params, image::Stream::Pixels, image::Stream::Mask};
  const image::Stream stream = streams[requireChoice(info[1], "stream", {"params", "pixels", "mask"})];
  const int64_t first = requireInt(info[2], "first", 0);
  const int64_t count = requireInt(info[3], "count");
  if (count < 0 || count > (1 << 22)) throwExpected(env, "an integer between 0 and 4194304", "count", info[3]);
  const bool words = requireChoice(info[4], "dist", {"words", "normals"}) == 0;
  const auto key = image::PhiloxKey::fromSeed(seed);
  if (words) {
    Napi::Uint32Array out = Napi::Uint32Array::New(env, static_cast<size_t>(count));
    image::philoxWords(key, stream, static_cast<uint64_t>(first), static_cast<size_t>(count), out.Data());
    return out;
  }
  Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(count));
  image::normalsFromStream(key, stream, static_cast<uint64_t>(first), static_cast<size_t>(count), out.Data());
  return out;
}

void initSamplerRngExports(Napi::Env env, Napi::Object exports) {
  Napi::Object k = stic::lab::labObject(env, exports, "kernels");
  k.Set("sampleToken", Napi::Function::New(env, sampleToken, "sampleToken"));
  k.Set("corruptionRandom", Napi::Function::New(env, corruptionRandom, "corruptionRandom"));
}

}  // namespace

STIC_REGISTER_LAB_EXPORTS(kernels_sampler_rng, initSamplerRngExports);

}  // namespace stic::addon
