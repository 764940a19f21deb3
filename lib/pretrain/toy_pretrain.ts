// `stic toy pretrain`: trains the built-in toy LLaVA from scratch on the toy world, every part of it
// (CLIP tower, projector, decoder with embeddings and lm_head; native/model/trainer.h, full parameters), and
// leaves it in Hugging Face layout in the output folder, loadable by lib/engine and `stic generate`.
//
// Output folder:
//   config.json, model.safetensors, tokenizer.json, tokenizer_config.json, generation_config.json,
//   preprocessor_config.json   the model (rewritten at every evaluation and at the end; weights in
//                              float16, which is what every evaluation scores; checkpoints keep float32)
//   metrics.jsonl              one row per optimizer step: loss, lr, grad_norm, targets, ms
//   eval.jsonl                 one row per evaluation: held-out loss, VQA accuracy per type,
//                              description precision/recall, hallucination (CHAIR)
//   eval/                      the final evaluation: report.json, responses.jsonl
//   training.json              the record of the run: options, steps, wall time, final numbers
//   checkpoints/               resumable state (lib/toy/pretrain_checkpoint.ts over lib/train/checkpoint.ts)
// Schedule: AdamW at `lr` with linear warmup and cosine decay (lib/util/lr_schedule.ts), weight
// decay on matrices, global-norm clipping; each step is one batch of fresh scenes (lib/toy/pretrain_data.ts),
// with an optional kind drill first (one-shape "What shape is this?" scenes, lib/toy/kind_drill.ts) and a
// curriculum on the number of shapes per scene over the first half of the conversation steps.
// The next batch is tokenised and rendered while the native step runs. After each step: the periodic
// evaluation when due, the metrics row, the checkpoint when due, in the LoRA stages' order
// (lib/train/step_driver.ts).
// Legend: B scenes per step.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { loadChatModel } from '../engine/chat_input.ts';
import { resolveWeights } from '../engine/weight_names.ts';
import { selectChatTemplate } from '../model/chat_template.ts';
import { loadModelConfig } from '../model/config.ts';
import type { EngineConfig } from '../model/engine_config.ts';
import { openCheckpoint } from '../model/safetensors.ts';
import { tokenizerFromFiles } from '../model/tokenizer.ts';
import { type PreprocessConfig, preprocessConfigFromVision } from '../data/preprocess.ts';
import { native } from '../native/index.ts';
import type { PretrainerNative } from '../native/index.ts';
import type { ChatEncoder } from '../train/collate.ts';
import { latestCheckpoint, pruneCheckpoints } from '../train/checkpoint.ts';
import { runSteps } from '../train/step_driver.ts';
import { ADAMW_DEFAULTS } from '../train/train_options.ts';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic_write.ts';
import { type ScheduleKind, learningRateAt } from '../util/lr_schedule.ts';
import { MetricsLog, type MetricsRow } from '../util/metrics_log.ts';
import { type ProgressFactory, silentProgress } from '../util/progress.ts';
import { PRETRAIN_CHECKPOINTS, PRETRAIN_KEEP, type PretrainState, optionMismatch, restorePretrainCheckpoint, writePretrainCheckpoint } from '../toy/pretrain_checkpoint.ts';
import { EXISTS_TURNS, type ExistsTurns, type ToyBatch, type ToyDataOptions, toyBatch } from '../toy/pretrain_data.ts';
import { TOY_EVAL_DEFAULTS, type ToyEvalOutput, evalSummary, evaluateToyModel, majorityBaseline, toyEvalSet } from '../eval/toy_run.ts';
import {
  PATCH_EMBEDDINGS,
  type PatchEmbedding,
  TOY_MODEL_SIZE,
  type ToyModelSize,
  frozenTensors,
  initialWeights,
  toyConfigJson,
  toyEngineConfig,
  toyPreprocessorJson,
  writeToyModel,
} from '../toy/pretrain_model.ts';
import { questions } from '../toy/text.ts';
import { REASONED_ANSWER_TOKENS } from '../toy/answer_form.ts';
import { buildToyModelTokenizer } from '../toy/toy_tokenizer.ts';
import { generateScenes } from '../toy/world.ts';
import type { ToyTokenizer } from '../toy/tokenizer_builder.ts';

