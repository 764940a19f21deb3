// How good the self-made preference signal is: the chosen and rejected answers of the stage-1a
// pairs scored against the truth of their scenes. The demo knows that truth because it drew the
// unlabeled images itself; it is used here to report, never to train (STIC has no labels). A pair
// "agrees with the truth" when its chosen answer names more of the scene's (kind, colour) pairs
// correctly, as precision + recall, than its rejected answer; "disagrees" when fewer; the two
// answers "differ" when either holds.
// Pairs are grouped by how the rejected answer was made (the pair's provenance): the hallucination
// prompt, or the corruption the kernel applied ("lowres", "jitter", ..., the drawn kind of a "stic"
// corruption), so a corruption that does not degrade the model's descriptions shows as such.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { imagePath } from '../toy/dataset.ts';
import { type DescriptionResult, scoreDescriptions } from '../eval/toy_score.ts';
import type { ToyScene } from '../toy/world.ts';

export interface BranchQuality {
  pairs: number;
  chosen: DescriptionResult['hallucination'] & { precision: number | null; recall: number | null };
  rejected: DescriptionResult['hallucination'] & { precision: number | null; recall: number | null };
  /** Pairs whose chosen answer is the more accurate one, the less accurate one. */
  agree: number;
  disagree: number;
  /** agree / (agree + disagree): how often the chosen answer is the better one where the two differ (null: none differ). */
  agreeWhereDiffer: number | null;
}

/** "all", then one group per rejection kind: "hallucination", then each corruption kind in first-seen order. */
export interface PairQuality {
  all: BranchQuality;
  byKind: Record<string, BranchQuality>;
}

interface Pair {
  image: string;
  chosen: { content: string }[];
  rejected: { content: string }[];
  provenance?: { dispreferred?: string; corruption?: { kind?: string; params?: { kind?: unknown } } | null };
}

/** How the rejected answer of `p` was made: "hallucination", the applied corruption's kind, or "unknown". */
export function rejectionKind(p: Pair): string {
  const prov = p.provenance;
  if (prov?.dispreferred === 'hallucination') return 'hallucination';
  const c = prov?.corruption;
  if (c) return typeof c.params?.kind === 'string' ? c.params.kind : (c.kind ?? 'corruption');
  return prov?.dispreferred ?? 'unknown';
}

/** Scores the pairs of `prefs` against `scenes` (a pair's image file is named after its scene id). */
export async function pairQuality(prefs: string, scenes: readonly ToyScene[]): Promise<PairQuality> {
  const byImage = new Map(scenes.map((s) => [path.basename(imagePath(s)), s]));
  const pairs = (await readFile(prefs, 'utf8')).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Pair);
  const located = pairs.map((p) => {
    const scene = byImage.get(path.basename(p.image));
    if (scene === undefined) throw new Error(`${prefs}: pair image "${p.image}" is not one of the demo's unlabeled scenes`);
    return { p, scene, kind: rejectionKind(p) };
  });
  const kinds = [...new Set(located.map((x) => x.kind))].sort((a, b) => (a === 'hallucination' ? -1 : b === 'hallucination' ? 1 : 0));
  const byKind: Record<string, BranchQuality> = {};
  for (const k of kinds) byKind[k] = branch(located.filter((x) => x.kind === k));
  return { all: branch(located), byKind };
}

function branch(sel: { p: Pair; scene: ToyScene }[]): BranchQuality {
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
  const differ = agree + disagree;
  return { pairs: sel.length, chosen: summary(c), rejected: summary(r), agree, disagree, agreeWhereDiffer: differ > 0 ? agree / differ : null };
}

// Precision + recall of one answer's (kind, colour) pairs (0 for an answer that names none).
function accuracy(mentioned: string[], truth: string[]): number {
  const t = new Set(truth);
  const hit = mentioned.filter((m) => t.has(m)).length;
  return (mentioned.length ? hit / mentioned.length : 0) + (truth.length ? hit / truth.length : 0);
}

function pct(v: number | null): string {
  return v === null ? 'n/a' : `${(100 * v).toFixed(1)}%`;
}

function rows(q: PairQuality): [string, BranchQuality][] {
  return [['all pairs', q.all], ...Object.entries(q.byKind).map(([k, b]): [string, BranchQuality] => [k === 'hallucination' ? 'hallucination prompt' : `corruption: ${k}`, b])];
}

/** Markdown lines for results.md. */
export function pairQualityMarkdown(q: PairQuality): string {
  return [
    '| stage-1a pairs | pairs | chosen more / less accurate | chosen better where they differ | CHAIR_i chosen / rejected | precision shape+colour chosen / rejected | recall shape+colour chosen / rejected |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows(q).map(([name, b]) => `| ${name} | ${b.pairs} | ${b.agree} / ${b.disagree} | ${pct(b.agreeWhereDiffer)} | ${pct(b.chosen.rate)} / ${pct(b.rejected.rate)} | ${pct(b.chosen.precision)} / ${pct(b.rejected.precision)} | ${pct(b.chosen.recall)} / ${pct(b.rejected.recall)} |`),
  ].join('\n');
}

/** One line per group for the terminal (printed before any training). */
export function pairQualityLines(q: PairQuality): string[] {
  return rows(q).map(
    ([name, b]) =>
      `pairs, ${name}: chosen more accurate in ${b.agree} of ${b.pairs}, less in ${b.disagree} (${pct(b.agreeWhereDiffer)} where they differ); ` +
      `recall shape+colour chosen ${pct(b.chosen.recall)} vs rejected ${pct(b.rejected.recall)}`,
  );
}
