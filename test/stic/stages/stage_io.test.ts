// Loading a stage's images as record-level faults: each message says the problem once, with the
// path tried (issue 19: "cannot read image X: Cannot load image X: ..." said the path twice).
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { loadImage } from '../../../lib/data/image_load.ts';
import type { ImageApi } from '../../../lib/stic/engine_api.ts';
import { loadRecordImage } from '../../../lib/stic/stages/stage_io.ts';

describe('stage image loading', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-stageio-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('an unreadable image is reported once, by the decoder\'s own message', async () => {
    const file = path.join(dir, 'broken.png');
    writeFileSync(file, 'not a png');
    const api = { load: (p: string) => loadImage(p) } as unknown as ImageApi;
    const fault = await loadRecordImage(api, { id: 'b', path: file, file: 'list.txt', line: 3 });
    expect(fault).to.have.property('kind', 'image unreadable');
    const message = (fault as { message: string }).message;
    expect(message.startsWith(`list.txt:3 (id "b"): Cannot load image ${file}: `), message).to.equal(true);
    expect(message.split(file).length - 1).to.equal(1);
  });

  it('a missing image names the path tried, what it was resolved against and the flag that fixes it', async () => {
    const file = path.join(dir, 'gone.png');
    const api = { load: () => Promise.reject(new Error('not called')) } as unknown as ImageApi;
    const fault = await loadRecordImage(api, { id: 'g', path: file, file: 'd.json', line: 2, resolved: { image: 'gone.png', against: `--image-root ${dir}` } });
    expect((fault as { message: string }).message).to.equal(`d.json:2 (id "g"): image not found: ${file} ("gone.png" resolved against --image-root ${dir}); pass --image-root DIR, the folder the image paths are relative to`);
  });
});