export interface ToyPretrainOptions {
  out: string;
  steps: number;
  /** Seeds the initialisation, the training scenes and every per-scene choice. */
  seed: number;
  batchSize?: number;
  lr?: number;
  schedule?: ScheduleKind;
  warmupRatio?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  /** AdamW's moment decays and epsilon. */
  adamBeta1?: number;
  adamBeta2?: number;
  adamEps?: number;
  singleTurn?: number;
  /** Existence questions per multi-turn conversation (lib/toy/pretrain_data.ts: 1 avoids a yes/no shortcut). */
  existsTurns?: ExistsTurns;
  /** Share of each step's scenes that are one-shape foothold scenes (lib/toy/footholds.ts; 0: none). */
  footholds?: number;
  /** Answer the questions that name a shape with a verdict per shape first (lib/toy/text.ts reasonedAnswer). */
  reasoned?: boolean;
  /** Every scene asked one kind-item question (lib/toy/kind_items.ts: "a circle: no, a star: yes, so yes"). */
  kindItems?: boolean;
  /** Fraction of the run over which scenes grow from at most 2 shapes to 6 (0: no curriculum). */
  curriculum?: number;
  /** Kind-drill steps at the start of the run (lib/toy/kind_drill.ts; 0: none); fewer than `steps`. */
  drillSteps?: number;
  /** The patch embedding's recipe (lib/toy/pretrain_model.ts: 'fixed' is frozen at its channel-shared init). */
  patchEmbedding?: PatchEmbedding;
  /** Evaluate every this many steps (0: only at the end). */
  evalEvery?: number;
  /** Held-out scenes of the periodic and of the final evaluation. */
  evalScenes?: number;
  finalEvalScenes?: number;
  /** World seed of the held-out scenes; must differ from `seed`. */
  evalSeed?: number;
  checkpointEvery?: number;
  /** Continue from the newest checkpoint in `out` (refused when the options differ). */
  resume?: boolean;
  /** CPU threads for the native steps (default 1: on a shared 2-core machine a second OpenMP thread mostly waits). */
  threads?: number;
  /** Start from this model folder's weights instead of the seeded initialisation. */
  init?: string;
  /** The model's shape (default TOY_MODEL_SIZE). */
  size?: ToyModelSize;
  /** The command line, recorded in training.json. */
  command?: string;
  progress?: ProgressFactory;
  log?: (line: string) => void;
  /** Called after each step (and its checkpoint) with the number of steps done. */
  onStep?: (done: number) => void;
  /** Stops the run after the current step (its checkpoint written when due), rejecting with a message. */
  signal?: AbortSignal;
}

export const TOY_PRETRAIN_DEFAULTS = {
  batchSize: 16,
  lr: 2e-3,
  schedule: 'cosine' as ScheduleKind,
  warmupRatio: 0.03,
  weightDecay: 0.05,
  maxGradNorm: 1.0,
  ...ADAMW_DEFAULTS, // the LoRA stages' AdamW defaults: one value for each
  singleTurn: 0.25,
  existsTurns: 1 as ExistsTurns,
  footholds: 0,
  reasoned: false,
  kindItems: false,
  curriculum: 0.5,
  drillSteps: 0,
  patchEmbedding: 'fixed' as PatchEmbedding,
  evalEvery: 250,
  evalScenes: 24,
  finalEvalScenes: 100,
  evalSeed: 9001,
  checkpointEvery: 100,
  threads: 1,
};

export interface ToyPretrainResult {
  out: string;
  steps: number;
  seconds: number;
  final: ToyEvalOutput;
  baseline: ReturnType<typeof majorityBaseline>;
}

type Resolved = Required<Omit<ToyPretrainOptions, 'init' | 'size' | 'command' | 'progress' | 'log' | 'onStep' | 'signal'>> & Pick<ToyPretrainOptions, 'init' | 'command'>;

