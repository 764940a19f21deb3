// Every malformed-header error of openSafetensors, with its exact message, on files built by hand
// in a temp directory (each breaks exactly one rule of the format).
import { expect } from 'chai';

import { MAX_HEADER_BYTES, openSafetensors, parseHeader } from '../../lib/model/safetensors.ts';
import { topLevelKeys } from '../../lib/model/safetensors_header.ts';
import { makeTempDir, rejectionOf, writeRaw } from './safetensors_util.ts';

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected invalid JSON');
}

describe('safetensors header validation', () => {
  let dir: string;
  let cleanup: () => void;
  before(() => ({ dir, cleanup } = makeTempDir()));
  after(() => cleanup());

  async function messageFor(name: string, header: string, data: number | Uint8Array = 0, declared?: bigint): Promise<[string, string]> {
    const file = writeRaw(dir, name, header, data, declared);
    const err = await rejectionOf(openSafetensors(file));
    expect(err.name).to.equal('SafetensorsError');
    return [file, err.message];
  }

  const ok = (o: object) => JSON.stringify(o);

  it('accepts a well-formed header and computes absolute offsets', async () => {
    const header = ok({ __metadata__: { format: 'pt' }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] }, a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] } });
    const file = writeRaw(dir, 'good.safetensors', header, 12);
    const st = await openSafetensors(file);
    expect(st.metadata).to.deep.equal({ format: 'pt' });
    expect([...st.tensors.keys()]).to.deep.equal(['b', 'a']);
    const n = Buffer.byteLength(header);
    expect(st.tensors.get('b')).to.deep.equal({ name: 'b', file, dtype: 'F32', shape: [2], offset: 8 + n + 4, nbytes: 8 });
    expect(st.tensors.get('a')).to.deep.equal({ name: 'a', file, dtype: 'U8', shape: [4], offset: 8 + n, nbytes: 4 });
  });

  it('truncated: fewer than 8 bytes', async () => {
    const file = `${dir}/short.safetensors`;
    (await import('node:fs')).writeFileSync(file, Buffer.from([1, 2, 3, 4, 5]));
    const err = await rejectionOf(openSafetensors(file));
    expect(err.message).to.equal(`${file}: truncated: expected at least 8 bytes (the header length) but the file has 5`);
  });

  it('header length past the end of the file', async () => {
    const [file, msg] = await messageFor('past.safetensors', '{}', 0, 100n);
    expect(msg).to.equal(`${file}: header length 100 runs past the end of the file (8 + 100 bytes needed, the file has 10)`);
  });

  it('a header over the 100 MB limit is refused before it is allocated (sparse file)', async () => {
    const fs = await import('node:fs');
    const file = `${dir}/sparse.safetensors`;
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(MAX_HEADER_BYTES + 1));
    fs.writeFileSync(file, len);
    fs.truncateSync(file, MAX_HEADER_BYTES + 64); // a hole: no disk space used
    const err = await rejectionOf(openSafetensors(file));
    expect(err.message).to.equal(`${file}: header length 100000001 exceeds the 100000000-byte limit`);
    fs.rmSync(file);
  });

  it('header not valid JSON', async () => {
    const bad = '{"a": {"dtype": "F32",';
    const [file, msg] = await messageFor('badjson.safetensors', bad);
    expect(msg).to.equal(`${file}: header is not valid JSON (${jsonError(bad)})`);
  });

  it('header not valid UTF-8', async () => {
    const file = writeRaw(dir, 'utf8.safetensors', '{}');
    const bytes = (await import('node:fs')).readFileSync(file);
    expect(() => parseHeader(file, new Uint8Array([0x7b, 0xff, 0x7d]), bytes.length + 1)).to.throw(`${file}: header is not valid UTF-8`);
  });

  it('header not an object', async () => {
    const [file, msg] = await messageFor('array.safetensors', '[1, 2]');
    expect(msg).to.equal(`${file}: header must be a JSON object but is an array`);
    const [file2, msg2] = await messageFor('null.safetensors', 'null');
    expect(msg2).to.equal(`${file2}: header must be a JSON object but is null`);
  });

  it('entry not an object', async () => {
    const [file, msg] = await messageFor('entry.safetensors', ok({ w: [1, 2] }));
    expect(msg).to.equal(`${file}: tensor "w": expected an object with dtype, shape and data_offsets but found an array`);
  });

  for (const field of ['dtype', 'shape', 'data_offsets']) {
    it(`entry missing ${field}`, async () => {
      const entry: Record<string, unknown> = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
      delete entry[field];
      const [file, msg] = await messageFor(`missing-${field}.safetensors`, ok({ w: entry }), 8);
      expect(msg).to.equal(`${file}: tensor "w": missing "${field}"`);
    });
  }

  it('unsupported dtype names the tensor, the file and the supported list', async () => {
    const [file, msg] = await messageFor('f8.safetensors', ok({ w: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }), 2);
    expect(msg).to.equal(`${file}: tensor "w": unsupported dtype "F8_E4M3" (supported: F32, F16, BF16, F64, I64, I32, U8)`);
  });

  it('bad shape and bad data_offsets', async () => {
    const [f1, m1] = await messageFor('negshape.safetensors', ok({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }), 8);
    expect(m1).to.equal(`${f1}: tensor "w": expected shape to be an array of non-negative integers but found [2,-1]`);
    const [f2, m2] = await messageFor('reversed.safetensors', ok({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }), 8);
    expect(m2).to.equal(`${f2}: tensor "w": expected data_offsets to be [begin, end] with 0 <= begin <= end but found [8,0]`);
  });

  it('shape x dtype size != byte span', async () => {
    const [file, msg] = await messageFor('size.safetensors', ok({ w: { dtype: 'BF16', shape: [2, 3], data_offsets: [0, 24] } }), 24);
    expect(msg).to.equal(`${file}: tensor "w": shape [2, 3] of BF16 needs 12 bytes but data_offsets [0, 24] span 24`);
  });

  it('offsets past the end of the data section', async () => {
    const [file, msg] = await messageFor('oob.safetensors', ok({ w: { dtype: 'F32', shape: [4], data_offsets: [4, 20] } }), 16);
    expect(msg).to.equal(`${file}: tensor "w": data_offsets [4, 20] run past the end of the data section (16 bytes)`);
  });

  it('overlapping tensors (whatever their order in the header)', async () => {
    const header = ok({
      c: { dtype: 'F32', shape: [1], data_offsets: [16, 20] },
      a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] },
      b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
    });
    const [file, msg] = await messageFor('overlap.safetensors', header, 20);
    expect(msg).to.equal(`${file}: tensors "a" (data_offsets [0, 12]) and "b" (data_offsets [8, 16]) overlap`);
  });

  it('a tensor nested inside a longer one overlaps too; empty tensors overlap nothing', async () => {
    const header = ok({
      big: { dtype: 'U8', shape: [16], data_offsets: [0, 16] },
      empty: { dtype: 'F32', shape: [0, 5], data_offsets: [4, 4] },
      small: { dtype: 'U8', shape: [2], data_offsets: [10, 12] },
    });
    const [file, msg] = await messageFor('nested.safetensors', header, 16);
    expect(msg).to.equal(`${file}: tensors "big" (data_offsets [0, 16]) and "small" (data_offsets [10, 12]) overlap`);
  });

  it('duplicate tensor names within one header (which JSON.parse would hide)', async () => {
    const e = (o: number) => `{"dtype":"U8","shape":[4],"data_offsets":[${o},${o + 4}]}`;
    const header = `{"w":${e(0)}, "v": ${e(4)},"w":${e(8)}}`;
    const [file, msg] = await messageFor('dup.safetensors', header, 12);
    expect(msg).to.equal(`${file}: duplicate tensor name "w" in the header`);
  });

  it('metadata must be string -> string', async () => {
    const [file, msg] = await messageFor('meta.safetensors', ok({ __metadata__: { step: 3 } }));
    expect(msg).to.equal(`${file}: __metadata__["step"] must be a string but is a number (3)`);
  });

  it('cannot open a missing file', async () => {
    const file = `${dir}/nope.safetensors`;
    const err = await rejectionOf(openSafetensors(file));
    expect(err.message).to.equal(`${file}: cannot open safetensors file (ENOENT)`);
  });

  it('topLevelKeys finds keys in order, with repeats, skipping nested objects and escaped quotes', () => {
    const text = ' { "a\\"b" : {"x": {"y": [1, {"z": 2}]}, "q": "}"}, "__metadata__": {"k": "v,\\""}, "a\\"b": 1 , "c":[{"d":1}]}  ';
    expect(topLevelKeys(text)).to.deep.equal(['a"b', '__metadata__', 'a"b', 'c']);
  });
});
