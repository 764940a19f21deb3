// `stic toy ...`: the built-in toy world. `stic toy world` renders a dataset of scenes with their
// ground truth, captions, questions and LLaVA instruction samples (layout in lib/toy/dataset.ts);
// `stic toy pretrain` trains the tiny toy LLaVA from scratch on that world (lib/pretrain/toy_pretrain.ts).
import type { Argv, CommandModule } from 'yargs';

import { checkFlag, checkThreads } from '../../lib/stic/options.ts';
import { flagPath, guardOutputs } from '../../lib/stic/output_guard.ts';
import { progressFactory } from '../../lib/util/progress.ts';
import { writeToyDataset } from '../../lib/toy/dataset.ts';
import { TOY_PRETRAIN_DEFAULTS, runToyPretrain } from '../../lib/pretrain/toy_pretrain.ts';
import { EXISTS_TURNS, type ExistsTurns } from '../../lib/toy/pretrain_data.ts';
import { PATCH_EMBEDDINGS, type PatchEmbedding, TOY_MODEL_SIZE } from '../../lib/toy/pretrain_model.ts';
import { modelImageSide, requireModelFolder } from '../../lib/model/config.ts';
import { BUILTIN_MODEL } from '../../lib/demo/options.ts';
import { MAX_SHAPES, MIN_SHAPES } from '../../lib/toy/vocab.ts';
import { SCHEDULE_KINDS, type ScheduleKind } from '../../lib/util/lr_schedule.ts';

interface WorldArgs {
  out: string;
  count: number;
  seed: number;
  start: number;
  size: number;
  'extra-size': number[];
  'min-shapes': number;
  'max-shapes': number;
  reasoned: boolean;
}

const world: CommandModule<object, WorldArgs> = {
  command: 'world',
  describe: 'Render toy scenes: images, truth.jsonl, captions.jsonl, qa.jsonl, instructions.jsonl',
  builder: (y) =>
    y
      .options({
        out: { type: 'string', demandOption: true, describe: 'Output folder (created; files in it are replaced)' },
        count: { type: 'number', demandOption: true, describe: 'Number of scenes' },
        seed: { type: 'number', default: 0, describe: 'World seed: scene i of a seed is always the same scene' },
        start: { type: 'number', default: 0, describe: 'Index of the first scene (disjoint ranges give disjoint sets)' },
        size: { type: 'number', default: modelImageSide(BUILTIN_MODEL), describe: 'Image side in pixels (default: the built-in model\'s input side)' },
        'extra-size': { type: 'number', array: true, default: [], describe: 'Also render at these sides, into images_<S>px/' },
        'min-shapes': { type: 'number', default: MIN_SHAPES, describe: 'Fewest shapes per scene' },
        'max-shapes': { type: 'number', default: MAX_SHAPES, describe: 'Most shapes per scene' },
        reasoned: { type: 'boolean', default: false, describe: 'Write the instruction answers in the reasoned form ("a red circle: no, a blue star: yes, so blue"), for a model pretrained with --reasoned' },
      })
      .example('$0 toy world --out data/toy --count 200 --seed 1', '') as never,
  handler: async (args) => {
    const r = await guardOutputs({ inputs: [], outputs: [flagPath('out', args.out)] }, () => writeToyDataset({
      outDir: args.out,
      seed: args.seed,
      count: args.count,
      start: args.start,
      size: args.size,
      extraSizes: args['extra-size'],
      minShapes: args['min-shapes'],
      maxShapes: args['max-shapes'],
      reasoned: args.reasoned,
    }));
    process.stdout.write(`wrote ${r.scenes} scenes and ${r.questions} questions to ${args.out} (${r.files.join(', ')}, images/)\n`);
  },
};

interface PretrainArgs {
  out: string;
  steps: number;
  seed: number;
  'batch-size': number;
  lr: number;
  schedule: ScheduleKind;
  'image-size'?: number;
  'warmup-ratio': number;
  'weight-decay': number;
  'max-grad-norm': number;
  'adam-beta1': number;
  'adam-beta2': number;
  'adam-eps': number;
  'single-turn': number;
  'exists-turns': ExistsTurns;
  footholds: number;
  reasoned: boolean;
  'kind-items': boolean;
  curriculum: number;
  'drill-steps': number;
  'patch-embedding': PatchEmbedding;
  'eval-every': number;
  'eval-scenes': number;
  'final-eval-scenes': number;
  'eval-seed': number;
  'checkpoint-every': number;
  resume: boolean;
  threads: number;
  init?: string;
}

const d = TOY_PRETRAIN_DEFAULTS;
const SCENES_SPEC = { type: 'integer', min: 1, max: 65536, describe: '' } as const;
const IMAGE_SIZE_SPEC = { type: 'integer', min: TOY_MODEL_SIZE.vision.patchSize, max: 448, describe: '' } as const;