function resolveOptions(o: ToyPretrainOptions): Resolved {
  const r = { ...TOY_PRETRAIN_DEFAULTS, resume: false, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as Resolved;
  const int = (v: number, name: string, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`Expected an integer >= ${min} for ${name} but received ${String(v)}`);
  };
  int(r.steps, 'steps', 1);
  int(r.seed, 'seed', 0);
  int(r.batchSize, 'batchSize', 1);
  int(r.evalEvery, 'evalEvery', 0);
  int(r.evalScenes, 'evalScenes', 1);
  int(r.finalEvalScenes, 'finalEvalScenes', 1);
  int(r.evalSeed, 'evalSeed', 0);
  int(r.checkpointEvery, 'checkpointEvery', 1);
  int(r.threads, 'threads', 1);
  int(r.drillSteps, 'drillSteps', 0);
  if (!EXISTS_TURNS.includes(r.existsTurns)) throw new RangeError(`Expected one of ${EXISTS_TURNS.join(', ')} for existsTurns but received ${String(r.existsTurns)}`);
  if (!PATCH_EMBEDDINGS.includes(r.patchEmbedding)) throw new RangeError(`Expected one of ${PATCH_EMBEDDINGS.join(', ')} for patchEmbedding but received ${String(r.patchEmbedding)}`);
  if (r.kindItems && r.footholds > 0) throw new RangeError(`Expected footholds 0 with kindItems (every scene is a kind-item scene) but received ${r.footholds}`);
  if (r.drillSteps >= r.steps) throw new RangeError(`Expected fewer drill steps than steps (${r.steps}) but received ${r.drillSteps}`);
  if (r.evalSeed === r.seed) throw new RangeError(`Expected an evalSeed other than the training seed (${r.seed}): held-out scenes must not be training scenes`);
  for (const [name, v] of [['lr', r.lr], ['weightDecay', r.weightDecay], ['maxGradNorm', r.maxGradNorm]] as const) {
    if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`Expected a non-negative number for ${name} but received ${String(v)}`);
  }
  for (const [name, v] of [['singleTurn', r.singleTurn], ['curriculum', r.curriculum], ['footholds', r.footholds]] as const) {
    if (!(v >= 0 && v <= 1)) throw new RangeError(`Expected a number in [0, 1] for ${name} but received ${String(v)}`);
  }
  for (const [name, v] of [['adamBeta1', r.adamBeta1], ['adamBeta2', r.adamBeta2]] as const) {
    if (!(v >= 0 && v < 1)) throw new RangeError(`Expected a number in [0, 1) for ${name} but received ${String(v)}`);
  }
  if (!(Number.isFinite(r.adamEps) && r.adamEps > 0)) throw new RangeError(`Expected a positive number for adamEps but received ${String(r.adamEps)}`);
  return r;
}

/** The options that shape the weights (a resume must repeat them). */
function trajectoryOptions(r: Resolved, size: ToyModelSize): Record<string, unknown> {
  return {
    seed: r.seed, steps: r.steps, batchSize: r.batchSize, lr: r.lr, schedule: r.schedule, warmupRatio: r.warmupRatio,
    weightDecay: r.weightDecay, maxGradNorm: r.maxGradNorm, adamBeta1: r.adamBeta1, adamBeta2: r.adamBeta2, adamEps: r.adamEps,
    singleTurn: r.singleTurn, existsTurns: r.existsTurns, footholds: r.footholds, reasoned: r.reasoned, kindItems: r.kindItems, curriculum: r.curriculum, drillSteps: r.drillSteps, patchEmbedding: r.patchEmbedding, init: r.init ?? null, size,
  };
}

/**
 * Options added after checkpoints were first written, with the value a checkpoint that lacks one
 * ran with: the defaults of the time (AdamW's, no drill), the learned patch embedding and both
 * existence questions in a conversation.
 */
