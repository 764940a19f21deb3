// Held-out pairs for DPO (--eval-prefs): every N optimizer steps and at the end, the policy's summed
// log-probs of their responses (no dropout, no gradient) against the reference's, through the same
// loss code as a training step (the native dpo_loss that dpoStep ends with, through native().dpoLoss):
// the DPO loss with its regulariser, reward accuracy, margin and the rewards, as eval_* fields of
// the metrics row of the step after whose update they were measured. The reference log-probs come
// from the same reference as training's (stored in the pairs, the cached pre-pass, or, with
// --reproduce-reference-drift, the trained projector at evaluation time).
// Legend: B held-out pairs.
import { chunks } from '../generate/batching.ts';
import { native, type NativeDpoLossPair } from '../native/index.ts';
import type { DpoOptions } from './train_options.ts';
import { type PixelLoader, StepImages, type TokenizedPair } from './collate.ts';
import type { ReferenceMap } from './reference.ts';
import type { Trainer } from './trainer_api.ts';

export interface DpoEvalSet {
  pairs: TokenizedPair[];
  /** Reference log-probs by example index; null: computed at each evaluation (reference drift). */
  refs: ReferenceMap | null;
  options: Pick<DpoOptions, 'loss' | 'beta' | 'sftWeight' | 'sftNorm' | 'rejectedLogp' | 'reproduceReferenceDrift'>;
  pixels: PixelLoader;
  /** Pairs per native call. */
  batch: number;
}

/** The metrics-row fields an evaluation adds. */
export type DpoEvalFields = Record<`eval_${string}`, number>;

/** Steps between evaluations: --eval-every, or (0) a quarter of the run's steps, rounded up. */
export function evalInterval(every: number, totalSteps: number): number {
  return every > 0 ? every : Math.max(1, Math.ceil(totalSteps / 4));
}

/** Whether the evaluation runs after `stepsDone` optimizer steps: every `interval` and after the last. */
export function evalDue(stepsDone: number, interval: number, totalSteps: number): boolean {
  return stepsDone % interval === 0 || stepsDone === totalSteps;
}

/** The held-out metrics with the trainer's current weights. Pairs whose image cannot be loaded are left out (eval_pairs counts those measured). */
export async function evaluateDpo(trainer: Trainer, set: DpoEvalSet): Promise<DpoEvalFields> {
  const o = set.options;
  const measured: NativeDpoLossPair[] = [];
  for (const chunk of chunks(set.pairs, set.batch)) {
    const images = await StepImages.load(chunk.map((p) => p.image), set.pixels);
    const ok = chunk.filter((p) => images.has(p.image));
    if (ok.length === 0) continue;
    const g = images.gather(ok.map((p) => p.image));
    const items = ok.map((p, i) => ({ images: g.images[i], promptIds: p.promptIds, chosenIds: p.chosenIds, rejectedIds: p.rejectedIds }));
    const pol = await trainer.pairLogprobs(g.pixels, g.layouts, items, { model: 'policy', rejectedMode: o.rejectedLogp });
    const ref = set.refs === null ? await trainer.pairLogprobs(g.pixels, g.layouts, items, { model: 'reference', rejectedMode: o.rejectedLogp, refProjector: 'trained' }) : null;
    ok.forEach((p, i) => {
      const r = ref ? { chosen: ref.chosen[i], rejected: ref.rejected[i] } : set.refs?.get(p.index);
      if (r === undefined) return; // no reference: its image failed in the pre-pass too
      measured.push({ policyChosen: pol.chosen[i], policyRejected: pol.rejected[i], refChosen: r.chosen, refRejected: r.rejected, chosenTokens: p.chosenIds.length });
    });
  }
  const B = measured.length;
  if (B === 0) throw new Error(`none of the ${set.pairs.length} held-out pairs (--eval-prefs) has a loadable image`);
  const m = native().dpoLoss(measured, { loss: o.loss, beta: o.beta, sftWeight: o.sftWeight, sftNorm: o.sftNorm });
  return {
    eval_loss: m.loss,
    eval_reward_accuracy: m.rewardAccuracy,
    eval_reward_margin: m.rewardMargin,
    eval_reward_chosen: m.rewardChosen,
    eval_reward_rejected: m.rewardRejected,
    eval_pairs: B,
  };
}
