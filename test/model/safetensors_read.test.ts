// Native tensor reads: every fixture file from Hugging Face transformers reads back bit-exactly
// against the plain reference (a header decoded here with JSON.parse and the bytes sliced out of
// fs.readFileSync); dtype conversion on read against JS references; native errors, exact messages.
import { expect } from 'chai';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { openCheckpoint, openSafetensors, readTensor, readTensors, writeSafetensors } from '../../lib/model/safetensors.ts';
import { native } from '../../lib/native/index.ts';
import { makeRng } from '../helpers/rng.ts';
import { makeTempDir, rejectionOf } from './safetensors_util.ts';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'hf');

function findSafetensors(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = path.join(dir, n);
      return statSync(p).isDirectory() ? findSafetensors(p) : n.endsWith('.safetensors') ? [p] : [];
    });
}

// The plain reference: the format decoded directly, with no code shared with lib/model.
function referenceTensors(file: string): Map<string, { dtype: string; shape: number[]; bytes: Buffer }> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { dtype: string; shape: number[]; bytes: Buffer }>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    out.set(name, { dtype: e.dtype, shape: e.shape, bytes: buf.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]) });
  }
  return out;
}

function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

describe('safetensors reads (native)', () => {
  const files = findSafetensors(fixtures);

  it('finds the fixture files (model, legacy-names, inputs, expected, grads, adapter)', () => {
    const names = new Set(files.map((f) => path.basename(f)));
    for (const n of ['model.safetensors', 'legacy-names.safetensors', 'inputs.safetensors', 'expected.safetensors', 'sft_grads.safetensors', 'adapter_model.safetensors']) {
      expect(names.has(n), n).to.equal(true);
    }
    expect(files.length).to.equal(33);
  });

  for (const file of files) {
    it(`reads every tensor of ${path.relative(fixtures, file)} bit-exactly`, async () => {
      const ref = referenceTensors(file);
      const st = await openSafetensors(file);
      expect([...st.tensors.keys()]).to.deep.equal([...ref.keys()]);
      const entries = [...st.tensors.values()];
      const batch = await readTensors(entries);
      entries.forEach((e, i) => {
        const r = ref.get(e.name)!;
        expect([e.dtype, e.shape], e.name).to.deep.equal([r.dtype, r.shape]);
        expect(bytesOf(batch[i]).equals(r.bytes), `${e.name} bytes`).to.equal(true);
      });
      // The single-tensor path on the first and last tensors.
      for (const e of [entries[0], entries[entries.length - 1]]) {
        expect(bytesOf(await readTensor(e)).equals(ref.get(e.name)!.bytes), `${e.name} (readTensor)`).to.equal(true);
      }
    });
  }

  it('returns the typed array of each dtype, with the values the model fixtures promise', async () => {
    const ck = await openCheckpoint(path.join(fixtures, 'llava-tiny-llama'));
    const head = ck.tensors.get('language_model.lm_head.weight')!;
    expect(head.shape).to.deep.equal([320, 64]); // vocab 320, hidden 64 (fixtures/README.md)
    expect(await readTensor(head)).to.be.instanceOf(Float32Array);
    const inputs = await openSafetensors(path.join(fixtures, 'llava-tiny-llama', 'inputs.safetensors'));
    const prompt = await readTensor(inputs.tensors.get('prompt_0')!, { as: 'I64' });
    expect(prompt).to.be.instanceOf(BigInt64Array);
    // BOS, 3 ids, the image token (the last vocab id) x 16, then 4 ids.
    expect(prompt[0]).to.equal(1n);
    expect(Array.from(prompt.slice(4, 20))).to.deep.equal(Array(16).fill(319n));
    const adapter = await openCheckpoint(path.join(fixtures, 'llava-tiny-llama', 'adapter'));
    const first = [...adapter.tensors.values()][0];
    expect(first.dtype).to.equal('F64');
    expect(await readTensor(first)).to.be.instanceOf(Float64Array);
    const f32 = await readTensor(first, { as: 'F32' });
    const f64 = await readTensor(first, { as: 'F64' });
    expect(Array.from(f32)).to.deep.equal(Array.from(f64, (x) => Math.fround(x)));
  });

  describe('dtype conversion on read', () => {
    let dir: string;
    let cleanup: () => void;
    before(() => ({ dir, cleanup } = makeTempDir()));
    after(() => cleanup());
    const rng = makeRng(77);

    it('BF16 -> F32 is exact (the bits shifted up), BF16 stays raw bits without `as`', async () => {
      const n = 7 * 10001; // over the parallel threshold of cpu::convert
      const bits = new Uint16Array(n).map(() => rng.int(0, 65536));
      const file = path.join(dir, 'bf16.safetensors');
      await writeSafetensors(file, [{ name: 'w', dtype: 'BF16', shape: [7, 10001], data: bits }]);
      const e = (await openSafetensors(file)).tensors.get('w')!;
      const raw = await readTensor(e);
      expect(raw).to.be.instanceOf(Uint16Array);
      expect(bytesOf(raw).equals(bytesOf(bits))).to.equal(true);
      const f = await readTensor(e, { as: 'F32' });
      const fbits = new Uint32Array(f.buffer, f.byteOffset, f.length);
      for (let i = 0; i < n; i++) if (fbits[i] !== ((bits[i] << 16) >>> 0)) expect.fail(`element ${i}: ${fbits[i]} != ${bits[i]} << 16`);
    });

    it('F32 -> BF16 on read rounds to nearest even; F16 -> F32 decodes exactly', async () => {
      const xs = new Float32Array(4099).map(() => rng.normal() * 10 ** rng.uniform(-4, 4));
      const halves = new Uint16Array(513).map(() => rng.int(0, 0x7c00) | (rng.next() < 0.5 ? 0x8000 : 0));
      const file = path.join(dir, 'mixed.safetensors');
      await writeSafetensors(file, [
        { name: 'x', dtype: 'F32', shape: [4099], data: xs },
        { name: 'h', dtype: 'F16', shape: [513], data: halves },
      ]);
      const st = await openSafetensors(file);
      const bf = await readTensor(st.tensors.get('x')!, { as: 'BF16' });
      const xbits = new Uint32Array(xs.buffer);
      for (let i = 0; i < xs.length; i++) {
        const ref = ((xbits[i] + 0x7fff + ((xbits[i] >>> 16) & 1)) >>> 16) & 0xffff;
        if (bf[i] !== ref) expect.fail(`element ${i} (${xs[i]}): ${bf[i]} != ${ref}`);
      }
      const hf = await readTensor(st.tensors.get('h')!, { as: 'F32' });
      for (let i = 0; i < halves.length; i++) {
        const h = halves[i];
        const e = (h >> 10) & 0x1f;
        const m = h & 0x3ff;
        const ref = (h & 0x8000 ? -1 : 1) * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
        if (hf[i] !== ref) expect.fail(`pattern ${h}: ${hf[i]} != ${ref}`);
      }
    });

    it('refuses integer <-> float conversion, naming the tensor and the file', async () => {
      const file = path.join(dir, 'ints.safetensors');
      await writeSafetensors(file, [{ name: 'ids', dtype: 'I32', shape: [3], data: new Int32Array([5, -7, 9]) }]);
      const e = (await openSafetensors(file)).tensors.get('ids')!;
      const err = await rejectionOf(readTensor(e, { as: 'F32' }));
      expect(err.message).to.equal(`tensor "ids" in ${file}: cannot convert I32 to F32 (only conversions between floating-point types are supported)`);
      expect(err.code).to.equal('STIC_UNSUPPORTED');
    });
  });

  describe('native errors', () => {
    let dir: string;
    let cleanup: () => void;
    let file: string;
    before(async () => {
      ({ dir, cleanup } = makeTempDir());
      file = path.join(dir, 'w.safetensors');
      await writeSafetensors(file, [{ name: 'w', dtype: 'F32', shape: [2, 3], data: makeRng(5).normalArray(6) }]);
    });
    after(() => cleanup());

    it('a missing file', async () => {
      const missing = path.join(dir, 'gone.safetensors');
      const err = await rejectionOf(native().readTensorData({ name: 'w', file: missing, dtype: 'F32', shape: [1], offset: 0, nbytes: 4 }));
      expect(err.message).to.equal(`tensor "w": cannot open ${missing}: No such file or directory`);
      expect(err.code).to.equal('STIC_NOT_FOUND');
    });

    it('a range past the real end of the file (a header that lies, or a file truncated since)', async () => {
      const e = (await openSafetensors(file)).tensors.get('w')!;
      const size = statSync(file).size;
      const err = await rejectionOf(native().readTensorData({ ...e, offset: e.offset + 8 }));
      expect(err.message).to.equal(`tensor "w" in ${file}: bytes [${e.offset + 8}, ${e.offset + 32}) run past the end of the file (${size} bytes)`);
      expect(err.code).to.equal('STIC_OUT_OF_RANGE');
      const err2 = await rejectionOf(native().readTensorsData([e, { ...e, name: 'far', offset: 2 ** 52 }]));
      expect(err2.message).to.equal(`tensor "far" in ${file}: bytes [${2 ** 52}, ${2 ** 52 + 24}) run past the end of the file (${size} bytes)`);
    });

    it('a byte count that does not match shape x dtype', async () => {
      const e = (await openSafetensors(file)).tensors.get('w')!;
      const err = await rejectionOf(native().readTensorData({ ...e, nbytes: 20 }));
      expect(err.message).to.equal(`tensor "w" in ${file}: shape [2, 3] of F32 needs 24 bytes but the source spans 20`);
    });

    it('bad arguments throw TypeErrors before any work is queued', () => {
      const read = native().readTensorData as (...a: unknown[]) => unknown;
      expect(() => read({ name: 'w', dtype: 'F32', shape: [1], offset: 0, nbytes: 4 })).to.throw(TypeError, 'Expected a string for entry.file but received undefined');
      expect(() => read({ name: 'w', file, dtype: 'Q4', shape: [1], offset: 0, nbytes: 4 })).to.throw(
        TypeError,
        'Expected one of F32, BF16, F16, F64, I32, I64, U8 for entry.dtype but received a string "Q4"',
      );
      expect(() => read({ name: 'w', file, dtype: 'F32', shape: [1], offset: -1, nbytes: 4 })).to.throw(TypeError, 'Expected a non-negative integer for entry.offset but received -1');
      expect(() => read({ name: 'w', file, dtype: 'F32', shape: [-1], offset: 0, nbytes: 4 })).to.throw(TypeError, 'Expected a non-negative integer for entry.shape[0] but received -1');
      expect(() => read({ name: 'w', file, dtype: 'F32', shape: [1], offset: 0, nbytes: 4 }, 'F8')).to.throw(
        TypeError,
        'Expected a dtype name (F32, BF16, F16, F64, I32, I64, U8) or undefined for outDtype but received a string "F8"',
      );
      expect(() => (native().readTensorsData as (...a: unknown[]) => unknown)({})).to.throw(TypeError, 'Expected an array of tensor entries for entries but received an object');
    });
  });
});