const LATER_KEYS: Record<string, unknown> = {
  adamBeta1: TOY_PRETRAIN_DEFAULTS.adamBeta1,
  adamBeta2: TOY_PRETRAIN_DEFAULTS.adamBeta2,
  adamEps: TOY_PRETRAIN_DEFAULTS.adamEps,
  drillSteps: 0,
  patchEmbedding: 'learned',
  existsTurns: 2,
  footholds: 0,
  reasoned: false,
  kindItems: false,
};

/** How the toy model's conversations are tokenised: its tokenizer and chat template. */
export function toyChatEncoder(tok: ToyTokenizer, config: EngineConfig): ChatEncoder {
  const tokenizer = tokenizerFromFiles({ tokenizer: { json: tok.tokenizer, source: 'tokenizer.json' }, config: { json: tok.config, source: 'tokenizer_config.json' } });
  return { tokenizer, template: selectChatTemplate({ checkpoint: tokenizer.chatTemplate, family: config.decoder.family }), config };
}

async function initialise(p: PretrainerNative, r: Resolved, config: EngineConfig): Promise<void> {
  const specs = native().llavaTensorSpecs(config);
  if (r.init === undefined) {
    await p.setTensors('param', initialWeights(specs, config, r.seed, r.patchEmbedding));
    return;
  }
  const initConfig = loadModelConfig(r.init);
  const sources = resolveWeights(specs, [await openCheckpoint(r.init)], initConfig);
  await p.readTensors('param', sources);
}

/** Everything one run works with, built once. */
interface Run {
  r: Resolved;
  o: ToyPretrainOptions;
  p: PretrainerNative;
  tok: ToyTokenizer;
  configJson: Record<string, unknown>;
  preprocessorJson: Record<string, unknown>;
  enc: ChatEncoder;
  pre: PreprocessConfig;
  maxLength: number;
  options: Record<string, unknown>;
  /** The held-out conversations whose loss every evaluation reports. */
  heldOut: ToyBatch;
  evals: MetricsLog;
  log: (line: string) => void;
  /** Tensors the optimizer leaves as they are (the 'fixed' patch embedding). */
  frozen: string[];
}

export async function runToyPretrain(o: ToyPretrainOptions): Promise<ToyPretrainResult> {
  const r = resolveOptions(o);
  const tok = buildToyModelTokenizer();
  const size = o.size ?? TOY_MODEL_SIZE;
  const configJson = toyConfigJson(tok, size);
  const preprocessorJson = toyPreprocessorJson(size.vision.imageSize);
  const config = toyEngineConfig(configJson, preprocessorJson);
  const enc = toyChatEncoder(tok, config);
  const pre = preprocessConfigFromVision(config.vision);
  const maxLength = config.decoder.maxPositionEmbeddings;
  const options = trajectoryOptions(r, size);
  const log = o.log ?? (() => undefined);
  await mkdir(r.out, { recursive: true });
  native().setThreads(r.threads);
  try {
    const p = await native().createPretrainer(config);
    let start = 0;
    let seconds = 0;
    const ckpt = r.resume ? await latestCheckpoint<PretrainState>(r.out, PRETRAIN_CHECKPOINTS) : null;
    if (ckpt) {
      const diff = optionMismatch(ckpt.state.options, options, LATER_KEYS);
      if (diff !== null) throw new Error(`cannot resume from ${ckpt.dir}: ${diff} (start without --resume, or repeat the checkpoint's options)`);
      await restorePretrainCheckpoint(p, ckpt.dir, ckpt.state);
      await pruneCheckpoints(r.out, PRETRAIN_CHECKPOINTS, PRETRAIN_KEEP);
      start = ckpt.state.step;
      seconds = ckpt.state.seconds;
      log(`resuming from ${ckpt.dir} (step ${start} of ${r.steps})`);
    } else {
      await initialise(p, r, config);
    }
    // Ordinary conversations only (no foothold scenes): the held-out loss measures the world's questions.
    const heldOut = await toyBatch({ seed: r.evalSeed, batchSize: r.evalScenes, singleTurn: r.singleTurn, existsTurns: r.existsTurns, reasoned: r.reasoned, kindItems: r.kindItems }, 0, enc, pre, maxLength);
    // Rows of evaluations after the checkpoint are dropped (a finished run's final row too: it is redone).
    const evals = await MetricsLog.open(path.join(r.out, 'eval.jsonl'), Math.min(start + 1, r.steps));
    const frozen = frozenTensors(p.tensorInfo(), r.patchEmbedding);
    const run: Run = { r, o, p, tok, configJson, preprocessorJson, enc, pre, maxLength, options, heldOut, evals, log, frozen };
    try {
      seconds = await trainSteps(run, start, seconds);
      return await finish(run, seconds);
    } finally {
      await evals.close();
    }
  } finally {
    native().setThreads(0);
  }
}

