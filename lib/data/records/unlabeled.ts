// The unlabeled images of stage 1a, from any of:
// - a folder: every image file below it (recursively), in sorted path order; id = path relative to
//   the folder (posix separators);
// - a JSON array or JSONL file whose records are image paths (strings, like the public STIC
//   "6k_coco_names.json") or objects with an `image` field and optional `id` (e.g. LLaVA data);
// - a plain list file: one image path per line, blank lines and "# comments" ignored.
// Relative paths are resolved against the image root (default: the folder itself, or the list
// file's folder). Whether an image is readable is checked when it is loaded (a record-level fault).
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

import { InputFileError, RecordError, SkipLog, ioProblem, makeFault } from './faults.ts';
import { asObject, idField, peekId, stringField } from './fields.ts';
import { readRecords } from './read.ts';
import { IMAGE_EXTENSIONS } from '../image_load.ts';

export interface UnlabeledImage {
  id: string;
  /** The image as written in the input (stored in the output records). */
  image: string;
  /** Absolute path to read. */
  path: string;
  /** Where it was listed: the list file and line, or the image file itself (no line). */
  file: string;
  line?: number;
}

export interface UnlabeledSet {
  root: string;
  images: UnlabeledImage[];
  skips: SkipLog;
}

export async function listUnlabeledImages(source: string, opts: { imageRoot?: string } = {}): Promise<UnlabeledSet> {
  let isDir: boolean;
  try {
    isDir = (await stat(source)).isDirectory();
  } catch (err) {
    throw new InputFileError(source, `cannot read the image source (${ioProblem(err)})`);
  }
  const root = path.resolve(opts.imageRoot ?? (isDir ? source : path.dirname(source)));
  const skips = new SkipLog();
  const listed = isDir ? await fromFolder(source, root) : await fromFile(source, root, skips);
  const seen = new Map<string, UnlabeledImage>();
  const images: UnlabeledImage[] = [];
  for (const im of listed) {
    const first = seen.get(im.id);
    if (first) {
      skips.add(makeFault('duplicate id', im.file, im.line, im.id, `duplicate image id (first listed ${first.line === undefined ? 'in the folder' : `on line ${first.line}`}); skipped`));
      continue;
    }
    seen.set(im.id, im);
    images.push(im);
  }
  if (images.length === 0) {
    throw new InputFileError(source, `no usable images (${isDir ? `no files ending in ${IMAGE_EXTENSIONS.join(', ')}` : skips.count ? skips.headline() : 'the list is empty'})`);
  }
  return { root, images, skips };
}

async function fromFolder(dir: string, root: string): Promise<UnlabeledImage[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const rels = entries
    .filter((e) => e.isFile() && IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase()))
    .map((e) => path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).split(path.sep).join('/'))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return rels.map((rel) => {
    const abs = path.join(path.resolve(dir), rel);
    return { id: rel, image: path.relative(root, abs).split(path.sep).join('/'), path: abs, file: abs };
  });
}

async function fromFile(file: string, root: string, skips: SkipLog): Promise<UnlabeledImage[]> {
  const head = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  const first = /\S/.exec(head)?.[0];
  if (first === '[' || first === '{') return fromRecords(file, root, skips);
  return head.split(/\r?\n/).flatMap((raw, i) => {
    const image = raw.trim();
    if (image === '' || image.startsWith('#')) return [];
    return [{ id: image, image, path: path.resolve(root, image), file, line: i + 1 }];
  });
}

async function fromRecords(file: string, root: string, skips: SkipLog): Promise<UnlabeledImage[]> {
  const out: UnlabeledImage[] = [];
  for await (const item of readRecords(file)) {
    if (!item.ok) {
      skips.add(item.fault);
      continue;
    }
    const { line, value } = item.record;
    try {
      let image: string;
      let id: string;
      if (typeof value === 'string') {
        if (value.trim() === '') throw new RecordError('expected a non-empty image path but received ""');
        image = id = value;
      } else {
        const o = asObject(value);
        image = stringField(o, 'image', { nonEmpty: true });
        id = o.id === undefined ? image : idField(o);
      }
      out.push({ id, image, path: path.resolve(root, image), file, line });
    } catch (err) {
      if (!(err instanceof RecordError)) throw err;
      skips.add(makeFault(err.kind, file, line, peekId(value), err.message));
    }
  }
  return out;
}
