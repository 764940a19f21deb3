// Disk full and write errors (issue 20): a stage whose output write fails ends with the file and
// the reason, keeps every complete batch, and a re-run resumes to the same bytes as a run that never
// failed. The failure is real, not mocked: the command runs with a file-size limit (`ulimit -f`,
// SIGXFSZ ignored), so the kernel cuts a write short and the next one fails with EFBIG, as a full
// disk does with ENOSPC. No root and no tmpfs needed. Covered: an append-only JSONL output (pref)
// and an atomically written checkpoint file (dpo).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { repo, runCli, writeTinyLlava } from './cli_helpers.ts';
import { writeImages } from './fakes.ts';
import { comparable } from './run_compare.ts';

describe('write errors: a failed write ends the stage, naming the file; a re-run resumes', function () {
  this.timeout(120_000);
  let dir: string;
  let model: string;
  let images: string;
  const prefArgs = () => ['pref', '--model', model, '--images', images, '--max-new-tokens', '8', '--batch-size', '2', '--threads', '1'];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-writeerr-'));
    model = path.join(dir, 'model');
    images = path.join(dir, 'images');
    await writeTinyLlava(model);
    await writeImages(images, 10, 4, 30, 30);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('stic pref under a 6 KiB file-size limit: EFBIG named with the file, complete batches kept, resumed to the same bytes', async () => {
    const whole = path.join(dir, 'whole.jsonl');
    const full = await runCli([...prefArgs(), '--out', whole]);
    expect(full.code, full.stderr).to.equal(0);
    const expected = readFileSync(whole);
    expect(expected.length).to.be.above(8192); // the limit below really cuts this output

    const out = path.join(dir, 'limited.jsonl');
    // bash's `ulimit -f` counts 1024-byte blocks; an ignored SIGXFSZ turns the kill into EFBIG.
    const argv = [path.join(repo, 'bin/stic.js'), ...prefArgs(), '--out', out].map((a) => `'${a}'`).join(' ');
    const limited = spawnSync('bash', ['-c', `trap '' XFSZ; ulimit -f 6; exec '${process.execPath}' ${argv}`], { encoding: 'utf8' });
    expect(limited.status, limited.stderr).to.equal(1);
    const m = new RegExp(`\\nstic: ${out}: cannot write \\(the file is larger than this process may write \\(EFBIG\\)\\); the (\\d+) records before this batch are complete; run the stage again to resume after them\\n$`).exec(limited.stderr);
    expect(m, limited.stderr).to.not.equal(null);
    const kept = readFileSync(out);
    expect(kept.length).to.be.within(1, 6144);
    expect(kept.toString('utf8').endsWith('\n')).to.equal(true); // the partial batch was cut back
    expect(kept.toString('utf8').trimEnd().split('\n')).to.have.length(Number(m![1]));
    expect(expected.subarray(0, kept.length).equals(kept)).to.equal(true); // a prefix of the full run

    const again = await runCli([...prefArgs(), '--out', out]);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stderr).to.contain(`(resumed: ${m![1]} were already there)`);
    expect(readFileSync(out).equals(expected)).to.equal(true);
    expect(statSync(out).size).to.equal(expected.length);
  });

  it('stic dpo whose checkpoint write fails: the file is named, no half checkpoint is left, a re-run ends as an uninterrupted run', async () => {
    const prefs = path.join(dir, 'whole.jsonl'); // the pairs of the first test
    const dpoArgs = (out: string) => ['dpo', '--model', model, '--prefs', prefs, '--image-root', images, '--lora-r', '4', '--lora-alpha', '8', '--batch-size', '2', '--epochs', '2', '--checkpoint-every', '1', '--threads', '1', '--out', out];
    const whole = path.join(dir, 'dpo-whole');
    const full = await runCli(dpoArgs(whole));
    expect(full.code, full.stderr).to.equal(0);
    expect(statSync(path.join(whole, 'adapter_model.safetensors')).size).to.be.above(4096);

    const out = path.join(dir, 'dpo-limited');
    const argv = [path.join(repo, 'bin/stic.js'), ...dpoArgs(out)].map((a) => `'${a}'`).join(' ');
    const limited = spawnSync('bash', ['-c', `trap '' XFSZ; ulimit -f 4; exec '${process.execPath}' ${argv}`], { encoding: 'utf8' });
    expect(limited.status, limited.stderr).to.equal(1);
    expect(limited.stderr).to.match(new RegExp(`\\nstic: ${out}/work/checkpoints/\\.tmp-step-00000001-\\d+-[0-9a-f]+/\\w+\\.safetensors: cannot write \\(the file is larger than this process may write \\(EFBIG\\)\\); the file is unchanged\\n$`));
    expect(readdirSync(path.join(out, 'work', 'checkpoints'))).to.deep.equal([]); // the temporary checkpoint folder was removed

    const again = await runCli(dpoArgs(out));
    expect(again.code, again.stderr).to.equal(0);
    for (const f of ['adapter_model.safetensors', 'metrics.jsonl', 'work/reference_logps.jsonl']) {
      expect(comparable(path.join(out, f)), f).to.deep.equal(comparable(path.join(whole, f)));
    }
  });
});