/** Steps start..steps-1 with their metrics, evaluations and checkpoints (lib/train/step_driver.ts); returns the training seconds. */
async function trainSteps(run: Run, start: number, seconds: number): Promise<number> {
  const { r, o, p, enc, pre, maxLength } = run;
  const data: ToyDataOptions = { seed: r.seed, batchSize: r.batchSize, singleTurn: r.singleTurn, existsTurns: r.existsTurns, footholds: r.footholds, reasoned: r.reasoned, kindItems: r.kindItems, curriculum: r.curriculum, totalSteps: r.steps, drillSteps: r.drillSteps };
  const metrics = await MetricsLog.open(path.join(r.out, 'metrics.jsonl'), start);
  const bar = (o.progress ?? silentProgress)('toy pretrain', r.steps, start);
  let next: Promise<ToyBatch> | null = start < r.steps ? toyBatch(data, start, enc, pre, maxLength) : null;
  // One step: the prefetched batch, the native step (the next batch is tokenised and rendered meanwhile), AdamW.
  const train = async (step: number): Promise<MetricsRow> => {
    const batch = await (next as Promise<ToyBatch>);
    const t0 = Date.now();
    const lr = learningRateAt({ kind: r.schedule, lr: r.lr, totalSteps: r.steps, warmupRatio: r.warmupRatio }, step);
    const running = p.step(batch.pixels, batch.count, batch.items);
    next = step + 1 < r.steps ? toyBatch(data, step + 1, enc, pre, maxLength) : null; // overlaps the native step
    const { loss, tokens } = await running;
    const opt = await p.optimizerStep({ lr, weightDecay: r.weightDecay, maxGradNorm: r.maxGradNorm, beta1: r.adamBeta1, beta2: r.adamBeta2, eps: r.adamEps, frozen: run.frozen });
    const ms = Date.now() - t0;
    seconds += ms / 1000;
    return { step, lr, loss, grad_norm: opt.gradNorm, tokens, ms, ...(opt.skipped ? { skipped: 1 } : {}) };
  };
  try {
    await runSteps({
      start,
      total: r.steps,
      train,
      // The periodic evaluations (the last step's is the final one, finish()): a row of eval.jsonl, none of metrics.jsonl.
      evaluation: {
        due: (done) => r.evalEvery > 0 && done % r.evalEvery === 0 && done < r.steps,
        run: async (done) => {
          await evaluate(run, done, r.evalScenes);
          return {};
        },
      },
      record: async (row) => {
        await metrics.append([row]);
        bar.tick();
      },
      checkpointEvery: r.checkpointEvery,
      checkpoint: async (done) => void (await writePretrainCheckpoint(r.out, { step: done, options: run.options, seconds }, p)),
      ...(o.onStep ? { onStep: o.onStep } : {}),
      ...(o.signal ? { stop: { signal: o.signal, error: (done: number) => new Error(`toy pretraining stopped after step ${done} of ${r.steps} (resume with --resume)`) } } : {}),
    });
  } finally {
    bar.stop();
    await metrics.close();
  }
  return seconds;
}

