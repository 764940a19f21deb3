// Image descriptions (stage 2a output, stage 2b input), JSONL: {id, image, image_root, prompt,
// description} (image_root: the folder `image` is relative to, relative to the file's folder).
// `id` is the instruction sample's id, the key infuse joins on. The public STIC description files
// have no id ({image, prompt, description}); they are read with `requireId: false` and joined by
// image path instead.
import { RecordError } from './faults.ts';
import { asObject, idField, optionalString, stringField } from './fields.ts';
import { IMAGE_ROOT_FIELD } from './image_root.ts';
import type { RecordFormat } from './load.ts';

export interface DescriptionRecord {
  id: string;
  image: string;
  image_root?: string;
  prompt: string;
  description: string;
}

export function parseDescription(value: unknown, requireId = true): DescriptionRecord {
  const o = asObject(value);
  const image = stringField(o, 'image', { nonEmpty: true });
  const imageRoot = optionalString(o, IMAGE_ROOT_FIELD);
  const id = requireId || o.id !== undefined ? idField(o) : image;
  const prompt = stringField(o, 'prompt');
  const description = stringField(o, 'description');
  if (description.trim() === '') throw new RecordError('expected a non-empty "description" but it is blank', 'empty description');
  return { id, image, ...(imageRoot !== undefined ? { image_root: imageRoot } : {}), prompt, description };
}

export function descriptionFormat(requireId = true): RecordFormat<DescriptionRecord> {
  return { noun: 'descriptions', parse: (v) => parseDescription(v, requireId), id: (d) => d.id };
}
