// How good the self-made preference signal is: the chosen and rejected answers of the stage-1a
// pairs scored against the truth of their scenes. The demo knows that truth because it drew the
// unlabeled images itself; it is used here to report, never to train (STIC has no labels). A pair
// "agrees with the truth" when its chosen answer names more of the scene's (kind, colour) pairs
// correctly, as precision + recall, than its rejected answer; "disagrees" when fewer.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { imagePath } from '../toy/dataset.ts';
import { type DescriptionResult, scoreDescriptions } from '../toy/eval.ts';
import type { ToyScene } from '../toy/world.ts';

export interface BranchQuality {
  pairs: number;
  chosen: DescriptionResult['hallucination'] & { precision: number | null; recall: number | null };
  rejected: DescriptionResult['hallucination'] & { precision: number | null; recall: number | null };
  /** Pairs whose chosen answer is the more accurate one, the less accurate one. */
  agree: number;
  disagree: number;
}

export type PairQuality = Record<'all' | 'hallucination' | 'corruption', BranchQuality>;

interface Pair {
  image: string;
  chosen: { content: string }[];
  rejected: { content: string }[];
  provenance?: { dispreferred?: string };
}

/** Scores the pairs of `prefs` against `scenes` (a pair's image file is named after its scene id). */
export async function pairQuality(prefs: string, scenes: readonly ToyScene[]): Promise<PairQuality> {
  const byImage = new Map(scenes.map((s) => [path.basename(imagePath(s)), s]));
  const pairs = (await readFile(prefs, 'utf8')).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Pair);
  const located = pairs.map((p) => {
    const scene = byImage.get(path.basename(p.image));
    if (scene === undefined) throw new Error(`${prefs}: pair image "${p.image}" is not one of the demo's unlabeled scenes`);
    return { p, scene };
  });
  const branch = (kind: string | null): BranchQuality => {
    const sel = located.filter(({ p }) => kind === null || p.provenance?.dispreferred === kind);
    const sc = sel.map((x) => x.scene);
    const answer = (which: 'chosen' | 'rejected') => sel.map(({ p, scene }) => ({ sceneId: scene.id, text: p[which][p[which].length - 1].content }));
    const c = scoreDescriptions(sc, answer('chosen'));
    const r = scoreDescriptions(sc, answer('rejected'));
    let agree = 0;
    let disagree = 0;
    c.details.forEach((d, i) => {
      const a = accuracy(d.mentioned.shape_colour, d.truth.shape_colour);
      const b = accuracy(r.details[i].mentioned.shape_colour, r.details[i].truth.shape_colour);
      if (a > b) agree++;
      else if (a < b) disagree++;
    });
    const summary = (x: DescriptionResult) => ({ ...x.hallucination, precision: x.levels.shape_colour.precision, recall: x.levels.shape_colour.recall });
    return { pairs: sel.length, chosen: summary(c), rejected: summary(r), agree, disagree };
  };
  return { all: branch(null), hallucination: branch('hallucination'), corruption: branch('corruption') };
}

// Precision + recall of one answer's (kind, colour) pairs (0 for an answer that names none).
function accuracy(mentioned: string[], truth: string[]): number {
  const t = new Set(truth);
  const hit = mentioned.filter((m) => t.has(m)).length;
  return (mentioned.length ? hit / mentioned.length : 0) + (truth.length ? hit / truth.length : 0);
}

/** Markdown lines for results.md. */
export function pairQualityMarkdown(q: PairQuality): string {
  const pct = (v: number | null): string => (v === null ? 'n/a' : `${(100 * v).toFixed(1)}%`);
  const rows = (['all', 'hallucination', 'corruption'] as const).map((k) => {
    const b = q[k];
    return `| ${k === 'all' ? 'all pairs' : `${k} branch`} | ${b.pairs} | ${pct(b.chosen.rate)} / ${pct(b.rejected.rate)} | ${pct(b.chosen.precision)} / ${pct(b.rejected.precision)} | ${pct(b.chosen.recall)} / ${pct(b.rejected.recall)} | ${b.agree} / ${b.disagree} |`;
  });
  return [
    '| stage-1a pairs | pairs | CHAIR_i chosen / rejected | precision shape+colour chosen / rejected | recall shape+colour chosen / rejected | chosen more / less accurate |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}