/** Writes the current weights into the output folder as the model. */
async function saveModel(run: Run): Promise<void> {
  const info = run.p.tensorInfo();
  const params = await run.p.getTensors('param');
  await writeToyModel(run.r.out, {
    configJson: run.configJson,
    preprocessorJson: run.preprocessorJson,
    tokenizer: run.tok,
    tensors: info.map((t, i) => ({ name: t.name, shape: t.shape, data: params[i] })),
    metadata: { stic_toy_pretrain: JSON.stringify({ seed: run.r.seed, step: run.p.getStep() }) },
    dtype: 'F16',
  });
}

/** Saves the model, evaluates it through the engine on `scenes` held-out scenes, logs a row of eval.jsonl. */
async function evaluate(run: Run, step: number, scenes: number): Promise<ToyEvalOutput & { heldOutLoss: number }> {
  await saveModel(run);
  const t0 = Date.now();
  const heldOutLoss = (await run.p.loss(run.heldOut.pixels, run.heldOut.count, run.heldOut.items)).loss;
  // A reasoned (or kind-item) answer names every shape before its verdict: up to 6 x 11 tokens, then the answer.
  const settings = run.r.reasoned || run.r.kindItems ? { ...TOY_EVAL_DEFAULTS, answerTokens: REASONED_ANSWER_TOKENS } : TOY_EVAL_DEFAULTS;
  const out = await evaluateToyModel(await loadChatModel(run.r.out), toyEvalSet(run.r.evalSeed, scenes), settings);
  await run.evals.append([{ step, loss: heldOutLoss, scenes, ...evalSummary(out.report), eval_ms: Date.now() - t0 } as never]);
  const rep = out.report;
  run.log(
    `step ${step}: held-out loss ${heldOutLoss.toFixed(3)}, VQA ${pct(rep.vqa.accuracy)}, shape P/R ` +
      `${pct(rep.descriptions.levels.shape.precision)}/${pct(rep.descriptions.levels.shape.recall)}, CHAIR_i ${pct(rep.descriptions.hallucination.rate)}`,
  );
  return { ...out, heldOutLoss };
}

/** The final evaluation, its files and training.json. */
async function finish(run: Run, seconds: number): Promise<ToyPretrainResult> {
  const { r, p } = run;
  const final = await evaluate(run, r.steps, r.finalEvalScenes);
  const finalSet = toyEvalSet(r.evalSeed, r.finalEvalScenes);
  // The answer priors of the world (2000 scenes of the training seed at the full 1-6 shapes, the
  // held-out set's distribution; more changes nothing measurable).
  const trainQa = generateScenes(r.seed, Math.min(r.steps * r.batchSize, 2000)).flatMap((s) => questions(s));
  const baseline = majorityBaseline(trainQa, finalSet);
  await writeFinalEval(r.out, final);
  const record = {
    command: r.command ?? null,
    options: { ...run.options, evalSeed: r.evalSeed, finalEvalScenes: r.finalEvalScenes, threads: r.threads },
    parameters: p.tensorInfo().reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0),
    steps: r.steps,
    train_seconds: Math.round(seconds),
    final_eval: { scenes: r.finalEvalScenes, world_seed: r.evalSeed, heldout_loss: final.heldOutLoss, ...evalSummary(final.report) },
    blind_baseline: baseline,
  };
  await writeJsonAtomic(path.join(r.out, 'training.json'), record);
  return { out: r.out, steps: r.steps, seconds, final, baseline };
}

async function writeFinalEval(out: string, e: ToyEvalOutput): Promise<void> {
  const dir = path.join(out, 'eval');
  await mkdir(dir, { recursive: true });
  // Per-description sets stay out of the report (they are recomputable from responses.jsonl).
  const { count, levels, hallucination } = e.report.descriptions;
  await writeJsonAtomic(path.join(dir, 'report.json'), { vqa: e.report.vqa, descriptions: { count, levels, hallucination } });
  const lines = [...e.answers.map((a) => ({ kind: 'answer', ...a })), ...e.descriptions.map((d) => ({ kind: 'description', ...d }))];
  await writeFileAtomic(path.join(dir, 'responses.jsonl'), lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
}

function pct(x: number | null): string {
  return x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`;
}
