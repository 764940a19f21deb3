// Many processes for real: 2 ranks under mpirun (Open MPI, shared memory and loopback only). The
// collectives against plain sums; sharded stic pref / describe against the one-process files byte
// for byte (also resumed from a one-process cut); data-parallel stic dpo / sft against one process
// (same adapter within 1e-6 relative); a rank killed mid-run stops both and a one-process re-run
// resumes to the same adapter; a rank that raises stops both with one message naming it.
// Skipped, with the reason in the title, where mpirun or the MPI addon is missing.
import { expect } from 'chai';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { openSafetensors } from '../../lib/model/safetensors_header.ts';
import { readTensors } from '../../lib/model/safetensors.ts';
import { runCli, writeTinyLlava } from '../stic/cli_helpers.ts';
import { writeImages } from '../stic/fakes.ts';
import { mpiUnavailable, mpirun, repo, startMpirun } from './mpirun.ts';

const unavailable = mpiUnavailable();

async function readAdapterTensors(dir: string): Promise<Map<string, Float32Array>> {
  const f = await openSafetensors(path.join(dir, 'adapter_model.safetensors'));
  const entries = [...f.tensors.values()];
  const data = await readTensors(entries, { as: 'F32' });
  return new Map(entries.map((t, i) => [t.name, data[i]]));
}

// max |a - b| / max |b| over each tensor; the largest over all tensors.
async function adapterDifference(a: string, b: string): Promise<number> {
  const [x, y] = [await readAdapterTensors(a), await readAdapterTensors(b)];
  expect([...x.keys()].sort()).to.deep.equal([...y.keys()].sort());
  let worst = 0;
  for (const [name, u] of x) {
    const v = y.get(name) as Float32Array;
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < u.length; i++) {
      diff = Math.max(diff, Math.abs(u[i] - v[i]));
      scale = Math.max(scale, Math.abs(v[i]));
    }
    worst = Math.max(worst, scale === 0 ? diff : diff / scale);
  }
  return worst;
}

function rankPid(mpirunPid: number, rank: number): number | null {
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const env = readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
      if (env.includes(`OMPI_COMM_WORLD_RANK=${rank}`) && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('stic.js') && Number(p) !== mpirunPid) return Number(p);
    } catch {
      // a process that ended meanwhile, or another user's
    }
  }
  return null;
}

