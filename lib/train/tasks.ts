// The two losses as micro-batch tasks of the loop (loop.ts).
// DPO (STIC stage 1b): each micro-batch of k pairs out of the step's n contributes k/n of its mean
// loss and gradient (gradScale), so the accumulated gradient is that of the mean over the global
// batch, and the weighted metrics add up to the step's means.
// SFT (stage 2b): every micro-batch's cross-entropy is divided by the step's total target tokens
// (meanOver), so the accumulated loss is the mean over all assistant tokens of the global batch,
// as the Hugging Face Trainer averages accumulated batches.
import type { DpoOptions } from './train_options.ts';
import type { StepImages, TokenizedPair, TokenizedSft } from './collate.ts';
import type { MicroTask } from './loop.ts';
import type { Trainer } from './trainer_api.ts';

/**
 * How a DPO step runs a pair: its prompt once, chosen and rejected as two branches over the
 * prompt's KV (the same loss and gradients as two full sequences, with less compute and memory).
 */
export const SHARED_PREFIX = true;

export interface DpoTaskOptions {
  options: Pick<DpoOptions, 'loss' | 'beta' | 'sftWeight' | 'sftNorm' | 'rejectedLogp' | 'reproduceReferenceDrift'>;
  /** Reference log-probs by example index; absent: computed inside each step (reference drift mode). */
  refs: Map<number, { chosen: number; rejected: number }> | null;
  /** The memory plan's choice (memory_plan.ts). */
  gradCheckpointing: boolean;
}

export function dpoTask(t: DpoTaskOptions): MicroTask<TokenizedPair> {
  return {
    kind: 'dpo',
    beginStep: () => undefined,
    tokens: (e) => e.promptIds.length + e.chosenIds.length + e.rejectedIds.length,
    async micro(trainer: Trainer, examples, images: StepImages, key, stepExamples) {
      const batch = images.gather(examples.map((e) => e.image));
      const pairs = examples.map((e, i) => {
        const ref = t.refs?.get(e.index);
        return { images: batch.images[i], promptIds: e.promptIds, chosenIds: e.chosenIds, rejectedIds: e.rejectedIds, ...(ref ? { refChosen: ref.chosen, refRejected: ref.rejected } : {}) };
      });
      const w = examples.length / stepExamples;
      const o = t.options;
      const r = await trainer.dpoStep(batch.pixels, batch.layouts, pairs, {
        key,
        loss: o.loss,
        beta: o.beta,
        sftWeight: o.sftWeight,
        sftNorm: o.sftNorm,
        rejectedMode: o.rejectedLogp,
        gradScale: w,
        refProjector: o.reproduceReferenceDrift ? 'trained' : 'original',
        gradCheckpointing: t.gradCheckpointing,
        sharedPrefix: SHARED_PREFIX,
      });
      return {
        loss: w * r.loss,
        reward_chosen: w * r.rewardChosen,
        reward_rejected: w * r.rewardRejected,
        reward_margin: w * r.rewardMargin,
        reward_accuracy: w * r.rewardAccuracy,
        logp_chosen: w * r.logpChosen,
        logp_rejected: w * r.logpRejected,
      };
    },
  };
}

/** gradCheckpointing: the memory plan's choice (memory_plan.ts). */
export function sftTask(gradCheckpointing: boolean): MicroTask<TokenizedSft> {
  let targets = 0;
  return {
    kind: 'sft',
    beginStep(examples) {
      targets = examples.reduce((n, e) => n + e.targets, 0);
    },
    tokens: (e) => e.ids.length,
    async micro(trainer: Trainer, examples, images: StepImages, key) {
      const batch = images.gather(examples.map((e) => e.image));
      const items = examples.map((e, i) => ({ images: batch.images[i], ids: e.ids, mask: e.mask }));
      const r = await trainer.sftStep(batch.pixels, batch.layouts, items, { key, meanOver: targets, gradScale: 1, gradCheckpointing });
      return { loss: r.loss, target_tokens: r.tokens };
    },
  };
}
