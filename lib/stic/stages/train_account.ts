// What a training stage did with its records, so that nothing is dropped silently: records left out
// while reading (malformed, image not found) and while tokenising (prompt too long, ...) are counted
// together by kind in the printed summary and summary.txt and listed in <out>/skipped.jsonl; records
// cut to --max-length are counted too. A run that would train on fewer than --min-kept of the
// records it read stops before training, with the counts by reason.
import { rm } from 'node:fs/promises';
import path from 'node:path';

import { SkipLog, makeFault } from '../../data/records/faults.ts';
import { isWriter } from '../../dist/launch.ts';
import { writeFileAtomic } from '../../util/atomic_write.ts';
import type { TrainDataReport, TrainHooks, TrainResult } from '../engine_api.ts';
import type { TrainRunOutput } from './train_run.ts';

export const SKIPPED_FILE = 'skipped.jsonl';

export class TrainAccount {
  readonly skips = new SkipLog();
  truncated = 0;

  /**
   * @param file   the data file (messages name it)
   * @param total  records read from it, usable or not
   * @param noun   "pairs" / "samples"
   */
  constructor(
    readonly stage: string,
    readonly file: string,
    readonly total: number,
    readonly noun: string,
    loaded: SkipLog,
  ) {
    this.skips.addAll(loaded);
    this.loadedCount = loaded.count;
  }

  private readonly loadedCount: number;

  /** Adds the trainer's skips and truncations (replacing any added before: each report is complete). */
  addTraining(r: Pick<TrainDataReport, 'skipped' | 'truncated'>): void {
    this.skips.faults.length = this.loadedCount;
    for (const s of r.skipped) this.skips.add(makeFault(s.kind, this.file, undefined, s.id, s.reason));
    this.truncated = r.truncated.length;
  }

  /** Records trained on: those read, less every skip. */
  get trained(): number {
    return this.total - this.skips.count;
  }

  /** Throws when fewer than minKept of the records would be trained on (counts by reason). */
  checkKept(kept: number, dataSkipped: TrainDataReport['skipped'], minKept: number): void {
    if (kept >= minKept * this.total) return;
    const all = new SkipLog();
    all.addAll(this.skips);
    for (const s of dataSkipped) all.add(makeFault(s.kind, this.file, undefined, s.id, s.reason));
    const first = all.faults[0] ? `; first: ${all.faults[0].message}` : '';
    throw new Error(
      `${this.stage}: would train on ${kept} of the ${this.total} ${this.noun} in ${this.file} (${percent(kept, this.total)}), fewer than --min-kept ${minKept} (${percent(minKept, 1)}): ${all.headline(this.noun)}${first}. ` +
        'Fix the data, raise --max-length, or lower --min-kept to train on what is left',
    );
  }

  /** "7 of 8 trained on (1 pairs skipped (1 image not found); 2 truncated to --max-length)". */
  headline(): string {
    const parts = [this.skips.headline(this.noun)];
    if (this.truncated) parts.push(`${this.truncated} truncated to --max-length`);
    return `${this.trained} of ${this.total} trained on (${parts.join('; ')})`;
  }

  /** The skip messages for the printed report (first few). */
  report(max = 5): string[] {
    return this.skips.count ? this.skips.report(max, this.noun).map((l) => `${this.stage}: ${l}`) : [];
  }

  /** <out>/skipped.jsonl: every skipped record with kind, location and reason; removed when none. */
  async write(out: string): Promise<void> {
    if (!isWriter()) return; // rank 0 alone writes (lib/dist)
    const file = path.join(out, SKIPPED_FILE);
    if (this.skips.count === 0) {
      await rm(file, { force: true });
      return;
    }
    await writeFileAtomic(file, this.skips.faults.map((f) => `${JSON.stringify({ id: f.id, kind: f.kind, file: f.file, ...(f.line !== undefined ? { line: f.line } : {}), reason: f.message })}\n`).join(''));
  }
}

// Runs training with the --min-kept check between tokenisation and the first step; the summary's
// count line includes every record skipped or truncated, all listed in <out>/skipped.jsonl (also
// when the check stops the run).
export async function trainAccounted(
  account: TrainAccount,
  out: string,
  minKept: number,
  train: (header: (r: TrainResult) => [string, string], onData: TrainHooks['onData']) => Promise<TrainRunOutput>,
): Promise<TrainRunOutput> {
  const header = (r: TrainResult): [string, string] => {
    account.addTraining(r);
    return [account.noun, account.headline()];
  };
  const run = await train(header, async (d) => {
    try {
      account.checkKept(d.kept, d.skipped, minKept);
    } catch (err) {
      account.addTraining(d);
      await account.write(out);
      throw err;
    }
  });
  await account.write(out);
  return run;
}

function percent(a: number, b: number): string {
  return `${Math.round((1000 * a) / Math.max(1, b)) / 10}%`;
}
