// The control arm of the demo: the same generated pairs with the ranking thrown away. Each pair's
// chosen and rejected answers are swapped on a fair coin flip keyed by (seed, pair id), so about
// half the pairs prefer the dispreferred answer: DPO on them sees the same texts, images, prompts
// and number of steps as STIC but no preference signal. What STIC gains over this control is what
// the ranking itself (clean image + detailed prompt over corrupted image / hallucination prompt)
// contributes. The file is a stage-1a output like any other, with its completion manifest, so
// `stic run` continues from it (dpo onwards) in the control folder.
import { readFile } from 'node:fs/promises';

import { writeFileAtomic } from '../util/atomic_write.ts';
import { seededRandom } from '../util/seeded.ts';
import { hashFile, hashOptions, writeManifest } from '../stic/manifest.ts';

export interface ControlReport {
  pairs: number;
  swapped: number;
}

/** One pair with chosen/rejected (and their reference log-probs) swapped when its coin says so. */
export function controlPair(rec: Record<string, unknown>, seed: number): { record: Record<string, unknown>; swapped: boolean } {
  const id = String(rec.id);
  const swapped = seededRandom(seed, 'demo-control', id).next() < 0.5;
  const record: Record<string, unknown> = { ...rec, control_swapped: swapped };
  if (swapped) {
    record.chosen = rec.rejected;
    record.rejected = rec.chosen;
    if (rec.ref_chosen_logp !== undefined) record.ref_chosen_logp = rec.ref_rejected_logp;
    if (rec.ref_rejected_logp !== undefined) record.ref_rejected_logp = rec.ref_chosen_logp;
  }
  return { record, swapped };
}

/**
 * Writes the coin-flipped copy of `prefs` to `out` with a completion manifest (inputs: the source
 * pairs; options: the seed). The same source and seed always give the same bytes, so rewriting it
 * on a re-run leaves the control stages after it complete.
 */
export async function writeControlPairs(prefs: string, out: string, seed: number): Promise<ControlReport> {
  const lines = (await readFile(prefs, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  let swapped = 0;
  const text = lines
    .map((line) => {
      const r = controlPair(JSON.parse(line) as Record<string, unknown>, seed);
      if (r.swapped) swapped++;
      return `${JSON.stringify(r.record)}\n`;
    })
    .join('');
  await writeFileAtomic(out, text);
  const values = { control: 'coin flip per pair', seed };
  await writeManifest(out, 'pref', { source: await hashFile(prefs) }, { hash: hashOptions(values), values }, { pairs: lines.length, swapped });
  return { pairs: lines.length, swapped };
}
