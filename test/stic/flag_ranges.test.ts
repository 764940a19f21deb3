// Numeric flags never reach native code out of range (issue 20): `--threads` with a huge value
// ended in SIGSEGV (OpenMP asked for that many threads) and a negative one was accepted. TypeScript
// checks every command's --threads and the config's `threads` against [0, 1024]; the addon checks
// again and throws instead of wrapping the value into a thread count. Integer options without a
// bound of their own stop at 2^31 - 1 (they are 32-bit ints in native code).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';
import { parseRunConfig } from '../../lib/stic/run_config.ts';
import { runCli } from './cli_helpers.ts';

describe('numeric flags are range-checked before native code', () => {
  it('--threads: huge, negative or fractional values are refused by every command that takes it', async () => {
    for (const [argv, v] of [
      [['generate', '--model', 'm', '--prompt', 'p'], '1e12'],
      [['score', '--model', 'm', '--prompt', 'p', '--response', 'r'], '-1'],
      [['export', '--model', 'm', '--adapter', 'a', '--out', 'o'], '2.5'],
      [['pref', '--model', 'm', '--images', 'i', '--out', 'o'], '1025'],
    ] as [string[], string][]) {
      const r = await runCli([...argv, '--threads', v]);
      expect(r.code, argv[0]).to.equal(1);
      expect(r.stderr, argv[0]).to.equal(`stic: Expected an integer in [0, 1024] for --threads but received ${Number(v)}\n`);
    }
  });

  it('the config key threads and seed are checked with the file named', () => {
    expect(() => parseRunConfig('/c/run.json', '{"model":"m","out":"o","threads":100000}')).to.throw('/c/run.json: threads: expected an integer in [0, 1024] but received 100000');
    expect(() => parseRunConfig('/c/run.json', '{"model":"m","out":"o","seed":1e300}')).to.throw('/c/run.json: seed: expected an integer in [0, 2147483647] but received 1e+300');
  });

  it('an integer option without a bound of its own stops at 2^31 - 1, and says so', async () => {
    const r = await runCli(['pref', '--model', 'm', '--images', 'i', '--out', 'o', '--batch-size', '1e12']);
    expect(r.stderr).to.equal('stic: Expected an integer >= 1 (at most 2147483647) for --batch-size but received 1000000000000\n');
  });

  it('stic toy pretrain bounds the scene counts it builds batches from (a billion scenes exhausted the JS heap)', async () => {
    const r = await runCli(['toy', 'pretrain', '--out', 'o', '--steps', '1', '--batch-size', '1e9']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal('stic: Expected an integer in [1, 65536] for --batch-size but received 1000000000\n');
  });

  it('stic toy pretrain --schedule reaches the run: constant keeps the peak rate; an unknown kind is refused', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'stic-toy-schedule-'));
    try {
      const args = ['toy', 'pretrain', '--out', path.join(out, 'm'), '--steps', '3', '--batch-size', '1', '--warmup-ratio', '0', '--lr', '5e-4', '--eval-every', '0', '--final-eval-scenes', '1'];
      const ok = await runCli([...args, '--schedule', 'constant']);
      expect(ok.code, ok.stderr).to.equal(0);
      const rows = readFileSync(path.join(out, 'm', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).lr);
      expect(rows).to.deep.equal([5e-4, 5e-4, 5e-4]);
      const bad = await runCli([...args, '--schedule', 'step']);
      expect(bad.code).to.equal(2); // a usage error
      expect(bad.stderr).to.contain('Invalid values:\n  Argument: schedule, Given: "step", Choices: "cosine", "linear", "constant"');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('stic toy pretrain --kind-items reaches the run (recorded, resumable as such); with --footholds it is refused', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'stic-toy-kind-items-'));
    try {
      const args = ['toy', 'pretrain', '--steps', '1', '--batch-size', '1', '--eval-every', '0', '--final-eval-scenes', '1', '--image-size', '28', '--kind-items'];
      const ok = await runCli([...args, '--out', path.join(out, 'm')]);
      expect(ok.code, ok.stderr).to.equal(0);
      expect(JSON.parse(readFileSync(path.join(out, 'm', 'training.json'), 'utf8')).options.kindItems).to.equal(true);
      const bad = await runCli([...args, '--out', path.join(out, 'n'), '--footholds', '0.5']);
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.equal('stic: Expected footholds 0 with kindItems (every scene is a kind-item scene) but received 0.5\n');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('stic toy pretrain --image-size builds the tower for that image (a multiple of the patch), and refuses any other', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'stic-toy-image-size-'));
    try {
      const args = ['toy', 'pretrain', '--steps', '1', '--batch-size', '1', '--eval-every', '0', '--final-eval-scenes', '1'];
      const ok = await runCli([...args, '--out', path.join(out, 'm'), '--image-size', '28']);
      expect(ok.code, ok.stderr).to.equal(0);
      const config = JSON.parse(readFileSync(path.join(out, 'm', 'config.json'), 'utf8'));
      expect([config.vision_config.image_size, config.image_seq_length]).to.deep.equal([28, 4]);
      const bad = await runCli([...args, '--out', path.join(out, 'n'), '--image-size', '100']);
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.equal('stic: Expected an image size that is a positive multiple of the 14 px patch but received 100\n');
      // --init: the model's side by default; another side is refused before anything trains.
      const cont = await runCli([...args, '--out', path.join(out, 'c'), '--init', path.join(out, 'm')]);
      expect(cont.code, cont.stderr).to.equal(0);
      expect(JSON.parse(readFileSync(path.join(out, 'c', 'config.json'), 'utf8')).vision_config.image_size).to.equal(28);
      const other = await runCli([...args, '--out', path.join(out, 'o'), '--init', path.join(out, 'm'), '--image-size', '42']);
      expect(other.code).to.equal(1);
      expect(other.stderr).to.equal(`stic: Expected --image-size to be the image side of the --init model ${path.join(out, 'm')} (28 px) but received 42\n`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('the addon refuses an out-of-range thread count itself (RangeError, not a crash)', () => {
    const before = native().buildInfo().threads;
    for (const v of [1e12, -1, 2.5, 1025, Number.NaN]) {
      expect(() => native().setThreads(v), String(v)).to.throw(RangeError, `Expected an integer in [0, 1024] for threads but received ${v}`);
    }
    expect(native().setThreads(1)).to.equal(1);
    native().setThreads(before);
  });
});
