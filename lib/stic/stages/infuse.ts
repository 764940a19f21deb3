// Stage 2b data: each instruction sample's first human turn gets the model's own description of
// its image, right after the image token (STIC.md stage 2b):
//   "<image>\nImage description:\n{description}\n\n{original question}"
// (prepended when the turn has no image token). Descriptions are joined to samples by sample id
// (or, for description files without ids, by image path) and never by list position: a shuffled,
// filtered or partially resumed description file still lands on the right samples. executeInfuse is the
// stage as `stic infuse` and `stic run` call it: read both files, infuse, write the output atomically.
import { SkipLog } from '../../data/records/faults.ts';
import { IMAGE_ROOT_FIELD, imageRootField, recordImageRoot } from '../../data/records/image_root.ts';
import { IMAGE_TOKEN } from '../../model/tokenizer.ts';
import { type DescriptionRecord, descriptionFormat } from '../../data/records/descriptions.ts';
import { type InstructionSample, instructionFormat } from '../../data/records/instructions.ts';
import { type Located, loadRecords } from '../../data/records/load.ts';
import { formatInfusion } from '../../data/prompts.ts';
import { writeJsonAtomic } from '../../util/atomic_write.ts';
import type { InfuseOptions } from '../stage_options.ts';
import type { StageEnv, StageResult } from './stage_io.ts';

export async function executeInfuse(env: StageEnv, o: InfuseOptions, out: string): Promise<StageResult & { infuse: InfuseReport }> {
  const samples = await loadRecords(o.instructions, instructionFormat);
  const descs = await loadRecords(o.descriptions, descriptionFormat(o.joinBy === 'id'));
  // Each written sample says where its image is, so stic sft needs no --image-root (image_root.ts).
  const imageRootOf = (s: InstructionSample, d?: DescriptionRecord): string => {
    const from = o.imageRoot === undefined && d?.image_root !== undefined ? recordImageRoot(o.descriptions, d.image_root, undefined) : recordImageRoot(o.instructions, s.imageRoot, o.imageRoot);
    return imageRootField(out, from.root);
  };
  const { output, report } = infuseSamples(samples.records, descs.records, { missing: o.missing, joinBy: o.joinBy, template: env.prompts.infusion, imageRootOf });
  await writeJsonAtomic(out, output);
  const skips = new SkipLog();
  skips.addAll(samples.skips);
  skips.addAll(descs.skips);
  const lines = [
    `infuse: ${report.written} samples written to ${out} (${report.infused} with a description, ${report.textOnly} text-only unchanged${o.missing === 'keep' ? `, ${report.missing.length} without a description kept unchanged` : ''})`,
  ];
  if (report.missing.length) lines.push(`infuse: ${report.missing.length} samples with an image have no description${o.missing === 'drop' ? ' and were left out' : ''}: ${idSample(report.missing)}`);
  if (report.unused.length) lines.push(`infuse: ${report.unused.length} descriptions match no sample: ${idSample(report.unused)}`);
  if (report.ambiguous) lines.push(`infuse: ${report.ambiguous} samples matched several descriptions by image; the first in file order was used`);
  lines.push(...skips.report(5).map((l) => `infuse: ${l}`));
  return {
    report: `${lines.join('\n')}\n`,
    infuse: report,
    counts: { samples: report.samples, written: report.written, infused: report.infused, missing: report.missing.length, unused: report.unused.length, skipped: skips.count },
  };
}

export interface InfuseSettings {
  missing: 'drop' | 'keep' | 'error';
  joinBy: 'id' | 'image';
  /** The infusion template ("Image description:\n{description}\n\n" by default). */
  template: string;
  /** The image_root written into a sample with an image (image_root.ts); none when absent. */
  imageRootOf?: (sample: InstructionSample, description?: DescriptionRecord) => string;
}

