// The LoRA options of a lab call, shared by the CPU (trainKernels.lora*) and CUDA (cuda.loraDelta*)
// bindings: the sizes and scale (LoraDims) and the dropout key (a `key` object; all zero when absent).
// Legend: T rows, K in, N out, r rank.
#pragma once
#include <cstdint>
#include <string>

#include "addon/lab/lab_args.h"
#include "core/ops_train.h"

namespace stic::lab {

inline train::DropoutKey dropoutKey(Args& a) {
  train::DropoutKey key;
  if (!a.has("key")) return key;
  const addon::Args o = a.object("key");
  key.seed = static_cast<uint64_t>(o.integer("seed"));
  auto field = [&](const char* f) { return o.has(f) ? o.integer(f) : 0; };
  key.step = field("step"), key.micro = field("micro"), key.layer = field("layer"), key.module = field("module");
  return key;
}

inline train::LoraDims loraDims(Args& a) {
  train::LoraDims d;
  d.T = a.size("T"), d.K = a.size("K"), d.N = a.size("N"), d.r = a.size("r");
  d.scale = static_cast<float>(a.number("scale"));
  d.dropout = static_cast<float>(a.numberOr("dropout", 0.0, addon::Num::Probability));
  if (d.T * d.K >= (int64_t{1} << 32)) a.range("T*K must be below 2^32 (the dropout counter)");
  return d;
}

inline std::string loraSizes(const train::LoraDims& d) {
  return kv("T", d.T) + ", " + kv("K", d.K) + ", " + kv("N", d.N) + ", " + kv("r", d.r);
}

}  // namespace stic::lab
