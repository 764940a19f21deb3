// Small stand-ins for the engines, for testing the pipeline's own logic (planning, batching,
// resume, provenance, skipping). Outputs are deterministic functions of their inputs (prompt,
// image bytes, seed), so a test can tell clean from corrupted images and one prompt from another,
// and can recompute what a record must contain. Images are real PNG files decoded with sharp.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

import type {
  CorruptedImage, CorruptionSpec, DpoJob, ChatGenerateRequest, ChatGenerateResult, ImageApi, InferenceEngine, ChatLogprobItem, ChatLogprobResult, RgbImage, SftJob, TrainHooks, TrainResult, TrainingEngine,
} from '../../lib/stic/engine_api.ts';
import type { MetricsRow } from '../../lib/util/metrics_log.ts';
import { seededRandom } from '../../lib/util/seeded.ts';
import { makeRng } from '../helpers/rng.ts';

export function digest(...parts: (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\u0000');
  return h.digest('hex');
}

/** Writes n random-noise PNGs (w x h) into dir as img-00.png ...; returns their names. */
export async function writeImages(dir: string, n: number, seed: number, w = 9, h = 7): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const rng = makeRng(seed);
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const px = Buffer.from(Array.from({ length: w * h * 3 }, () => rng.int(0, 256)));
    const name = `img-${String(i).padStart(2, '0')}.png`;
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(path.join(dir, name));
    names.push(name);
  }
  return names;
}

export class FakeImages implements ImageApi {
  loads: string[] = [];
  corruptCalls: { spec: CorruptionSpec; seeds: number[] }[] = [];

  async load(file: string): Promise<RgbImage> {
    this.loads.push(file);
    const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: new Uint8Array(data) };
  }

  async corrupt(images: RgbImage[], spec: CorruptionSpec, seeds: number[]): Promise<CorruptedImage[]> {
    this.corruptCalls.push({ spec, seeds });
    return images.map((im, i) => {
      const r = seededRandom(seeds[i], spec.kind);
      const shift = 1 + r.int(254);
      const data = im.data.map((v) => (v + shift) & 255);
      return { image: { ...im, data }, params: { shift, drawn: r.next() } };
    });
  }
}

/** The text the fake engine answers for one request. */
export function fakeAnswer(messages: { content: string }[], image: RgbImage, seed: number): string {
  const h = digest(messages.map((m) => m.content).join('|'), image.data, String(seed));
  return `answer ${h.slice(0, 12)}`;
}

export class FakeEngine implements InferenceEngine {
  readonly modelId = 'fake-model';
  generateCalls: ChatGenerateRequest[][] = [];
  logprobCalls: ChatLogprobItem[][] = [];
  /** Throw on the generate call with this index (0-based), simulating a crash mid-run. */
  failOnCall: number | null = null;
  /** Ids (request id prefix) whose answers are empty. */
  emptyFor = new Set<string>();

  async generate(requests: ChatGenerateRequest[]): Promise<ChatGenerateResult[]> {
    if (this.failOnCall === this.generateCalls.length) throw new Error('simulated crash');
    this.generateCalls.push(requests);
    return requests.map((r) => {
      const text = this.emptyFor.has(r.id.split('#')[0]) ? '' : fakeAnswer(r.messages, r.image, r.seed);
      return { text, finish: 'eos', newTokens: text.split(' ').length };
    });
  }

  async logprobs(items: ChatLogprobItem[]): Promise<ChatLogprobResult[]> {
    this.logprobCalls.push(items);
    return items.map((it) => fakeLogprob(it));
  }
}

export function fakeLogprob(it: { prompt: { content: string }[]; response: string; image: RgbImage }): ChatLogprobResult {
  const h = digest(it.prompt.map((m) => m.content).join('|'), it.response, it.image.data);
  return { sum: -(parseInt(h.slice(0, 6), 16) / 0xffffff) * 50 - 1, tokens: it.response.split(' ').length };
}

/** A fake engine without log-probs. */
export class FakeEngineNoLogprobs implements InferenceEngine {
  readonly modelId = 'fake-model';
  async generate(requests: ChatGenerateRequest[]): Promise<ChatGenerateResult[]> {
    return requests.map((r) => ({ text: fakeAnswer(r.messages, r.image, r.seed), finish: 'length', newTokens: 1 }));
  }
}

// ---- a stand-in trainer: exercises the plumbing around training (metrics, resume, charts) ----

export class FakeTrainer implements TrainingEngine {
  jobs: (DpoJob | SftJob)[] = [];
  /** Throw after this many steps of a run (a crash), keeping the last checkpoint. */
  crashAfterSteps: number | null = null;
  /** Ids reported as skipped by tokenisation ("too long"), and as truncated. */
  tooLong = new Set<string>();
  truncate = new Set<string>();

  dpo(job: DpoJob, hooks: TrainHooks): Promise<TrainResult> {
    return this.train(job, job.examples.map((e) => `${e.id}|${e.image}|${e.chosen}|${e.rejected}`), job.options.batchSize, job.options.epochs, hooks, true, job.examples.map((e) => e.id));
  }

  sft(job: SftJob, hooks: TrainHooks): Promise<TrainResult> {
    return this.train(job, job.examples.map((e) => `${e.id}|${e.image ?? ''}|${e.messages.map((m) => m.content).join('|')}`), job.options.batchSize, job.options.epochs, hooks, false, job.examples.map((e) => e.id));
  }

  // Steps over the data with a checkpoint (the step) after every step; metrics are a function of
  // the data and the step, so a resumed run logs the same rows.
  private async train(job: DpoJob | SftJob, all: string[], batch: number, epochs: number, hooks: TrainHooks, dpo: boolean, ids: string[]): Promise<TrainResult> {
    this.jobs.push(job);
    mkdirSync(job.out, { recursive: true });
    const skipped = ids.filter((id) => this.tooLong.has(id)).map((id) => ({ id, kind: 'too long', reason: 'expected the image tokens within --max-length (fake)' }));
    const truncated = ids.filter((id) => this.truncate.has(id)).map((id) => ({ id, tokens: 9999 }));
    const items = all.filter((_, i) => !this.tooLong.has(ids[i]));
    await hooks.onData?.({ kept: items.length, skipped, truncated });
    const ckpt = path.join(job.out, 'checkpoint.json');
    const start = job.resume && existsSync(ckpt) ? (JSON.parse(readFileSync(ckpt, 'utf8')) as { step: number }).step : 0;
    const total = Math.ceil(items.length / batch) * epochs;
    await hooks.onStart(start, total);
    let done = 0;
    for (let step = start; step < total; step++) {
      if (this.crashAfterSteps !== null && done === this.crashAfterSteps) throw new Error('simulated trainer crash');
      const h = parseInt(digest(String(step), ...items).slice(0, 8), 16) / 0xffffffff;
      const row: MetricsRow = { step, lr: 1e-7, loss: 0.7 - step * 0.01 + 0.05 * h };
      if (dpo) Object.assign(row, { reward_chosen: 0.01 * step, reward_rejected: -0.01 * step, reward_margin: 0.02 * step, reward_accuracy: h > 0.3 ? 1 : 0 });
      await hooks.onStep(row);
      writeFileSync(ckpt, JSON.stringify({ step: step + 1 }));
      done++;
    }
    const adapter = path.join(job.out, 'adapter_config.json');
    writeFileSync(adapter, JSON.stringify({ fake: true, items: items.length, options: job.options }));
    return { steps: total, adapterDir: job.out, projector: false, skipped, truncated };
  }
}