export interface InfuseReport {
  samples: number;
  written: number;
  infused: number;
  /** Samples without an image: nothing to describe, written unchanged. */
  textOnly: number;
  /** Ids of samples with an image but no description (dropped or kept per `missing`). */
  missing: string[];
  /** Ids of descriptions that matched no sample. */
  unused: string[];
  /** Samples that several descriptions matched (join by image); the first in file order was used. */
  ambiguous: number;
}

/** The first human turn with the infusion text placed right after the image token. */
export function insertDescription(turn: string, infusion: string): string {
  const at = turn.indexOf(IMAGE_TOKEN);
  if (at < 0) return infusion + turn;
  const end = at + IMAGE_TOKEN.length;
  // "<image>\n..." keeps its newline before the description; a token not followed by one gets one.
  if (turn[end] === '\n') return turn.slice(0, end + 1) + infusion + turn.slice(end + 1);
  return `${turn.slice(0, end)}\n${infusion}${turn.slice(end)}`;
}

export function infuseSamples(samples: readonly InstructionSample[], descriptions: readonly (DescriptionRecord & Partial<Located>)[], s: InfuseSettings): { output: object[]; report: InfuseReport } {
  const lookup = s.joinBy === 'id' ? byId(descriptions) : byImage(descriptions);
  const used = new Set<DescriptionRecord>();
  const report: InfuseReport = { samples: samples.length, written: 0, infused: 0, textOnly: 0, missing: [], unused: [], ambiguous: 0 };
  const output: object[] = [];
  for (const sample of samples) {
    if (sample.image === undefined) {
      report.textOnly++;
      output.push(sample.raw);
      continue;
    }
    const matches = lookup(sample);
    const rooted = (raw: object, d?: DescriptionRecord) => (s.imageRootOf ? { ...raw, [IMAGE_ROOT_FIELD]: s.imageRootOf(sample, d) } : raw);
    if (matches.length === 0) {
      report.missing.push(sample.id);
      if (s.missing === 'keep') output.push(rooted(sample.raw));
      continue;
    }
    if (matches.length > 1) report.ambiguous++;
    const d = matches[0];
    used.add(d);
    const conversations = (sample.raw.conversations as { value: string }[]).map((t, i) => (i === 0 ? { ...t, value: insertDescription(t.value, formatInfusion(s.template, d.description)) } : t));
    output.push(rooted({ ...sample.raw, conversations }, d));
    report.infused++;
  }
  report.unused = descriptions.filter((d) => !used.has(d)).map((d) => d.id);
  if (s.missing === 'error' && report.missing.length > 0) {
    throw new Error(`${report.missing.length} samples with an image have no description (--missing error): ${idSample(report.missing)}`);
  }
  report.written = output.length;
  return { output, report };
}

function byId(ds: readonly DescriptionRecord[]): (s: InstructionSample) => DescriptionRecord[] {
  const m = new Map(ds.map((d) => [d.id, d]));
  return (s) => {
    const d = m.get(s.id);
    return d ? [d] : [];
  };
}

// Description image paths are often longer than the sample's (the public files store
// "<image dir>/<sample image>"), so a description matches a sample whose image path is equal to it
// or is a whole-component suffix of it.
function byImage(ds: readonly DescriptionRecord[]): (s: InstructionSample) => DescriptionRecord[] {
  const m = new Map<string, DescriptionRecord[]>();
  for (const d of ds) {
    const parts = normalise(d.image).split('/');
    for (let i = 0; i < parts.length; i++) {
      const key = parts.slice(i).join('/');
      m.set(key, [...(m.get(key) ?? []), d]);
    }
  }
  return (s) => m.get(normalise(s.image as string)) ?? [];
}

function normalise(p: string): string {
  return p.replace(/\\/g, '/').replace(/^(\.\/)+/, '').replace(/\/+/g, '/');
}

/** "3 ids: a, b, c" or the first 10 of many. */
export function idSample(ids: readonly string[], max = 10): string {
  const shown = ids.slice(0, max).map((i) => JSON.stringify(i)).join(', ');
  return ids.length > max ? `${shown}, ... (${ids.length} in all)` : shown;
}