(unavailable ? describe.skip : describe)(`many processes: 2 ranks under mpirun${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let dir: string;
  let model: string;
  let images: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-dist-'));
    model = path.join(dir, 'model');
    images = path.join(dir, 'images');
    await writeTinyLlava(model);
    await writeImages(images, 10, 3, 40, 30);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('collectives: broadcast, gather, all-gather, and an all-reduce whose sum is in rank order with the same bits on both ranks', async () => {
    const out = path.join(dir, 'collectives');
    mkdirSync(out, { recursive: true });
    const r = await mpirun(2, [out], { script: path.join(repo, 'test/dist/collectives_main.ts') });
    expect(r.code, r.stderr).to.equal(0);
    const [a, b] = [0, 1].map((k) => JSON.parse(readFileSync(path.join(out, `rank-${k}.json`), 'utf8')));
    for (const x of [a, b]) {
      expect(x.size).to.equal(2);
      expect(x.broadcast).to.deep.equal({ from: 'rank 0', values: [1.5, 0, 1e-310] });
      expect(x.allgather).to.deep.equal([{ rank: 0, text: 'é' }, { rank: 1, text: 'éé' }]);
      expect(x.bigBroadcast).to.equal(7 * 3_000_001);
      expect(x.allreduceExact).to.equal(true);
    }
    expect(a.gather).to.deep.equal([0, 10]);
    expect(b.gather).to.equal(null);
    expect(a.allreduceSha).to.equal(b.allreduceSha);
  });

  const prefArgs = (out: string) => ['pref', '--model', model, '--images', images, '--max-new-tokens', '6', '--batch-size', '3', '--ref-logps', '--out', out];

  it('sharded stic pref: the same bytes as one process, and a one-process cut resumed on 2 ranks too', async () => {
    const one = path.join(dir, 'pref-1.jsonl');
    const r1 = await runCli(prefArgs(one));
    expect(r1.code, r1.stderr).to.equal(0);
    const two = path.join(dir, 'pref-2.jsonl');
    const r2 = await mpirun(2, prefArgs(two));
    expect(r2.code, r2.stderr).to.equal(0);
    expect(readFileSync(two).toString()).to.equal(readFileSync(one).toString());
    expect(existsSync(`${two}.skipped.jsonl`)).to.equal(existsSync(`${one}.skipped.jsonl`));
    if (existsSync(`${one}.skipped.jsonl`)) expect(readFileSync(`${two}.skipped.jsonl`, 'utf8')).to.equal(readFileSync(`${one}.skipped.jsonl`, 'utf8'));
    expect(r2.stderr).to.contain(`pref: ${readFileSync(one, 'utf8').trimEnd().split('\n').length} written to ${two}`); // rank 0's report, once
    expect(r2.stderr.match(/written to/g)).to.have.length(1);

    const cut = path.join(dir, 'pref-cut.jsonl');
    copyFileSync(one, cut);
    const text = readFileSync(one, 'utf8');
    truncateSync(cut, text.split('\n').slice(0, 2).join('\n').length + 1 + 17); // two records and a torn third
    const r3 = await mpirun(2, prefArgs(cut));
    expect(r3.code, r3.stderr).to.equal(0);
    expect(r3.stderr).to.match(/\(resumed: 2 were already there\)/);
    expect(readFileSync(cut).toString()).to.equal(text);
  });

  it('sharded stic describe: the same bytes as one process', async () => {
    const instr = path.join(dir, 'instr.json');
    const samples = [0, 1, 2, 3, 4, 5, 6].map((i) => ({ id: `s${i}`, image: `img-0${i}.png`, conversations: [{ from: 'human', value: `<image>\nQuestion ${i}?` }, { from: 'gpt', value: `Answer ${i}.` }] }));
    writeFileSync(instr, JSON.stringify(samples));
    const args = (out: string) => ['describe', '--model', model, '--instructions', instr, '--image-root', images, '--out', out, '--max-new-tokens', '5', '--batch-size', '2'];
    const one = path.join(dir, 'desc-1.jsonl');
    const r1 = await runCli(args(one));
    expect(r1.code, r1.stderr).to.equal(0);
    const two = path.join(dir, 'desc-2.jsonl');
    const r2 = await mpirun(2, args(two));
    expect(r2.code, r2.stderr).to.equal(0);
    expect(readFileSync(two).toString()).to.equal(readFileSync(one).toString());
  });

  it('a rank that raises stops every rank within seconds with one message naming the rank and the cause', async () => {
    const bad = path.join(dir, 'not-ours.jsonl');
    writeFileSync(bad, 'this is not a record\n');
    const r = await mpirun(2, prefArgs(bad));
    expect(r.code).to.not.equal(0);
    expect(r.seconds).to.be.below(60);
    const msg = `stic: rank 0 of 2 failed: ${bad}:1: expected a complete JSON record but the line does not parse`;
    expect(r.stderr).to.contain(msg);
    expect(r.stderr.split(msg)).to.have.length(2); // once
    expect(readFileSync(bad, 'utf8')).to.equal('this is not a record\n'); // untouched
  });

  const dpoArgs = (out: string, prefs: string, extra: string[] = ['--epochs', '2']) => [
    'dpo', '--model', model, '--prefs', prefs, '--image-root', images, '--out', out, '--lora-r', '4', '--lora-alpha', '8',
    '--batch-size', '4', '--grad-accum', '2', '--lr', '1e-3', ...extra,
  ];

  it('data-parallel stic dpo: the adapter of one process within 1e-6 relative, the same metrics, files from rank 0 only', async () => {
    const prefs = path.join(dir, 'pref-1.jsonl');
    const one = path.join(dir, 'dpo-1');
    const r1 = await runCli(dpoArgs(one, prefs));
    expect(r1.code, r1.stderr).to.equal(0);
    const two = path.join(dir, 'dpo-2');
    const r2 = await mpirun(2, dpoArgs(two, prefs));
    expect(r2.code, r2.stderr).to.equal(0);
    expect(await adapterDifference(two, one)).to.be.at.most(1e-6);
    const rows = (d: string) => readFileSync(path.join(d, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    const [m1, m2] = [rows(one), rows(two)];
    expect(m2.map((r) => [r.step, r.examples, r.tokens])).to.deep.equal(m1.map((r) => [r.step, r.examples, r.tokens]));
    m1.forEach((r, i) => expect(Math.abs(m2[i].loss - r.loss)).to.be.at.most(1e-6 * Math.max(1, Math.abs(r.loss))));
    expect(readdirSync(two).sort()).to.deep.equal(readdirSync(one).sort());
  });

  it('data-parallel stic sft: the adapter of one process within 1e-6 relative', async () => {
    const data = path.join(dir, 'sft.json');
    const samples = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => ({ id: `t${i}`, image: `img-0${i}.png`, conversations: [{ from: 'human', value: `<image>\nWhat is ${i}?` }, { from: 'gpt', value: `It is ${i}.` }] }));
    writeFileSync(data, JSON.stringify(samples));
    const args = (out: string) => ['sft', '--model', model, '--data', data, '--image-root', images, '--out', out, '--lora-r', '4', '--lora-alpha', '8', '--batch-size', '4', '--grad-accum', '4', '--lr', '1e-3'];
    const one = path.join(dir, 'sft-1');
    const r1 = await runCli(args(one));
    expect(r1.code, r1.stderr).to.equal(0);
    const two = path.join(dir, 'sft-2');
    const r2 = await mpirun(2, args(two));
    expect(r2.code, r2.stderr).to.equal(0);
    expect(await adapterDifference(two, one)).to.be.at.most(1e-6);
  });

  it('a rank killed mid-run stops both; the re-run on one process resumes from rank 0\'s checkpoint to the same adapter', async () => {
    const prefs = path.join(dir, 'pref-1.jsonl');
    const extra = ['--checkpoint-every', '1', '--epochs', '12'];
    const whole = path.join(dir, 'dpo-whole');
    const r1 = await runCli(dpoArgs(whole, prefs, extra));
    expect(r1.code, r1.stderr).to.equal(0);
    const out = path.join(dir, 'dpo-killed');
    const child = startMpirun(2, dpoArgs(out, prefs, extra));
    let killedAt = -1;
    const t0 = Date.now();
    while (killedAt < 0 && Date.now() - t0 < 120_000) {
      await new Promise((r) => setTimeout(r, 25));
      const ckpt = existsSync(path.join(out, 'work', 'checkpoints')) ? readdirSync(path.join(out, 'work', 'checkpoints')).filter((d) => d.startsWith('step-')) : [];
      const pid = ckpt.length > 0 ? rankPid(child.pid, 1) : null;
      if (pid) {
        process.kill(pid, 'SIGKILL');
        killedAt = Date.now();
      }
    }
    const r = await child.done;
    expect(killedAt, 'rank 1 was found and killed').to.be.above(0);
    expect(r.code).to.not.equal(0);
    expect(Date.now() - killedAt).to.be.below(20_000);
    expect(r.stderr).to.match(/rank 1 with PID \d+ on node \S+ exited on signal 9 \(Killed\)/);
    expect(existsSync(path.join(out, 'adapter_model.safetensors'))).to.equal(false);
    const again = await runCli(dpoArgs(out, prefs, extra));
    expect(again.code, again.stderr).to.equal(0);
    expect(await adapterDifference(out, whole)).to.be.at.most(1e-6);
  });
});
