// Comparing two `stic run` folders file by file: what the kill-and-resume tests share.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

export function jsonl(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Every file under dir (relative paths, sorted). */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

/**
 * A file's content for comparing two runs: bytes, except for what records wall-clock facts, which
 * is dropped: tokens_per_s in metrics rows, finishedAt in stage manifests, the output hash of a
 * training stage's manifest (it covers metrics.jsonl), and the throughput panel of training charts (the PNG is the SVG
 * rasterised: only its signature is compared).
 */
export function comparable(file: string): Buffer | string {
  if (file.endsWith('metrics.jsonl')) return jsonl(file).map(({ tokens_per_s: _t, ...row }) => JSON.stringify(row)).join('\n');
  if (file.endsWith('.done.json')) {
    const { finishedAt: _f, output, ...m } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    return JSON.stringify({ ...m, output: ['dpo', 'sft'].includes(m.stage as string) ? null : output });
  }
  if (file.endsWith('training.svg')) return readFileSync(file, 'utf8').replace(/<g class="panel" data-title="throughput \(tokens\/s\)">[\s\S]*?<\/g>/, '');
  if (file.endsWith('training.png')) return readFileSync(file).subarray(0, 8);
  return readFileSync(file);
}
