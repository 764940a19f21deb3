// Where a record's relative image path points. The files stic writes for a later stage (preference
// pairs, descriptions, infused instruction data) keep each record's `image` as the input gave it
// (the public STIC and LLaVA files store paths relative to an image folder) and add
//   "image_root": "<the folder those paths are relative to, written relative to the file's folder>"
// so that the next stage finds the images without being told where they are, from any working
// directory, and after the run folder is moved together with its images. Resolution order:
//   1. --image-root given to the reading command (it wins: images moved elsewhere),
//   2. the record's image_root, relative to the folder of the file that holds it,
//   3. the folder of that file (the public files' convention).
import path from 'node:path';

export const IMAGE_ROOT_FIELD = 'image_root';

/** How an image path was resolved, for a not-found message that says what to change. */
export interface ResolvedImage {
  /** Absolute path to read. */
  path: string;
  /** The folder it was resolved against, in words ("--image-root /data", ...). */
  against: string;
}

/** The folder a record's relative image paths resolve against, and how it was chosen (in words). */
export function recordImageRoot(file: string, recordRoot: string | undefined, flagRoot: string | undefined): { root: string; against: string } {
  if (flagRoot !== undefined) {
    const root = path.resolve(flagRoot);
    return { root, against: `--image-root ${root}` };
  }
  const fileDir = path.dirname(path.resolve(file));
  if (recordRoot !== undefined) {
    const root = path.resolve(fileDir, recordRoot);
    return { root, against: `the record's "image_root" (${root})` };
  }
  return { root: fileDir, against: `the folder of ${file}` };
}

export function resolveRecordImage(file: string, image: string, recordRoot: string | undefined, flagRoot: string | undefined): ResolvedImage {
  if (path.isAbsolute(image)) return { path: image, against: 'nothing (an absolute path)' };
  const { root, against } = recordImageRoot(file, recordRoot, flagRoot);
  return { path: path.resolve(root, image), against };
}

/** The "image not found" problem: the path tried, how it was found, and the flag that fixes it. */
export function imageNotFoundProblem(image: string, r: ResolvedImage): string {
  return `image not found: ${r.path} (${JSON.stringify(image)} resolved against ${r.against}); pass --image-root DIR, the folder the image paths are relative to`;
}

/** The `image_root` value a file written to `outFile` stores for images relative to `root`. */
export function imageRootField(outFile: string, root: string): string {
  const rel = path.relative(path.dirname(path.resolve(outFile)), path.resolve(root));
  return rel === '' ? '.' : rel.split(path.sep).join('/');
}
