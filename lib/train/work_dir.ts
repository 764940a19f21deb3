// What a training run keeps for itself lives under <out>/work/, apart from the results a user reads
// (the adapter, metrics.jsonl, charts, summary.txt, skipped.jsonl):
//   <out>/work/checkpoints/step-N/      resume state (lib/train/lora_checkpoint.ts)
//   <out>/work/reference_logps.jsonl    the reference pre-pass cache (lib/train/reference.ts)
// Deleting work/ after a run loses nothing but the ability to resume it. Runs of stic before 0.2 kept
// both at the top of <out>: adoptEarlierLayout moves them in, so those runs resume.
import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';

export const WORK_DIR = 'work';

/** `<out>/work/<name>`. */
export function workPath(out: string, name: string): string {
  return path.join(out, WORK_DIR, name);
}

/** Moves each of `names` from the top of `out` (the earlier layout) into work/, unless work/ already has it. */
export async function adoptEarlierLayout(out: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const old = path.join(out, name);
    const now = workPath(out, name);
    if (!existsSync(old) || existsSync(now)) continue;
    await mkdir(path.dirname(now), { recursive: true });
    await rename(old, now);
  }
}
