// The demo's STIC recipe for the built-in toy model, written out as `stic run` configs (YAML) in
// the output folder, so a user can read exactly what ran and run it again with `stic run`.
//
// What differs from the paper's recipe (STIC.md), and why:
// - Learning rates. The paper's lr 1e-7 (stage 1) and 2e-5 (stage 2) are for a 7B model with LoRA
//   r=128 trained on 6k pairs; on a 1.2M-parameter model and a few hundred pairs they move nothing
//   measurable. Here: DPO lr 5e-4 and SFT lr 5e-4 on the LoRA weights, projector lr 1e-4.
// - LoRA r=16, alpha=32 (the paper's ratio alpha = 2r): the decoder is 128 wide, so r=128 would be
//   a full-rank update.
// - Generation lengths: a six-shape toy caption is ~70 tokens, so 96 new tokens instead of 1024.
// - Batch 8 in both stages; max length 512 (the model's context). One epoch per stage, as the paper:
//   measured on the demo's 400 pairs, 3 DPO epochs (150 steps) drove both the STIC and the control
//   arm to describe nearly every scene as "one shape" (recall of shape kinds 34% -> 17%), the
//   likelihood drift DPO is known for; a larger chosen regulariser (--sft-weight 0.05) curbed it,
//   but the paper's 1/1024 is kept.
// - Prompts (written to <out>/prompts.json). The toy model was taught to describe a scene only when
//   asked with one of the toy world's description requests (lib/toy/text.ts DESCRIBE_PROMPTS), as
//   LLaVA understands the paper's English prompts. So the plain prompts are those requests and the
//   preferred-branch prompt is the most detailed of them ("the shapes and where they are"). The
//   hallucination prompts stay the STIC ones: the toy world has no words for "add plausible
//   objects", so the model answers them as the unfamiliar requests they are.
// Everything else is the paper's: temperature 0.2, 50/50 hallucination prompt / corrupted image,
// 50/50 low-res (20 px) / colour jitter, beta 0.1, the 1/1024 chosen regulariser, cosine schedule
// with 3% warmup, stage 2 continuing the stage-1 adapter.
import path from 'node:path';

import YAML from 'yaml';

import { DEFAULT_PROMPTS, type PromptSet } from '../data/prompts.ts';
import type { StageName } from '../stic/run_config.ts';
import { DESCRIBE_PROMPTS } from '../toy/text.ts';

/** The demo's prompts (see the header): the toy world's description requests. */
export const DEMO_PROMPTS: Pick<PromptSet, 'detailed' | 'plain' | 'hallucination'> = {
  detailed: DESCRIBE_PROMPTS[2],
  plain: [...DESCRIBE_PROMPTS],
  hallucination: DEFAULT_PROMPTS.hallucination,
};

export interface RecipeScale {
  /** New tokens of a generated description (pref answers and stage-2a descriptions). */
  describeTokens: number;
  dpoEpochs: number;
  sftEpochs: number;
  /** Generation requests per batch. */
  genBatch: number;
}

export const DEMO_SCALE: RecipeScale = { describeTokens: 96, dpoEpochs: 1, sftEpochs: 1, genBatch: 32 };

export const DEMO_TRAINING = {
  loraR: 16,
  loraAlpha: 32,
  dpoLr: 5e-4,
  sftLr: 5e-4,
  projectorLr: 1e-4,
  batchSize: 8,
  maxLength: 512,
  checkpointEvery: 20,
  /** The paper's DPO beta and chosen regulariser weight (on the summed log-prob). */
  beta: 0.1,
  sftWeight: 1 / 1024,
};

export interface RecipeInputs {
  model: string;
  /** Run folder of this arm (relative paths in the config are relative to the config's folder). */
  out: string;
  unlabeled: string;
  instructions: string;
  seed: number;
  threads?: number;
  prompts?: string;
  /** Stages to run: the control arm starts at dpo from its coin-flipped pairs. */
  stages: StageName[];
  scale: RecipeScale;
  /** Overrides of the recipe's training values. */
  training?: Partial<typeof DEMO_TRAINING>;
}

/** The `stic run` config of one arm, as an object with the flag names as keys. */
export function recipeConfig(r: RecipeInputs, configDir: string): Record<string, unknown> {
  const t = { ...DEMO_TRAINING, ...r.training };
  const rel = (p: string): string => path.relative(configDir, p) || '.';
  const train = {
    'lora-r': t.loraR,
    'lora-alpha': t.loraAlpha,
    'projector-lr': t.projectorLr,
    'batch-size': t.batchSize,
    'max-length': t.maxLength,
    'checkpoint-every': t.checkpointEvery,
  };
  const { 'lora-r': _r, 'lora-alpha': _a, ...sftTrain } = train; // stage 2 keeps the stage-1 adapter's shape
  return {
    model: rel(r.model),
    out: rel(r.out),
    seed: r.seed,
    ...(r.threads !== undefined ? { threads: r.threads } : {}),
    ...(r.prompts !== undefined ? { prompts: rel(r.prompts) } : {}),
    stages: r.stages,
    pref: { images: rel(r.unlabeled), 'max-new-tokens': r.scale.describeTokens, 'batch-size': r.scale.genBatch, 'ref-logps': true },
    dpo: { ...train, lr: t.dpoLr, beta: t.beta, 'sft-weight': t.sftWeight, epochs: r.scale.dpoEpochs },
    describe: { instructions: rel(r.instructions), 'max-new-tokens': r.scale.describeTokens, 'batch-size': r.scale.genBatch },
    sft: { ...sftTrain, lr: t.sftLr, epochs: r.scale.sftEpochs },
  };
}

export function recipeYaml(config: Record<string, unknown>, comment: string): string {
  return `${comment.split('\n').map((l) => `# ${l}`.trimEnd()).join('\n')}\n${YAML.stringify(config)}`;
}
