// writeSafetensors: write -> read round trips for every dtype on random data, the on-disk layout
// (8-byte aligned, space-padded header; contiguous tensors in the given order), the atomic replace,
// and the writer's own validation errors.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { DTypeName } from '../../lib/model/dtype.ts';
import { dtypeSize } from '../../lib/model/dtype.ts';
import { type TensorToWrite, openSafetensors, readTensors, writeSafetensors } from '../../lib/model/safetensors.ts';
import { makeRng } from '../helpers/rng.ts';
import { makeTempDir, randomBytesSeeded, rejectionOf } from './safetensors_util.ts';

describe('safetensors writes', () => {
  let dir: string;
  let cleanup: () => void;
  before(() => ({ dir, cleanup } = makeTempDir()));
  after(() => cleanup());
  const rng = makeRng(2024);

  // Random bytes cover every bit pattern (NaNs and infinities included): the round trip is bytes.
  function randomTensor(name: string, dtype: DTypeName, shape: number[]): TensorToWrite & { data: ArrayBufferView } {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = randomBytesSeeded(n * dtypeSize(dtype), rng.next);
    return { name, dtype, shape, data };
  }

  it('round-trips every dtype bit-exactly, scalars and empty tensors included', async () => {
    const dtypes: DTypeName[] = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'U8'];
    const tensors: (TensorToWrite & { data: ArrayBufferView })[] = [];
    for (const dt of dtypes) {
      tensors.push(randomTensor(`t.${dt}.matrix`, dt, [rng.int(1, 9), rng.int(1, 33)]));
      tensors.push(randomTensor(`t.${dt}.odd`, dt, [3, 1, 5, 7])); // odd byte counts for U8
    }
    tensors.push(randomTensor('scalar', 'F32', []));
    tensors.push(randomTensor('empty', 'BF16', [0, 4]));
    const file = path.join(dir, 'all.safetensors');
    const metadata = { format: 'pt', note: 'ünïcode ✓' };
    await writeSafetensors(file, tensors, metadata);

    const st = await openSafetensors(file);
    expect(st.metadata).to.deep.equal(metadata);
    expect([...st.tensors.keys()]).to.deep.equal(tensors.map((t) => t.name));
    const back = await readTensors([...st.tensors.values()]);
    tensors.forEach((t, i) => {
      const e = st.tensors.get(t.name)!;
      expect([e.dtype, e.shape], t.name).to.deep.equal([t.dtype, t.shape]);
      const got = Buffer.from(back[i].buffer, back[i].byteOffset, back[i].byteLength);
      expect(got.equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), t.name).to.equal(true);
    });
  });

  it('pads the header with spaces to 8-byte alignment and lays tensors out contiguously in order', async () => {
    for (const nameLen of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const file = path.join(dir, `align${nameLen}.safetensors`);
      const tensors = [randomTensor('x'.repeat(nameLen), 'U8', [3]), randomTensor('b', 'F64', [2]), randomTensor('a', 'U8', [1])];
      await writeSafetensors(file, tensors);
      const bytes = readFileSync(file);
      const n = Number(bytes.readBigUInt64LE(0));
      expect((8 + n) % 8, `name length ${nameLen}`).to.equal(0);
      const text = bytes.subarray(8, 8 + n).toString('utf8');
      expect(/^[^ ]*\} *$/.test(text), 'only spaces after the JSON').to.equal(true);
      const header = JSON.parse(text) as Record<string, { data_offsets: [number, number] }>;
      expect(tensors.map((t) => header[t.name].data_offsets)).to.deep.equal([[0, 3], [3, 19], [19, 20]]);
      expect(bytes.length).to.equal(8 + n + 20);
      expect(bytes.subarray(8 + n + 3, 8 + n + 19).equals(Buffer.from(tensors[1].data.buffer))).to.equal(true);
    }
  });

  it('data given as functions is produced a tensor at a time, in order, and gives the same bytes', async () => {
    const tensors = [randomTensor('a', 'BF16', [5, 7]), randomTensor('b', 'U8', [3]), randomTensor('c', 'F32', [2, 2])];
    const eager = path.join(dir, 'eager.safetensors');
    const lazy = path.join(dir, 'lazy.safetensors');
    await writeSafetensors(eager, tensors, { format: 'pt' });
    const calls: string[] = [];
    await writeSafetensors(lazy, tensors.map((t) => ({ ...t, data: async () => (calls.push(t.name), t.data) })), { format: 'pt' });
    expect(calls).to.deep.equal(['a', 'b', 'c']);
    expect(readFileSync(lazy).equals(readFileSync(eager))).to.equal(true);
    const wrong = [{ name: 'w', dtype: 'F32' as const, shape: [3], data: () => new Float32Array(4) }];
    const err = await rejectionOf(writeSafetensors(path.join(dir, 'wrong.safetensors'), wrong));
    expect(err.message).to.contain('tensor "w": data has 16 bytes but shape [3] of F32 needs 12');
    expect(readdirSync(dir).filter((n) => n.includes('wrong'))).to.deep.equal([]); // nothing left behind
  });

  it('accepts a typed array that views part of a larger buffer', async () => {
    const big = new Float32Array(rng.normalArray(10));
    const view = big.subarray(3, 7);
    const file = path.join(dir, 'view.safetensors');
    await writeSafetensors(file, [{ name: 'v', dtype: 'F32', shape: [4], data: view }]);
    const [got] = await readTensors([...(await openSafetensors(file)).tensors.values()]);
    expect(Array.from(got as Float32Array)).to.deep.equal(Array.from(view));
  });

  it('replaces an existing file atomically and leaves no temp file behind', async () => {
    const file = path.join(dir, 'replace.safetensors');
    writeFileSync(file, 'old contents');
    await writeSafetensors(file, [randomTensor('w', 'F32', [4])]);
    expect((await openSafetensors(file)).tensors.get('w')!.shape).to.deep.equal([4]);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('a process killed mid-write leaves the previous file whole', async function () {
    this.timeout(30000);
    const file = path.join(dir, 'killed.safetensors');
    const old = [randomTensor('old', 'U8', [16])];
    await writeSafetensors(file, old);
    const before = readFileSync(file);
    const lib = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../lib/model/safetensors.ts');
    // The child announces itself, then writes 96 MB; we kill it as soon as it has started.
    const script = `import { writeSafetensors } from ${JSON.stringify(lib)};
      const data = new Uint8Array(96 << 20).fill(7);
      process.stdout.write('go\\n');
      await writeSafetensors(${JSON.stringify(file)}, [{ name: 'new', dtype: 'U8', shape: [data.length], data }]);
      process.stdout.write('done\\n');`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('go')) setTimeout(() => child.kill('SIGKILL'), 15);
      });
      child.on('exit', () => resolve());
    });
    const after = readFileSync(file);
    if (out.includes('done')) {
      // The write finished before the kill landed: then the new file must be whole.
      expect((await openSafetensors(file)).tensors.get('new')!.nbytes).to.equal(96 << 20);
    } else {
      expect(after.equals(before), 'the old file is intact').to.equal(true);
    }
  });

  it('a failed write removes its temp file and leaves the target untouched', async () => {
    const sub = path.join(dir, 'failing');
    mkdirSync(sub);
    const target = path.join(sub, 'model.safetensors');
    mkdirSync(target); // rename(temp, target) fails: the target is a directory
    const err = await rejectionOf(writeSafetensors(target, [randomTensor('w', 'U8', [8])]));
    expect(err.code).to.equal('EISDIR');
    expect(readdirSync(sub)).to.deep.equal(['model.safetensors']);
  });

  it('refuses duplicate names and data whose byte length does not match shape x dtype', async () => {
    const file = path.join(dir, 'refused.safetensors');
    const a = randomTensor('a', 'F32', [2]);
    let err = await rejectionOf(writeSafetensors(file, [a, randomTensor('b', 'U8', [1]), { ...a }]));
    expect(err.message).to.equal(`${file}: duplicate tensor name "a" in the tensors to write`);
    err = await rejectionOf(writeSafetensors(file, [{ name: 'w', dtype: 'BF16', shape: [2, 3], data: new Uint16Array(5) }]));
    expect(err.message).to.equal(`${file}: tensor "w": data has 10 bytes but shape [2, 3] of BF16 needs 12`);
    err = await rejectionOf(writeSafetensors(file, [{ name: 'w', dtype: 'Q8' as DTypeName, shape: [1], data: new Uint8Array(1) }]));
    expect(err.message).to.equal(`${file}: tensor "w": unsupported dtype "Q8" (supported: F32, F16, BF16, F64, I64, I32, U8)`);
    err = await rejectionOf(writeSafetensors(file, [{ name: '__metadata__', dtype: 'U8', shape: [1], data: new Uint8Array(1) }]));
    expect(err.message).to.equal(`${file}: expected a non-empty tensor name other than "__metadata__" but received "__metadata__"`);
    err = await rejectionOf(writeSafetensors(file, [a], { step: 3 as unknown as string }));
    expect(err.message).to.equal(`${file}: metadata["step"] must be a string but is number`);
    expect(readdirSync(dir).includes('refused.safetensors')).to.equal(false);
  });
});
