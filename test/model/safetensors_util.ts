// Helpers for the safetensors tests: temp directories and hand-built files, so a test can write a
// header text that our writer would refuse to produce (duplicate keys, overlaps, lies about sizes).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A fresh temp directory, removed by the returned cleanup. */
export function makeTempDir(prefix = 'stic-st-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The bytes of a safetensors file: u64 LE length of `header` (a JSON text, used verbatim), header, data. */
export function rawSafetensors(header: string, data: Uint8Array | number = 0, declaredLength?: bigint): Buffer {
  const h = Buffer.from(header, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declaredLength ?? BigInt(h.length));
  const body = typeof data === 'number' ? Buffer.alloc(data, 0x5a) : Buffer.from(data);
  return Buffer.concat([len, h, body]);
}

/** Writes rawSafetensors(...) to dir/name and returns the path. */
export function writeRaw(dir: string, name: string, header: string, data: Uint8Array | number = 0, declaredLength?: bigint): string {
  const file = path.join(dir, name);
  writeFileSync(file, rawSafetensors(header, data, declaredLength));
  return file;
}

/** Rejection of `p` (fails the test if it resolves). */
export { rejectionOf } from '../helpers/rejection.ts';

/** Random bytes from a seeded generator (never all zeros). */
export function randomBytesSeeded(n: number, next: () => number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
  return out;
}
