// Stage 1a planning: for one image, every random choice of its preference pair, drawn from a
// generator keyed by (run seed, image id) so the plan is the same whatever the input order, batch
// size or resume point (STIC.md stage 1a):
// - preferred: the clean image with the detailed step-by-step prompt;
// - dispreferred, with probability hallucinationProb a hallucination prompt on the clean image,
//   otherwise a plain prompt on a corrupted image (the corruption drawn uniformly from the selected
//   kinds, 50/50 lowres/jitter by default), with its own corruption seed;
// - the stored user turn: one plain prompt, with the image token, for both chosen and rejected.
// The draws happen in a fixed order and all of them always happen, so changing one option (say the
// hallucination probability) never shifts the other choices of an image.
import { type CorruptionProvenance, type DispreferredKind, type PreferenceRecord, type SamplingProvenance, userTurn } from '../../data/records/preference.ts';
import { seededRandom } from '../../util/seeded.ts';
import type { CorruptionSpec, ChatGenerateResult, RequestSampling } from '../engine_api.ts';
import type { PromptSet } from '../../data/prompts.ts';

export interface PrefPlanOptions {
  seed: number;
  hallucinationProb: number;
  /** Candidate corruptions, drawn uniformly. */
  corruptions: CorruptionSpec[];
  /** Public defect (a): record the corruption but generate from the clean image. */
  reproduceUncorrupted: boolean;
}

export interface PrefPlan {
  id: string;
  dispreferred: DispreferredKind;
  /** Plain prompt stored as the user turn of both answers (no image token). */
  storedPrompt: string;
  preferredPrompt: string;
  dispreferredPrompt: string;
  /** Set for the corruption branch. */
  corruption: { spec: CorruptionSpec; seed: number; apply: boolean } | null;
  seeds: { chosen: number; rejected: number };
}

export function planPreference(id: string, prompts: PromptSet, o: PrefPlanOptions): PrefPlan {
  if (o.corruptions.length === 0) throw new RangeError('Expected at least one corruption kind but received none');
  const rng = seededRandom(o.seed, 'pref', id);
  const branch = rng.next();
  const stored = prompts.plain[rng.int(prompts.plain.length)];
  const hallu = prompts.hallucination[rng.int(prompts.hallucination.length)];
  const spec = o.corruptions[rng.int(o.corruptions.length)];
  const corruptionSeed = rng.u32();
  const seeds = { chosen: rng.u32(), rejected: rng.u32() };
  const hallucinate = branch < o.hallucinationProb;
  return {
    id,
    dispreferred: hallucinate ? 'hallucination' : 'corruption',
    storedPrompt: stored,
    preferredPrompt: prompts.detailed,
    dispreferredPrompt: hallucinate ? hallu : stored,
    corruption: hallucinate ? null : { spec, seed: corruptionSeed, apply: !o.reproduceUncorrupted },
    seeds,
  };
}

export interface PairOutputs {
  chosen: ChatGenerateResult;
  rejected: ChatGenerateResult;
  /** The parameters the corruption kernel drew (empty when none was applied). */
  corruptionParams: Record<string, unknown>;
  ref?: { chosen: number; rejected: number };
}

export interface RecordContext {
  image: string;
  /** The folder `image` is relative to, relative to the output file's folder (image_root.ts). */
  imageRoot: string;
  sampling: RequestSampling;
  model: string;
  adapter: string | null;
  runSeed: number;
}

/** The JSONL record of one pair: the public fields, then our provenance. */
export function preferenceRecord(plan: PrefPlan, out: PairOutputs, ctx: RecordContext): PreferenceRecord {
  const turn = userTurn(plan.storedPrompt);
  const corruption: CorruptionProvenance | null = plan.corruption && {
    kind: plan.corruption.spec.kind,
    params: plan.corruption.apply ? out.corruptionParams : specParams(plan.corruption.spec),
    seed: plan.corruption.seed,
    applied: plan.corruption.apply,
  };
  const sampling: SamplingProvenance = {
    temperature: ctx.sampling.temperature,
    top_p: ctx.sampling.topP,
    top_k: ctx.sampling.topK,
    max_new_tokens: ctx.sampling.maxNewTokens,
  };
  return {
    id: plan.id,
    image: ctx.image,
    image_root: ctx.imageRoot,
    chosen: [turn, { role: 'assistant', content: out.chosen.text }],
    rejected: [turn, { role: 'assistant', content: out.rejected.text }],
    image_corruption: plan.dispreferred === 'corruption',
    hallu_prompt: plan.dispreferred === 'hallucination' ? plan.dispreferredPrompt : '',
    provenance: {
      dispreferred: plan.dispreferred,
      corruption,
      prompts: { preferred: plan.preferredPrompt, dispreferred: plan.dispreferredPrompt, stored: plan.storedPrompt },
      sampling,
      seeds: plan.seeds,
      finish: { chosen: out.chosen.finish, rejected: out.rejected.finish },
      model: ctx.model,
      adapter: ctx.adapter,
      run_seed: ctx.runSeed,
    },
    ...(out.ref ? { ref_chosen_logp: out.ref.chosen, ref_rejected_logp: out.ref.rejected } : {}),
  };
}

// The configured ranges of a corruption that was not applied (nothing was drawn), flattened.
function specParams(spec: CorruptionSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec)) {
    if (typeof v === 'number') out[k] = v;
    else if (Array.isArray(v)) [out[`${k}_min`], out[`${k}_max`]] = v as [number, number];
  }
  return out;
}
