// Stage-1a image sources: a folder, a list file, a JSON array of names, a JSONL of {id?, image}.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { listUnlabeledImages } from '../../../lib/data/records/unlabeled.ts';
import { rejectionOf } from '../../helpers/rejection.ts';

describe('unlabeled image sources', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-unlab-'));
    mkdirSync(path.join(dir, 'imgs', 'b'), { recursive: true });
    for (const f of ['imgs/z.PNG', 'imgs/a.jpg', 'imgs/b/c.webp', 'imgs/notes.txt', 'imgs/b/d.jpeg']) writeFileSync(path.join(dir, f), 'x');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a folder: image files below it in sorted order, ids relative to it', async () => {
    const set = await listUnlabeledImages(path.join(dir, 'imgs'));
    expect(set.root).to.equal(path.join(dir, 'imgs'));
    expect(set.images.map((i) => [i.id, i.image, i.path])).to.deep.equal([
      ['a.jpg', 'a.jpg', path.join(dir, 'imgs/a.jpg')],
      ['b/c.webp', 'b/c.webp', path.join(dir, 'imgs/b/c.webp')],
      ['b/d.jpeg', 'b/d.jpeg', path.join(dir, 'imgs/b/d.jpeg')],
      ['z.PNG', 'z.PNG', path.join(dir, 'imgs/z.PNG')],
    ]);
  });

  it('a list file: one path per line, comments and blanks ignored, duplicates skipped with the first line', async () => {
    const list = path.join(dir, 'list.txt');
    writeFileSync(list, '# the 6k subset\nimgs/a.jpg\n\n  imgs/b/c.webp  \nimgs/a.jpg\n/abs/elsewhere.png\n');
    const set = await listUnlabeledImages(list);
    expect(set.images.map((i) => [i.id, i.path, i.line])).to.deep.equal([
      ['imgs/a.jpg', path.join(dir, 'imgs/a.jpg'), 2],
      ['imgs/b/c.webp', path.join(dir, 'imgs/b/c.webp'), 4],
      ['/abs/elsewhere.png', '/abs/elsewhere.png', 6],
    ]);
    expect(set.skips.faults.map((f) => f.message)).to.deep.equal([`${list}:5 (id "imgs/a.jpg"): duplicate image id (first listed on line 2); skipped`]);
  });

  it('a JSON array of names (like the public 6k_coco_names.json) with --image-root', async () => {
    const names = path.join(dir, 'names.json');
    writeFileSync(names, '[\n "a.jpg",\n "b/d.jpeg"\n]');
    const set = await listUnlabeledImages(names, { imageRoot: path.join(dir, 'imgs') });
    expect(set.images.map((i) => [i.id, i.path, i.line])).to.deep.equal([
      ['a.jpg', path.join(dir, 'imgs/a.jpg'), 2],
      ['b/d.jpeg', path.join(dir, 'imgs/b/d.jpeg'), 3],
    ]);
  });

  it('JSONL records with id and image; bad records counted', async () => {
    const file = path.join(dir, 'recs.jsonl');
    writeFileSync(file, '{"id": 7, "image": "imgs/a.jpg"}\n{"image": "imgs/z.PNG"}\n{"id": "x"}\n"imgs/b/c.webp"\n');
    const set = await listUnlabeledImages(file);
    expect(set.images.map((i) => i.id)).to.deep.equal(['7', 'imgs/z.PNG', 'imgs/b/c.webp']);
    expect(set.skips.faults.map((f) => f.message)).to.deep.equal([`${file}:3 (id "x"): expected a non-empty string for "image" but received nothing`]);
  });

  it('file-level errors: missing source, empty folder, empty list', async () => {
    const missing = path.join(dir, 'nope');
    expect((await rejectionOf(listUnlabeledImages(missing))).message).to.equal(`${missing}: cannot read the image source (file not found)`);
    const empty = path.join(dir, 'empty');
    mkdirSync(empty);
    expect((await rejectionOf(listUnlabeledImages(empty))).message).to.equal(
      `${empty}: no usable images (no files ending in .jpg, .jpeg, .jpe, .jfif, .png, .webp, .gif, .tif, .tiff, .avif)`,
    );
    const blank = path.join(dir, 'blank.txt');
    writeFileSync(blank, '# nothing\n');
    expect((await rejectionOf(listUnlabeledImages(blank))).message).to.equal(`${blank}: no usable images (the list is empty)`);
  });
});
