// Child process of bench/llava7b.bench.ts (its own process, so its peak RSS is the engine's alone):
// loads the model folder with weights as stored, scores one prompt with an image (prefill to the
// first token) and generates the rest greedily; prints JSON.
// Usage: node --import tsx bench/llava7b_ours.ts MODEL_DIR THREADS PROMPT_TOKENS NEW_TOKENS
import { resolveWeights } from '../lib/engine/weight_names.ts';
import { loadModelConfig } from '../lib/model/config.ts';
import { openCheckpoint } from '../lib/model/safetensors.ts';
import { native } from '../lib/native/index.ts';
import { llavaPrompt, randomPixels } from './llava_inputs.ts';
import { peakRss } from './peak_rss.ts';

const [dir, threadsArg, promptArg, newArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const promptTokens = Number(promptArg);
const newTokens = Number(newArg);

native().setThreads(threads);
const config = loadModelConfig(dir);
const t0 = performance.now();
const sources = resolveWeights(native().llavaTensorSpecs(config), [await openCheckpoint(dir)], config);
const model = await native().loadLlava(config, sources, { dtype: 'stored' });
const t1 = performance.now();
const ids = llavaPrompt(config.imageTokenId, config.imageTokenCount, promptTokens);
const size = config.vision.imageSize;
const gen = model.startGeneration(randomPixels(3 * size * size, 7), 1, [{ ids, images: [0], maxNewTokens: newTokens, temperature: 0, topK: 0, topP: 1, seed: 0 }], []);
const first = await gen.step(1);
const t2 = performance.now();
const rest = await gen.step(newTokens - 1);
const t3 = performance.now();
const mem = model.memory();
process.stdout.write(`${JSON.stringify({
  loadMs: t1 - t0,
  prefillMs: t2 - t1,
  decodeMs: t3 - t2,
  promptTokens: ids.length,
  tokens: [...first.tokens[0], ...rest.tokens[0]],
  maxRssBytes: peakRss(),
  weightBytes: mem.weightBytes,
  mappedWeightBytes: mem.mappedWeightBytes,
  weightDType: mem.weightDType,
  kvCacheBytes: gen.memory().kvCacheBytes,
})}\n`);