const pretrain: CommandModule<object, PretrainArgs> = {
  command: 'pretrain',
  describe: 'Train the tiny toy LLaVA from scratch (vision tower, projector, decoder) and write it in Hugging Face layout',
  builder: (y) =>
    y
      .options({
        out: { type: 'string', demandOption: true, describe: 'Output folder: the model, metrics.jsonl, eval.jsonl, eval/, training.json, checkpoints/' },
        steps: { type: 'number', demandOption: true, describe: 'Optimizer steps (each on --batch-size fresh scenes)' },
        seed: { type: 'number', default: 0, describe: 'Seeds the initialisation, the training scenes and every per-scene choice' },
        'batch-size': { type: 'number', default: d.batchSize, describe: 'Scenes (one conversation each) per step' },
        lr: { type: 'number', default: d.lr, describe: 'Peak learning rate (AdamW, after a linear warmup)' },
        schedule: { choices: SCHEDULE_KINDS, default: d.schedule, describe: 'Learning rate after the warmup: cosine or linear decay to 0, or constant' },
        'warmup-ratio': { type: 'number', default: d.warmupRatio, describe: 'Fraction of the steps spent warming up' },
        'weight-decay': { type: 'number', default: d.weightDecay, describe: 'AdamW weight decay on matrices (norms, biases: none)' },
        'max-grad-norm': { type: 'number', default: d.maxGradNorm, describe: 'Global gradient-norm clipping (0: none)' },
        'adam-beta1': { type: 'number', default: d.adamBeta1, describe: 'AdamW beta1: decay of the running mean of the gradient' },
        'adam-beta2': { type: 'number', default: d.adamBeta2, describe: 'AdamW beta2: decay of the running mean of the squared gradient' },
        'adam-eps': { type: 'number', default: d.adamEps, describe: 'AdamW epsilon: added to the root of the second moment in the update\'s denominator' },
        'single-turn': { type: 'number', default: d.singleTurn, describe: 'Share of conversations with one question (the rest ask all of a scene)' },
        'exists-turns': { choices: EXISTS_TURNS, default: d.existsTurns, describe: 'Existence questions ("Is there a ...?") per multi-turn conversation: 1 (one of the yes/no pair) or 2 (both, so the second answer is guessable without looking)' },
        footholds: { type: 'number', default: d.footholds, describe: 'Share of each step\'s scenes that are one-shape scenes asked "What shape is this?", "Repeat: is there a <kind>?" or "Is there a <kind>?" (lib/toy/footholds.ts: first-order questions the comparison builds on; 0: none)' },
        reasoned: { type: 'boolean', default: d.reasoned, describe: 'Answer the questions that name a shape with a verdict per shape first ("a red circle: no, a blue star: yes, so blue"; lib/toy/text.ts): the form in which the toy decoder learns to compare a named shape with what it sees (model card). Scored on the answer after ", so "' },
        'kind-items': { type: 'boolean', default: d.kindItems, describe: 'Ask every scene "Is there a <kind>?" answered with a verdict on each shape by its kind alone ("a circle: no, a star: yes, so yes"; lib/toy/kind_items.ts): run 3 of the built-in model, where the decoder first learns to compare (model card). Not with --footholds' },
        curriculum: { type: 'number', default: d.curriculum, describe: 'Fraction of the run over which scenes grow from at most 2 shapes to 6 (0: none)' },
        'drill-steps': { type: 'number', default: d.drillSteps, describe: 'Steps at the start spent on one-shape "What shape is this?" scenes, palette widening from white-on-black to the world\'s colours (0: none)' },
        'image-size': { type: 'number', describe: `Image side in pixels, a multiple of the ${TOY_MODEL_SIZE.vision.patchSize} px patch (default: the --init model's, else ${TOY_MODEL_SIZE.vision.imageSize}; 168, the built-in model's: 144 image tokens instead of 36, the model card compares the two)` },
        'patch-embedding': { choices: PATCH_EMBEDDINGS, default: d.patchEmbedding, describe: 'fixed: the vision tower\'s patch filters start as one zero-mean pattern shared by the colour channels (plus a smaller per-channel part) and stay frozen, so an outline looks the same in any colour on any background; learned: drawn per channel and trained (the model card says why fixed)' },
        'eval-every': { type: 'number', default: d.evalEvery, describe: 'Evaluate on held-out scenes every this many steps (0: only at the end)' },
        'eval-scenes': { type: 'number', default: d.evalScenes, describe: 'Held-out scenes of the periodic evaluation' },
        'final-eval-scenes': { type: 'number', default: d.finalEvalScenes, describe: 'Held-out scenes of the final evaluation' },
        'eval-seed': { type: 'number', default: d.evalSeed, describe: 'World seed of the held-out scenes (not the training seed)' },
        'checkpoint-every': { type: 'number', default: d.checkpointEvery, describe: 'Write a resumable checkpoint every this many steps' },
        resume: { type: 'boolean', default: false, describe: 'Continue from the newest checkpoint in --out (same options required)' },
        threads: { type: 'number', default: d.threads, describe: 'CPU threads of the native steps' },
        init: { type: 'string', describe: 'Start from this model folder instead of a seeded random initialisation' },
      })
      .example('$0 toy pretrain --out run1 --steps 4000 --seed 1 --eval-every 1000 --image-size 168', 'the built-in model, run 1 of 5 (models/toy-llava/README.md has all five)')
      .example('$0 toy pretrain --out run2 --steps 4000 --seed 2 --init run1 --lr 1e-3 --curriculum 0 --eval-every 1000', 'run 2: continues run 1 on fresh scenes (the image size follows --init)')
      .example('$0 toy pretrain --out models/toy-llava --steps 4000 --seed 9 --init run4 --reasoned --single-turn 1 --lr 1e-3 --curriculum 0 --eval-every 1000', 'run 5: answers in the reasoned form') as never,
  handler: async (args) => {
    // Sizes that scenes and batches are built from: bounded here, before a billion scenes exhaust the heap.
    for (const flag of ['batch-size', 'eval-scenes', 'final-eval-scenes'] as const) checkFlag(flag, SCENES_SPEC, args[flag]);
    const initSide = args.init === undefined ? undefined : initImageSide(args.init);
    const imageSize = checkFlag<number>('image-size', IMAGE_SIZE_SPEC, args['image-size'] ?? initSide ?? TOY_MODEL_SIZE.vision.imageSize);
    if (initSide !== undefined && imageSize !== initSide) {
      throw new Error(`Expected --image-size to be the image side of the --init model ${args.init} (${initSide} px) but received ${imageSize}`);
    }
    const threads = checkThreads(args.threads) as number;
    const r = await guardOutputs({ inputs: [flagPath('init', args.init)], outputs: [flagPath('out', args.out)] }, () => runToyPretrain({
      out: args.out,
      steps: args.steps,
      seed: args.seed,
      batchSize: args['batch-size'],
      lr: args.lr,
      schedule: args.schedule,
      warmupRatio: args['warmup-ratio'],
      weightDecay: args['weight-decay'],
      maxGradNorm: args['max-grad-norm'],
      adamBeta1: args['adam-beta1'],
      adamBeta2: args['adam-beta2'],
      adamEps: args['adam-eps'],
      singleTurn: args['single-turn'],
      existsTurns: args['exists-turns'],
      footholds: args.footholds,
      reasoned: args.reasoned,
      kindItems: args['kind-items'],
      curriculum: args.curriculum,
      drillSteps: args['drill-steps'],
      patchEmbedding: args['patch-embedding'],
      size: { ...TOY_MODEL_SIZE, vision: { ...TOY_MODEL_SIZE.vision, imageSize } },
      evalEvery: args['eval-every'],
      evalScenes: args['eval-scenes'],
      finalEvalScenes: args['final-eval-scenes'],
      evalSeed: args['eval-seed'],
      checkpointEvery: args['checkpoint-every'],
      resume: args.resume,
      threads,
      init: args.init,
      command: `stic ${process.argv.slice(2).join(' ')}`,
      progress: progressFactory({ unit: 'steps' }),
      log: (line) => process.stderr.write(`${line}\n`),
    }));
    const rep = r.final.report;
    const pct = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
    process.stdout.write(
      `trained ${r.steps} steps in ${Math.round(r.seconds)} s; model in ${r.out}\n` +
        `held-out: VQA ${pct(rep.vqa.accuracy)} (blind baseline ${pct(r.baseline.accuracy)}), ` +
        `shape precision ${pct(rep.descriptions.levels.shape.precision)}, recall ${pct(rep.descriptions.levels.shape.recall)}, ` +
        `CHAIR_i ${pct(rep.descriptions.hallucination.rate)}\n`,
    );
  },
};

export const command: CommandModule = {
  command: 'toy <command>',
  describe: 'The built-in toy world (procedural shapes with exact ground truth)',
  builder: (y: Argv) => y.command(world).command(pretrain).demandCommand(1, 'Name a toy command (see the list above).'),
  handler: () => undefined,
};

// The image side of the model --init names: the default of --image-size with --init, and the only
// side it takes (another would not fit the model's position embeddings).
function initImageSide(init: string): number {
  requireModelFolder(init);
  return modelImageSide(init);
}
