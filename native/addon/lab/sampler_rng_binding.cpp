// The token sampler and the corruptions' counter-based RNG on their own, for the tests that check
// them against TypeScript references and their CUDA twins (test/engine/sampling.test.ts,
// test/data/corrupt.test.ts, test/gpu/sampling.test.ts); the engine and corruptImages call the same
// native functions (cpu/sampling.h, cpu/random.h).
//   kernels.sampleToken(logits, {temperature, topK, topP, seed}, step) -> token id
//   kernels.corruptionRandom(seed, stream, first, count, dist) -> Uint32Array (words) | Float32Array (normals)
// Legend: V vocab.
#include <napi.h>

#include <string>

#include "addon/convert.h"
#include "addon/lab/lab_registry.h"
#include "cpu/random.h"
#include "cpu/sampling.h"

namespace stic::addon {
namespace {

// The token model::sampleToken picks for (logits[V], params, step).
Napi::Value sampleToken(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throwExpected(env, "a Float32Array of logits", "logits", info[0]);
  }
  Napi::Float32Array logits = info[0].As<Napi::Float32Array>();
  Napi::Object p = requireObject(info[1], "params");
  model::SamplingParams sp;
  sp.temperature = static_cast<float>(requireNumber(p, "temperature", "params"));
  sp.topK = requireInt(p, "topK", "params");
  sp.topP = static_cast<float>(requireNumber(p, "topP", "params"));
  sp.seed = static_cast<uint64_t>(requireInt(p, "seed", "params"));
  int64_t step = requireIntValue(info[2], "step");
  model::SamplerScratch scratch;
  return Napi::Number::New(env, static_cast<double>(model::sampleToken(logits.Data(), logits.ElementLength(), sp, step, scratch)));
}

// Words or normals [first, first + count) of one stream of a seed's Philox generator.
Napi::Value corruptionRandom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint64_t seed = requireSeedValue(info[0], "seed");
  if (!info[1].IsString()) throwExpected(env, "one of params, pixels, mask", "stream", info[1]);
  const std::string streamName = info[1].As<Napi::String>().Utf8Value();
  image::Stream stream;
  if (streamName == "params") stream = image::Stream::Params;
  else if (streamName == "pixels") stream = image::Stream::Pixels;
  else if (streamName == "mask") stream = image::Stream::Mask;
  else throwExpected(env, "one of params, pixels, mask", "stream", info[1]);
  const int64_t first = requireIntValue(info[2], "first");
  const int64_t count = requireIntValue(info[3], "count");
  if (first < 0) throwExpected(env, "a non-negative integer", "first", info[2]);
  if (count < 0 || count > (1 << 22)) throwExpected(env, "an integer between 0 and 4194304", "count", info[3]);
  if (!info[4].IsString()) throwExpected(env, "\"words\" or \"normals\"", "dist", info[4]);
  const std::string dist = info[4].As<Napi::String>().Utf8Value();
  const auto key = image::PhiloxKey::fromSeed(seed);
  if (dist == "words") {
    Napi::Uint32Array out = Napi::Uint32Array::New(env, static_cast<size_t>(count));
    image::philoxWords(key, stream, static_cast<uint64_t>(first), static_cast<size_t>(count), out.Data());
    return out;
  }
  if (dist == "normals") {
    Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(count));
    image::normalsFromStream(key, stream, static_cast<uint64_t>(first), static_cast<size_t>(count), out.Data());
    return out;
  }
  throwExpected(env, "\"words\" or \"normals\"", "dist", info[4]);
}

void initSamplerRngExports(Napi::Env env, Napi::Object exports) {
  if (!exports.Has("kernels")) exports.Set("kernels", Napi::Object::New(env));
  Napi::Object k = exports.Get("kernels").As<Napi::Object>();
  k.Set("sampleToken", Napi::Function::New(env, sampleToken, "sampleToken"));
  k.Set("corruptionRandom", Napi::Function::New(env, corruptionRandom, "corruptionRandom"));
}

}  // namespace

STIC_REGISTER_LAB_EXPORTS(kernels_sampler_rng, initSamplerRngExports);

}  // namespace stic::addon
