// openCheckpoint: one merged view over a single file or the shards of model.safetensors.index.json,
// with the errors of a broken sharded checkpoint (missing shard, index/shard disagreement,
// duplicate names across shards) asserted exactly.
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { type TensorToWrite, openCheckpoint, readTensor, readTensors, writeSafetensors } from '../../lib/model/safetensors.ts';
import { makeRng } from '../helpers/rng.ts';
import { makeTempDir, rejectionOf } from './safetensors_util.ts';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'hf');

describe('safetensors checkpoints', () => {
  let root: string;
  let cleanup: () => void;
  before(() => ({ dir: root, cleanup } = makeTempDir()));
  after(() => cleanup());
  const rng = makeRng(99);
  let count = 0;

  const f32 = (name: string, n: number): TensorToWrite => ({ name, dtype: 'F32', shape: [n], data: rng.normalArray(n) });

  // A sharded checkpoint in a fresh directory: shards {file: tensors} and a weight_map (by default, the true one).
  async function sharded(shards: Record<string, TensorToWrite[]>, weightMap?: Record<string, string>): Promise<string> {
    const dir = path.join(root, `ck${count++}`);
    mkdirSync(dir);
    const map: Record<string, string> = {};
    for (const [file, tensors] of Object.entries(shards)) {
      await writeSafetensors(path.join(dir, file), tensors, { format: 'pt', shard: file });
      for (const t of tensors) map[t.name] = file;
    }
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap ?? map }));
    return dir;
  }

  it('merges the shards of an index into one view whose entries read back their data', async () => {
    const a = [f32('model.embed', 12), f32('model.layers.0.w', 7)];
    const b = [f32('model.layers.1.w', 5), f32('lm_head.weight', 9)];
    const dir = await sharded({ 'model-00001-of-00002.safetensors': a, 'model-00002-of-00002.safetensors': b });
    for (const target of [dir, path.join(dir, 'model.safetensors.index.json')]) {
      const ck = await openCheckpoint(target);
      expect(ck.path).to.equal(path.join(dir, 'model.safetensors.index.json'));
      expect(ck.files).to.deep.equal([path.join(dir, 'model-00001-of-00002.safetensors'), path.join(dir, 'model-00002-of-00002.safetensors')]);
      expect(ck.metadata).to.deep.equal({ format: 'pt', shard: 'model-00001-of-00002.safetensors' });
      expect([...ck.tensors.keys()]).to.deep.equal([...a, ...b].map((t) => t.name));
      for (const t of [...a, ...b]) {
        const e = ck.tensors.get(t.name)!;
        expect(path.basename(e.file)).to.equal(a.includes(t) ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors');
        expect(Array.from(await readTensor(e, { as: 'F32' })), t.name).to.deep.equal(Array.from(t.data as Float32Array));
      }
    }
  });

  it('one batched read across shards, files interleaved (each file mapped again when it returns)', async () => {
    const a = [f32('a0', 3), f32('a1', 4)];
    const b = [f32('b0', 5), f32('b1', 6)];
    const dir = await sharded({ 'sa.safetensors': a, 'sb.safetensors': b });
    const ck = await openCheckpoint(dir);
    const order = [a[1], b[0], a[0], b[1], a[1]];
    const got = await readTensors(order.map((t) => ck.tensors.get(t.name)!), { as: 'F32' });
    order.forEach((t, i) => expect(Array.from(got[i]), `${i}: ${t.name}`).to.deep.equal(Array.from(t.data as Float32Array)));
  });

  it('opens a directory with model.safetensors, a single other *.safetensors, or a file path', async () => {
    const ck = await openCheckpoint(path.join(fixtures, 'llava-tiny-llama'));
    expect(path.basename(ck.path)).to.equal('model.safetensors');
    expect(ck.tensors.size).to.equal(80);
    expect(ck.metadata).to.deep.equal({ format: 'pt' });
    const adapter = await openCheckpoint(path.join(fixtures, 'llava-tiny-llama', 'adapter'));
    expect(path.basename(adapter.path)).to.equal('adapter_model.safetensors');
    expect(adapter.tensors.size).to.equal(28);
    const legacy = await openCheckpoint(path.join(fixtures, 'llava-tiny-llama', 'legacy-names.safetensors'));
    expect([...legacy.tensors.keys()].some((k) => k.startsWith('vision_tower.vision_model.'))).to.equal(true);
  });

  it('a directory with no checkpoint, or several files and no index', async () => {
    const empty = path.join(root, 'empty');
    mkdirSync(empty);
    let err = await rejectionOf(openCheckpoint(empty));
    expect(err.message).to.equal(`${empty}: expected model.safetensors.index.json, model.safetensors or a single *.safetensors file but found no .safetensors file`);
    const two = path.join(root, 'two');
    mkdirSync(two);
    await writeSafetensors(path.join(two, 'b.safetensors'), [f32('x', 1)]);
    await writeSafetensors(path.join(two, 'a.safetensors'), [f32('y', 1)]);
    err = await rejectionOf(openCheckpoint(two));
    expect(err.message).to.equal(`${two}: expected model.safetensors.index.json, model.safetensors or a single *.safetensors file but found 2 .safetensors files (a.safetensors, b.safetensors) and no index`);
    const nowhere = path.join(root, 'nowhere');
    err = await rejectionOf(openCheckpoint(nowhere));
    expect(err.message).to.equal(`${nowhere}: no such file or directory`);
  });

  it('missing shard file listed in the index', async () => {
    const dir = await sharded({ 's1.safetensors': [f32('a', 2)] }, { a: 's1.safetensors', b: 's2.safetensors' });
    const err = await rejectionOf(openCheckpoint(dir));
    const index = path.join(dir, 'model.safetensors.index.json');
    expect(err.message).to.equal(`${index}: shard "s2.safetensors" (listed in weight_map for tensor "b") does not exist at ${path.join(dir, 's2.safetensors')}`);
  });

  it('index naming a tensor that its shard does not contain', async () => {
    const dir = await sharded({ 's1.safetensors': [f32('a', 2)], 's2.safetensors': [f32('b', 3)] }, { a: 's1.safetensors', b: 's1.safetensors' });
    const err = await rejectionOf(openCheckpoint(dir));
    const index = path.join(dir, 'model.safetensors.index.json');
    expect(err.message).to.equal(`${index}: weight_map puts tensor "b" in shard "s1.safetensors", but ${path.join(dir, 's1.safetensors')} has no tensor "b"`);
  });

  it('duplicate tensor names across shards', async () => {
    const dir = await sharded({ 's1.safetensors': [f32('a', 2), f32('dup', 4)], 's2.safetensors': [f32('dup', 4), f32('b', 1)] });
    const err = await rejectionOf(openCheckpoint(dir));
    const index = path.join(dir, 'model.safetensors.index.json');
    expect(err.message).to.equal(`${index}: duplicate tensor name "dup": in ${path.join(dir, 's1.safetensors')} and ${path.join(dir, 's2.safetensors')}`);
  });

  it('a malformed index', async () => {
    const dir = path.join(root, 'badindex');
    mkdirSync(dir);
    const index = path.join(dir, 'model.safetensors.index.json');
    writeFileSync(index, JSON.stringify({ metadata: {} }));
    let err = await rejectionOf(openCheckpoint(dir));
    expect(err.message).to.equal(`${index}: expected "weight_map" to be an object of tensor name -> shard file but the index has none`);
    writeFileSync(index, JSON.stringify({ weight_map: { a: 3 } }));
    err = await rejectionOf(openCheckpoint(dir));
    expect(err.message).to.equal(`${index}: weight_map["a"] must be a shard file name but is a number (3)`);
    writeFileSync(index, JSON.stringify({ weight_map: [] }));
    err = await rejectionOf(openCheckpoint(dir));
    expect(err.message).to.equal(`${index}: expected "weight_map" to be an object of tensor name -> shard file but found an array`);
    const bad = '{"weight_map": ';
    writeFileSync(index, bad);
    err = await rejectionOf(openCheckpoint(dir));
    let parseMessage = '';
    try {
      JSON.parse(bad);
    } catch (e) {
      parseMessage = (e as Error).message;
    }
    expect(err.message).to.equal(`${index}: index is not valid JSON (${parseMessage})`);
  });

  it('a shard with a broken header reports the shard file', async () => {
    const dir = await sharded({ 's1.safetensors': [f32('a', 2)] });
    writeFileSync(path.join(dir, 's1.safetensors'), Buffer.from([1, 0, 0]));
    const err = await rejectionOf(openCheckpoint(dir));
    expect(err.message).to.equal(`${path.join(dir, 's1.safetensors')}: truncated: expected at least 8 bytes (the header length) but the file has 3`);
  });
});
