// The data path of the training stages: records read and validated, image paths resolved and
// checked (a missing image skips its record, counted), prompts put in the shape training needs.
// Tokenising with the chat template happens in the engine, which owns the tokenizer.
import { access } from 'node:fs/promises';

import { InputFileError, type RecordFault, SkipLog, locate, makeFault } from '../../data/records/faults.ts';
import { imageNotFoundProblem, resolveRecordImage } from '../../data/records/image_root.ts';
import { type InstructionSample, instructionFormat } from '../../data/records/instructions.ts';
import { type Located, loadRecords } from '../../data/records/load.ts';
import { PREFERENCE_FORMATS, type PreferenceFormat, type PreferencePair, preferenceFormat, withImageToken } from '../../data/records/preference.ts';
import type { ChatMessage } from '../../model/chat_template.ts';
import { IMAGE_TOKEN } from '../../model/tokenizer.ts';
import type { DpoExample, SftExample } from '../engine_api.ts';

export interface DpoData {
  examples: DpoExample[];
  skips: SkipLog;
  /** Pairs whose stored prompt had lost the image token and got it back (public defect (b)). */
  imageTokenRestored: number;
  /** Pairs trained without the image token because --reproduce-missing-image-token was given. */
  imageTokenMissing: number;
  /** Where reference log-probs come from. */
  reference: 'stored' | 'compute';
  formats: Record<PreferenceFormat, number>;
}

export interface DpoDataOptions {
  imageRoot?: string;
  refLogps: 'auto' | 'stored' | 'compute';
  reproduceMissingImageToken: boolean;
}

export async function loadDpoData(file: string, o: DpoDataOptions): Promise<DpoData> {
  const { records, skips } = await loadRecords(file, preferenceFormat);
  const kept = await withExistingImages(records, file, o.imageRoot, skips);
  if (kept.length === 0) throw new InputFileError(file, `no usable preference pairs (${skips.headline()})`);
  const withRef = kept.filter((p) => p.refChosenLogp !== undefined).length;
  if (o.refLogps === 'stored' && withRef < kept.length) {
    const first = kept.find((p) => p.refChosenLogp === undefined) as PreferencePair & Located;
    throw new InputFileError(file, `--ref-logps stored needs "ref_chosen_logp" and "ref_rejected_logp" in every pair but ${kept.length - withRef} of ${kept.length} lack them (first: ${locate(first.file, first.line, first.id)})`);
  }
  const reference = o.refLogps === 'compute' || withRef < kept.length ? 'compute' : 'stored';
  let restored = 0;
  let missing = 0;
  const formats = Object.fromEntries(PREFERENCE_FORMATS.map((f) => [f, 0])) as Record<PreferenceFormat, number>;
  const examples = kept.map((p): DpoExample => {
    formats[p.format]++;
    let prompt = p.prompt;
    if (!p.promptHasImageToken) {
      if (o.reproduceMissingImageToken) missing++;
      else {
        prompt = withImageToken(prompt);
        restored++;
      }
    }
    return {
      id: p.id,
      image: resolveRecordImage(file, p.image, p.imageRoot, o.imageRoot).path,
      prompt,
      chosen: p.chosen,
      rejected: p.rejected,
      ...(reference === 'stored' ? { refChosenLogp: p.refChosenLogp, refRejectedLogp: p.refRejectedLogp } : {}),
    };
  });
  return { examples, skips, imageTokenRestored: restored, imageTokenMissing: missing, reference, formats };
}

export interface SftData {
  examples: SftExample[];
  skips: SkipLog;
  textOnly: number;
  /** Samples with an image whose first turn had no image token; it was put in front. */
  imageTokenAdded: number;
}

export async function loadSftData(file: string, o: { imageRoot?: string }): Promise<SftData> {
  const { records, skips } = await loadRecords(file, instructionFormat);
  const withImage = records.filter((s) => s.image !== undefined);
  const okImages = new Set(await withExistingImages(withImage as (InstructionSample & Located & { image: string })[], file, o.imageRoot, skips));
  const kept = records.filter((s) => s.image === undefined || okImages.has(s as never));
  if (kept.length === 0) throw new InputFileError(file, `no usable instruction samples (${skips.headline()})`);
  let added = 0;
  const examples = kept.map((s): SftExample => {
    const messages: ChatMessage[] = s.conversations.map((t) => ({ role: t.from === 'human' ? 'user' : 'assistant', content: t.value }));
    if (s.image !== undefined && !messages[0].content.includes(IMAGE_TOKEN)) {
      messages[0] = { ...messages[0], content: `${IMAGE_TOKEN}\n${messages[0].content}` };
      added++;
    }
    return { id: s.id, ...(s.image !== undefined ? { image: resolveRecordImage(file, s.image, s.imageRoot, o.imageRoot).path } : {}), messages };
  });
  return { examples, skips, textOnly: records.length - withImage.length, imageTokenAdded: added };
}

// The records whose image file exists; the others become "image not found" faults that say the
// path tried and how it was resolved (image_root.ts).
async function withExistingImages<T extends { id: string; image: string; imageRoot?: string } & Located>(records: T[], file: string, flagRoot: string | undefined, skips: SkipLog): Promise<T[]> {
  const ok: T[] = [];
  const faults: (RecordFault | null)[] = await Promise.all(
    records.map(async (r) => {
      const resolved = resolveRecordImage(file, r.image, r.imageRoot, flagRoot);
      try {
        await access(resolved.path);
        return null;
      } catch {
        return makeFault('image not found', r.file, r.line, r.id, imageNotFoundProblem(r.image, resolved));
      }
    }),
  );
  records.forEach((r, i) => {
    const f = faults[i];
    if (f) skips.add(f);
    else ok.push(r);
  });
  return ok;
}
