// The training engine on the real native trainer and a tiny random LLaVA model with generated
// images: `stic dpo` then `stic sft` continuing its adapter (CLI, end to end), a run stopped after
// k steps and resumed ending with the same adapter bit for bit, the learning test (reward accuracy
// and margin on the training pairs, before vs after), and `stic export` checked against the
// transformers/PEFT fixture (merged weights give PEFT's policy log-probs).
import { expect } from 'chai';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { loadModel } from '../../lib/engine/llava_model.ts';
import { writeRandomLlava } from '../../lib/engine/random_model.ts';
import { loadModelConfig } from '../../lib/model/config.ts';
import { openCheckpoint, openSafetensors, readTensors, writeSafetensors } from '../../lib/model/safetensors.ts';
import { native } from '../../lib/native/index.ts';
import type { DpoJob, TrainHooks } from '../../lib/stic/engine_api.ts';
import { loadImage } from '../../lib/data/image_load.ts';
import { openLlavaInference } from '../../lib/stic/engine_adapters.ts';
import { loadDpoData } from '../../lib/stic/stages/train_data.ts';
import { DPO_OPTIONS, type DpoOptions, validateDpoOptions } from '../../lib/stic/train_options.ts';
import { adapterForLoad } from '../../lib/train/adapted_model.ts';
import { readAdapter, writeAdapter } from '../../lib/train/adapter_io.ts';
import { StepImages, tokenizePairs } from '../../lib/train/collate.ts';
import { sticTrainingEngine } from '../../lib/train/index.ts';
import { exportMerged } from '../../lib/train/merge_export.ts';
import { loadTrainingModel } from '../../lib/train/model_load.ts';
import type { MetricsRow } from '../../lib/util/metrics_log.ts';
import { loadFixture, relError } from '../engine/fixture_util.ts';
import { writeImages } from '../stic/fakes.ts';
import { makeRng } from '../helpers/rng.ts';
import { runCli } from '../stic/cli_helpers.ts';
import { pairLogprobsOptions } from '../helpers/dpo_options.ts';

const repo = path.resolve(import.meta.dirname, '..', '..');

const hasTrainer = () => typeof (native() as { createTrainer?: unknown }).createTrainer === 'function';

const WORDS = ['red', 'blue', 'green', 'ball', 'dog', 'cat', 'tree', 'sky', 'car', 'house', 'small', 'large', 'two', 'one', 'on', 'the', 'grass', 'table'];

function sentence(rng: ReturnType<typeof makeRng>, n: number): string {
  return `${Array.from({ length: n }, () => WORDS[rng.int(0, WORDS.length)]).join(' ')}.`;
}

/** Public-format pairs over the images: {image, chosen, rejected} with the same user turn. */
function writePairs(file: string, images: string[], seed: number): void {
  const rng = makeRng(seed);
  const lines = images.map((image) => {
    const user = { role: 'user', content: '<image>\nDescribe the image.' };
    return JSON.stringify({ image, chosen: [user, { role: 'assistant', content: sentence(rng, 5) }], rejected: [user, { role: 'assistant', content: sentence(rng, 6) }], image_corruption: false, hallu_prompt: '' });
  });
  writeFileSync(file, `${lines.join('\n')}\n`);
}

function dpoOptions(prefs: string, o: Record<string, unknown>): DpoOptions {
  const values: Record<string, unknown> = { prefs };
  for (const [k, spec] of Object.entries(DPO_OPTIONS)) if ((spec as { default?: unknown }).default !== undefined && values[k] === undefined) values[k] = (spec as { default?: unknown }).default;
  return validateDpoOptions({ ...values, ...o }, (p) => `bad ${p.flag}`);
}

function hooks(stopAt?: number): { hooks: TrainHooks; rows: MetricsRow[]; starts: number[] } {
  const rows: MetricsRow[] = [];
  const starts: number[] = [];
  return {
    rows,
    starts,
    hooks: {
      onStart: (s) => void starts.push(s),
      onStep: (r) => {
        rows.push(r);
        if (stopAt !== undefined && r.step + 1 === stopAt) throw new Error('stopped by the test');
      },
    },
  };
}

describe('training engine on a tiny random model (native trainer)', function () {
  this.timeout(60_000);
  let dir: string;
  let model: string;
  let images: string;
  let prefs: string;

  before(async function () {
    if (!hasTrainer()) this.skip(); // the native trainer binding (issue 4, model-level training) is not in this build
    dir = mkdtempSync(path.join(tmpdir(), 'stic-train-'));
    model = path.join(dir, 'model');
    images = path.join(dir, 'images');
    await writeRandomLlava(
      model,
      {
        vision: { imageSize: 28, patchSize: 14, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 2 },
        decoder: { family: 'llama', hiddenSize: 48, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 421 },
        std: 0.3,
      },
      5,
    );
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(repo, 'test/fixtures/hf/tokenizer-llama-style', f), path.join(model, f));
    const names = await writeImages(images, 8, 3, 40, 30);
    prefs = path.join(images, 'pairs.jsonl');
    writePairs(prefs, names, 1);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stic dpo trains an adapter (reference pre-pass, checkpoints, metrics), then stic sft continues it', async () => {
    const out = path.join(dir, 'run');
    const common = ['--lora-r', '4', '--lora-alpha', '8', '--batch-size', '4', '--grad-accum', '2', '--lr', '1e-3', '--checkpoint-every', '1', '--threads', '1'];
    const d = await runCli(['dpo', '--model', model, '--prefs', prefs, '--out', path.join(out, 'dpo'), '--epochs', '2', ...common]);
    expect(d.code, d.stderr).to.equal(0);
    expect(d.stderr).to.match(/^dpo: 8 pairs from .*pairs\.jsonl \(0 ours, 8 public STIC format\), reference log-probs: compute\n/);
    const dpoDir = path.join(out, 'dpo');
    const rows = readFileSync(path.join(dpoDir, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => r.step)).to.deep.equal([0, 1, 2, 3]);
    for (const r of rows) for (const k of ['loss', 'lr', 'reward_chosen', 'reward_rejected', 'reward_margin', 'reward_accuracy', 'grad_norm', 'tokens_per_s']) expect(r[k], k).to.be.a('number');
    expect(rows[0].lr).to.equal(0); // warmup: ceil(0.03 * 4) = 1 step at lr 0
    expect(readFileSync(path.join(dpoDir, 'work', 'reference_logps.jsonl'), 'utf8').trimEnd().split('\n')).to.have.length(8);
    expect(readdirSync(path.join(dpoDir, 'work', 'checkpoints'))).to.deep.equal(['step-00000003', 'step-00000004']);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'summary.txt', 'training.svg', 'training.png']) expect(existsSync(path.join(dpoDir, f)), f).to.equal(true);
    expect(existsSync(path.join(dpoDir, 'projector.safetensors')), 'the projector is in the adapter file').to.equal(false);
    expect(JSON.parse(readFileSync(path.join(dpoDir, 'adapter_config.json'), 'utf8')).modules_to_save).to.deep.equal(['multi_modal_projector']);
    const config = (await loadTrainingModel(model)).config;
    const adapter = await readAdapter(dpoDir, config.decoder);
    expect(adapter.projector.map((t) => t.name)).to.deep.equal(['multi_modal_projector.linear_1.weight', 'multi_modal_projector.linear_1.bias', 'multi_modal_projector.linear_2.weight', 'multi_modal_projector.linear_2.bias']);
    expect(adapter.spec).to.deep.equal({ r: 4, alpha: 8, dropout: 0.05, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] });
    expect(adapter.tensors.filter((t) => t.name.includes('lora_B')).some((t) => t.data.some((v) => v !== 0))).to.equal(true);

    // Infused instruction data over the same images (one text-only sample), then SFT continuing the
    // DPO adapter with a learning rate too small to move fp32 weights: the result is the DPO adapter.
    const data = path.join(images, 'infused.json');
    writeFileSync(data, JSON.stringify([
      ...readdirSync(images).filter((n) => n.endsWith('.png')).slice(0, 5).map((image, i) => ({ id: `s${i}`, image, conversations: [{ from: 'human', value: `<image>\nImage description:\nred ball.\n\nWhat is it?` }, { from: 'gpt', value: 'A red ball.' }] })),
      { id: 't', conversations: [{ from: 'human', value: 'Hello' }, { from: 'gpt', value: 'Hi there.' }] },
    ]));
    const s = await runCli(['sft', '--model', model, '--data', data, '--init-adapter', dpoDir, '--out', path.join(out, 'sft'), '--epochs', '1', ...common.map((a) => (a === '1e-3' ? '1e-30' : a)), '--projector-lr', '1e-30']);
    expect(s.code, s.stderr).to.equal(0);
    expect(s.stderr).to.contain(`sft: 6 samples from ${data} (1 text-only), continuing ${dpoDir}\n`);
    const sftDir = path.join(out, 'sft');
    const sftRows = readFileSync(path.join(sftDir, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(sftRows).to.have.length(2);
    expect(sftRows[0].loss).to.be.above(0);
    const after = await readAdapter(sftDir, config.decoder);
    expect(after.spec).to.deep.equal(adapter.spec);
    after.tensors.forEach((t, i) => expect(Array.from(t.data), t.name).to.deep.equal(Array.from(adapter.tensors[i].data)));
    expect(after.projector).to.deep.equal(adapter.projector); // stage 1's projector carried into the stage-2 adapter
  });

  it('stic dpo on a TRL-format file (standard and conversational records) takes the step the same pairs in the public format take', async () => {
    const trl = path.join(images, 'pairs-trl.jsonl');
    const lines = readFileSync(prefs, 'utf8').trimEnd().split('\n').map((l, i) => {
      const p = JSON.parse(l) as { image: string; chosen: { content: string }[]; rejected: { content: string }[] };
      const question = p.chosen[0].content.replace('<image>\n', '');
      const [c, r] = [p.chosen[1].content, p.rejected[1].content];
      return JSON.stringify(i % 2 === 0
        ? { prompt: question, chosen: c, rejected: r, images: [p.image] }
        : { prompt: [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: question }] }], chosen: [{ role: 'assistant', content: [{ type: 'text', text: c }] }], rejected: [{ role: 'assistant', content: r }], image: p.image });
    });
    writeFileSync(trl, `${lines.join('\n')}\n`);
    const args = (file: string, out: string) => ['dpo', '--model', model, '--prefs', file, '--out', path.join(dir, out), '--lora-r', '4', '--lora-alpha', '8', '--batch-size', '4', '--lr', '1e-3', '--max-steps', '2', '--threads', '1'];
    const a = await runCli(args(prefs, 'eq-public'));
    const b = await runCli(args(trl, 'eq-trl'));
    expect(a.code, a.stderr).to.equal(0);
    expect(b.code, b.stderr).to.equal(0);
    expect(b.stderr).to.contain(`dpo: 8 pairs from ${trl} (0 ours, 0 public STIC format, 8 TRL format), reference log-probs: compute\n`);
    const rows = (out: string) => readFileSync(path.join(dir, out, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l)).map((r) => [r.step, r.loss, r.reward_chosen, r.reward_rejected, r.grad_norm]);
    expect(rows('eq-trl')).to.have.length(2);
    expect(rows('eq-trl')).to.deep.equal(rows('eq-public'));
  });

  it('--eval-prefs: held-out loss, reward accuracy and margin at the due steps equal a recomputation through lib/engine with the final adapter', async () => {
    const held = path.join(images, 'heldout.jsonl');
    writePairs(held, readdirSync(images).filter((n) => n.endsWith('.png')).slice(0, 5), 77);
    const out = path.join(dir, 'eval-run');
    const r = await runCli(['dpo', '--model', model, '--prefs', prefs, '--eval-prefs', held, '--eval-every', '3', '--out', out, '--lora-r', '4', '--lora-alpha', '8', '--batch-size', '4', '--epochs', '4', '--lr', '5e-3', '--projector-lr', '1e-3', '--warmup-ratio', '0', '--threads', '1']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.contain(`dpo: 5 held-out pairs from ${held} (0 ours, 5 public STIC format), evaluated every 3 steps and at the end\n`);
    const rows = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as MetricsRow);
    expect(rows.map((x) => x.step)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(rows.filter((x) => x.eval_loss !== undefined).map((x) => x.step)).to.deep.equal([2, 5, 7]); // after steps 3, 6 and the last
    const last = rows[7];
    expect(last.eval_pairs).to.equal(5);
    // Independently: the engine's log-probs with the adapter applied in memory (policy) and without (reference), the loss by hand.
    const policy = await openLlavaInference({ model, adapter: out, threads: 1 });
    const reference = await openLlavaInference({ model, threads: 1 });
    const pairs = (await loadDpoData(held, { refLogps: 'auto', reproduceMissingImageToken: false })).examples;
    const items = async (which: 'chosen' | 'rejected') => Promise.all(pairs.map(async (p) => ({ id: p.id, image: await loadImage(p.image), prompt: p.prompt, response: p[which] })));
    const [pc, pr, rc, rr] = await Promise.all([policy.logprobs!(await items('chosen')), policy.logprobs!(await items('rejected')), reference.logprobs!(await items('chosen')), reference.logprobs!(await items('rejected'))]);
    const beta = 0.1;
    const margins = pairs.map((_, i) => beta * (pc[i].sum - rc[i].sum) - beta * (pr[i].sum - rr[i].sum));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const loss = mean(margins.map((m, i) => Math.log1p(Math.exp(-m)) - pc[i].sum / 1024));
    expect(margins.every((m) => Math.abs(m) > 1e-3), 'no margin at the accuracy threshold').to.equal(true);
    if (process.env.STIC_TEST_VERBOSE) console.log('held-out', { loss, margin: mean(margins), row: last, margins });
    expect(Math.abs((last.eval_loss as number) - loss)).to.be.below(1e-4);
    expect(Math.abs((last.eval_reward_margin as number) - mean(margins))).to.be.below(1e-4);
    expect(last.eval_reward_accuracy).to.equal(mean(margins.map((m) => (m > 0 ? 1 : 0))));
    expect(Math.abs(mean(margins))).to.be.above(1e-3); // trained: the held-out margin moved off 0
    const summary = readFileSync(path.join(out, 'summary.txt'), 'utf8');
    expect(summary).to.contain('\neval pairs         5 of 5 in ');
    expect(summary).to.match(/\nheld-out accuracy  [\d.]+ after step 8 \(first [\d.]+ after step 3; 3 evaluations\)\n/);
    const svg = readFileSync(path.join(out, 'training.svg'), 'utf8');
    for (const name of ['held-out loss', 'held-out margin', 'held-out accuracy']) expect(svg, name).to.contain(`data-series="${name}"`);
    // The evaluation takes nothing from training: the same run without it ends with the same adapter.
    const plain = path.join(dir, 'eval-run-plain');
    const p = await runCli(['dpo', '--model', model, '--prefs', prefs, '--out', plain, '--lora-r', '4', '--lora-alpha', '8', '--batch-size', '4', '--epochs', '4', '--lr', '5e-3', '--projector-lr', '1e-3', '--warmup-ratio', '0', '--threads', '1']);
    expect(p.code, p.stderr).to.equal(0);
    for (const f of ['adapter_model.safetensors', 'adapter_config.json']) expect(readFileSync(path.join(out, f)).equals(readFileSync(path.join(plain, f))), f).to.equal(true);
  });

  it('--eval-prefs: a missing or unusable file is named before training; eval rows resume bit for bit', async () => {
    const missing = path.join(dir, 'no-such-heldout.jsonl');
    const m = await runCli(['dpo', '--model', model, '--prefs', prefs, '--eval-prefs', missing, '--out', path.join(dir, 'eval-bad'), '--threads', '1']);
    expect(m.code).to.not.equal(0);
    expect(m.stderr).to.contain(`${missing}: cannot read the file (file not found)`);
    const junk = path.join(dir, 'junk-heldout.jsonl');
    writeFileSync(junk, '{"prompt": "Q?", "chosen": "a", "rejected": "b", "images": ["gone.png"]}\n{"image": 3}\n');
    const j = await runCli(['dpo', '--model', model, '--prefs', prefs, '--eval-prefs', junk, '--out', path.join(dir, 'eval-bad'), '--threads', '1']);
    expect(j.code).to.not.equal(0);
    expect(j.stderr).to.contain(`${junk}: no usable preference pairs (2 records skipped (1 image not found, 1 invalid record))`);
    expect(existsSync(path.join(dir, 'eval-bad', 'metrics.jsonl'))).to.equal(false);
    // Stopped after 5 of 8 steps (its checkpoint at 3), then resumed: the same rows, eval fields included.
    const data = await loadDpoData(prefs, { refLogps: 'auto', reproduceMissingImageToken: false });
    const heldFile = path.join(images, 'heldout-resume.jsonl');
    writePairs(heldFile, readdirSync(images).filter((n) => n.endsWith('.png')).slice(2, 6), 78);
    const heldOut = (await loadDpoData(heldFile, { refLogps: 'auto', reproduceMissingImageToken: false })).examples;
    const o = dpoOptions(prefs, { loraR: 4, loraAlpha: 8, batchSize: 2, gradAccum: 2, lr: 2e-3, epochs: 2, checkpointEvery: 3, seed: 9, evalEvery: 2 });
    const job = (out: string): DpoJob => ({ model, out, resume: true, threads: 1, examples: data.examples, evalExamples: heldOut, options: o });
    const engine = await sticTrainingEngine();
    const whole = hooks();
    await engine.dpo(job(path.join(dir, 'eval-whole')), whole.hooks);
    const cut = path.join(dir, 'eval-cut');
    const first = hooks(5);
    expect(((await engine.dpo(job(cut), first.hooks).catch((e: Error) => e)) as Error).message).to.equal('stopped by the test');
    // The layout of stic before 0.2: resume state at the top of --out; it is moved under work/.
    for (const f of ['checkpoints', 'reference_logps.jsonl']) renameSync(path.join(cut, 'work', f), path.join(cut, f));
    const second = hooks();
    await engine.dpo(job(cut), second.hooks);
    expect(second.starts).to.deep.equal([3]);
    for (const f of ['checkpoints', 'reference_logps.jsonl']) expect([existsSync(path.join(cut, f)), existsSync(path.join(cut, 'work', f))], f).to.deep.equal([false, true]);
    const evalRows = (rs: MetricsRow[]) => rs.filter((x) => x.eval_loss !== undefined).map((x) => [x.step, x.eval_loss, x.eval_reward_accuracy, x.eval_reward_margin]);
    expect(evalRows(whole.rows).map((x) => x[0])).to.deep.equal([1, 3, 5, 7]); // default-free: every 2 steps
    expect(evalRows([...first.rows.slice(0, 3), ...second.rows])).to.deep.equal(evalRows(whole.rows));
    // Other held-out pairs or another interval on resume: the checkpoint belongs to a different run.
    const other = await engine.dpo({ ...job(cut), options: { ...o, evalEvery: 3 } }, hooks().hooks).catch((e: Error) => e);
    expect((other as Error).message).to.contain('eval: checkpoint {"every":2,');
  });

  it('a run stopped after k steps and resumed ends with the same adapter and projector, bit for bit (also when its folder has the earlier layout)', async () => {
    const data = await loadDpoData(prefs, { refLogps: 'auto', reproduceMissingImageToken: false });
    const o = dpoOptions(prefs, { loraR: 4, loraAlpha: 8, batchSize: 2, gradAccum: 2, lr: 2e-3, epochs: 2, checkpointEvery: 3, seed: 9 });
    const job = (out: string): DpoJob => ({ model, out, resume: true, threads: 1, examples: data.examples, options: o });
    const engine = await sticTrainingEngine();
    const whole = hooks();
    await engine.dpo(job(path.join(dir, 'whole')), whole.hooks);
    expect(whole.rows).to.have.length(8);
    const cut = path.join(dir, 'cut');
    const first = hooks(5); // stops after step 4's update, before its checkpoint: resume from step 3
    expect(((await engine.dpo(job(cut), first.hooks).catch((e: Error) => e)) as Error).message).to.equal('stopped by the test');
    // The layout of stic before 0.2: resume state at the top of --out; it is moved under work/.
    for (const f of ['checkpoints', 'reference_logps.jsonl']) renameSync(path.join(cut, 'work', f), path.join(cut, f));
    const second = hooks();
    await engine.dpo(job(cut), second.hooks);
    expect(second.starts).to.deep.equal([3]);
    for (const f of ['checkpoints', 'reference_logps.jsonl']) expect([existsSync(path.join(cut, f)), existsSync(path.join(cut, 'work', f))], f).to.deep.equal([false, true]);
    for (const f of ['adapter_model.safetensors', 'adapter_config.json']) {
      expect(readFileSync(path.join(cut, f)).equals(readFileSync(path.join(dir, 'whole', f))), f).to.equal(true);
    }
    const loss = (r: MetricsRow[]) => r.map((x) => [x.step, x.loss, x.grad_norm]);
    expect(loss([...first.rows.slice(0, 3), ...second.rows])).to.deep.equal(loss(whole.rows));
  });

  it('stic dpo killed with SIGKILL mid-run and run again ends with the uninterrupted run\'s adapter', async () => {
    const args = (out: string) => ['dpo', '--model', model, '--prefs', prefs, '--out', out, '--lora-r', '4', '--lora-alpha', '8', '--batch-size', '2', '--grad-accum', '2', '--epochs', '12', '--lr', '1e-3', '--checkpoint-every', '5', '--threads', '1'];
    const whole = path.join(dir, 'kill-whole');
    expect((await runCli(args(whole))).code).to.equal(0);
    const cut = path.join(dir, 'kill-cut');
    const child = spawn(process.execPath, [path.join(repo, 'bin/stic.js'), ...args(cut)], { stdio: 'ignore' });
    const exited = new Promise<string | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    // Kill once the first checkpoint is on disk, whatever the process is doing at that moment.
    const ckpts = path.join(cut, 'work', 'checkpoints');
    while (!(existsSync(ckpts) && readdirSync(ckpts).some((n) => n.startsWith('step-')))) {
      if (child.exitCode !== null) throw new Error(`stic dpo exited with ${child.exitCode} before its first checkpoint`);
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    expect(await exited).to.equal('SIGKILL');
    const rows = readFileSync(path.join(cut, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.length > 0);
    expect(rows.length).to.be.below(48); // killed before the end (12 epochs x 4 steps)
    const again = await runCli(args(cut));
    expect(again.code, again.stderr).to.equal(0);
    for (const f of ['adapter_model.safetensors', 'adapter_config.json']) {
      expect(readFileSync(path.join(cut, f)).equals(readFileSync(path.join(whole, f))), f).to.equal(true);
    }
    const steps = readFileSync(path.join(cut, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l).step);
    expect(steps).to.deep.equal(Array.from({ length: 48 }, (_, i) => i));
  });

  it('learning: DPO on fixed pairs raises reward accuracy and margin on those pairs', async () => {
    const data = await loadDpoData(prefs, { refLogps: 'auto', reproduceMissingImageToken: false });
    const o = dpoOptions(prefs, { loraR: 8, loraAlpha: 16, loraDropout: 0, batchSize: 4, gradAccum: 1, lr: 5e-3, projectorLr: 1e-3, epochs: 16, warmupRatio: 0.1, schedule: 'constant', checkpointEvery: 100, seed: 3 });
    const out = path.join(dir, 'learn');
    const rec = hooks();
    await (await sticTrainingEngine()).dpo({ model, out, resume: false, threads: 1, examples: data.examples, options: o }, rec.hooks);
    expect(rec.rows).to.have.length(32);
    // Measure on the same pairs: policy vs reference summed log-probs, before (a fresh adapter) and after.
    const m = await loadTrainingModel(model);
    const pairs = tokenizePairs(m.encoder, data.examples, 2048).examples;
    const imgs = await StepImages.load(pairs.map((p) => p.image), m.pixels);
    const g = imgs.gather(pairs.map((p) => p.image));
    const nativePairs = pairs.map((p, i) => ({ images: g.images[i], promptIds: p.promptIds, chosenIds: p.chosenIds, rejectedIds: p.rejectedIds }));
    const measure = async (adapterDir: string | null) => {
      const t = await native().createTrainer(m.model, { lora: { r: 8, alpha: 16, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 1 }, trainProjector: true });
      if (adapterDir) {
        const a = await readAdapter(adapterDir, m.config.decoder);
        await t.setTensors('param', [...a.tensors, ...a.projector].map((x) => ({ name: x.name, data: x.data })));
      }
      const pol = await t.pairLogprobs(g.pixels, g.layouts, nativePairs, pairLogprobsOptions('policy'));
      const ref = await t.pairLogprobs(g.pixels, g.layouts, nativePairs, pairLogprobsOptions('reference'));
      const margins = pairs.map((_, i) => 0.1 * (pol.chosen[i] - ref.chosen[i] - (pol.rejected[i] - ref.rejected[i])));
      const r = { accuracy: margins.filter((x) => x > 0).length / margins.length, margin: margins.reduce((a, b) => a + b, 0) / margins.length };
      if (process.env.STIC_TEST_VERBOSE) console.log('learning', adapterDir ? 'after' : 'before', r, margins);
      return r;
    };
    const before = await measure(null);
    const after = await measure(out);
    expect(before).to.deep.equal({ accuracy: 0, margin: 0 }); // B = 0: the policy is the reference
    expect(after.accuracy).to.be.at.least(0.75);
    expect(after.margin).to.be.above(before.margin + 0.05);
    const tail = rec.rows.slice(-4).reduce((a, r) => a + r.loss, 0) / 4;
    expect(tail).to.be.below(rec.rows[0].loss - 0.05);
  });
});

describe('stic export against the transformers/PEFT fixture', function () {
  this.timeout(60_000);
  let dir: string;
  before(function () {
    if (!hasTrainer()) this.skip();
    dir = mkdtempSync(path.join(tmpdir(), 'stic-export-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, shard] of [['llava-tiny-llama', undefined], ['llava-tiny-mistral-gqa', 60_000]] as const) {
    it(`merged weights of ${name} + its PEFT adapter give PEFT's policy log-probs${shard ? ' (sharded)' : ''}`, async () => {
      const fx = await loadFixture(name);
      const out = path.join(dir, name);
      const r = await exportMerged({ model: fx.dir, adapter: path.join(fx.dir, 'adapter'), out, maxShardBytes: shard });
      const d = loadModelConfig(fx.dir).decoder;
      expect(r.merged).to.equal(7 * d.numLayers);
      expect(existsSync(path.join(out, 'config.json'))).to.equal(true);
      if (shard) expect(existsSync(path.join(out, 'model.safetensors.index.json'))).to.equal(true);
      const merged = await loadModel(out, { tokenizer: null });
      const expected = JSON.parse(readFileSync(path.join(fx.dir, 'expected.json'), 'utf8')).dpo.label['per_pair[loss,pc,pr,rc,rr]'] as number[][];
      for (let i = 0; i < 2; i++) {
        const it = fx.items[i];
        const [c, j] = await merged.logprobs([
          { promptIds: it.prompt, responseIds: it.chosen.slice(it.prompt.length), image: fx.images[i] },
          { promptIds: it.prompt, responseIds: it.rejected.slice(it.prompt.length), image: fx.images[i] },
        ]);
        expect(relError(Float32Array.of(c.sum, j.sum), Float32Array.of(expected[i][1], expected[i][2]))).to.be.below(1e-5);
      }
    });
  }

  it('stic export (CLI) on llava-tiny-llama-fullfeat-lastlayer: reports what it merged and lists the files', async () => {
    const fx = await loadFixture('llava-tiny-llama-fullfeat-lastlayer');
    const out = path.join(dir, 'cli');
    const r = await runCli(['export', '--model', fx.dir, '--adapter', path.join(fx.dir, 'adapter'), '--out', out]);
    expect(r.code, r.stderr).to.equal(0);
    const tensors = (await openCheckpoint(fx.dir)).tensors.size;
    const bars = r.stderr.split('\n').filter((l) => l.startsWith('export |'));
    expect(bars.at(-1)).to.match(new RegExp(`^export \\|#+\\| ${tensors}/${tensors} 100% \\| `)); // the bar over the tensors written
    expect(r.stderr.split('\n').filter((l) => l.length > 0 && !l.startsWith('export |'))).to.deep.equal([
      `export: 14 linear layers merged, ${tensors - 14} tensors copied`,
      'export: not copied (not config, processor or tokenizer files of the model): expected.json',
    ]);
    expect(r.stdout.trimEnd().split('\n').map((f) => path.basename(f)).sort()).to.deep.equal(['README.md', 'config.json', 'generation_config.json', 'model.safetensors']);
    const m = await loadModel(out, { tokenizer: null });
    const it1 = fx.items[1];
    const [j] = await m.logprobs([{ promptIds: it1.prompt, responseIds: it1.rejected.slice(it1.prompt.length), image: fx.images[1] }]);
    const expected = JSON.parse(readFileSync(path.join(fx.dir, 'expected.json'), 'utf8')).dpo.label['per_pair[loss,pc,pr,rc,rr]'] as number[][];
    expect(Math.abs(j.sum - expected[1][2]) / Math.abs(expected[1][2])).to.be.below(1e-5);
  });

  it('stic export --dtype bf16 --max-shard-size: every float tensor is the fp32 export\'s rounded once, sharded, with torch_dtype and its own model card', async () => {
    const fx = await loadFixture('llava-tiny-llama');
    const base = path.join(dir, 'base-with-extras');
    mkdirSync(base);
    for (const f of ['config.json', 'generation_config.json', 'model.safetensors']) copyFileSync(path.join(fx.dir, f), path.join(base, f));
    writeFileSync(path.join(base, 'README.md'), '# the base model\'s own card\n');
    writeFileSync(path.join(base, 'notes.txt'), 'a stray file\n');
    const adapter = path.join(dir, 'card-adapter');
    mkdirSync(adapter);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors']) copyFileSync(path.join(fx.dir, 'adapter', f), path.join(adapter, f));
    writeFileSync(path.join(adapter, 'summary.txt'), 'steps  4\nloss   0.69 -> 0.61\n');
    const f32 = path.join(dir, 'export-fp32');
    const bf16 = path.join(dir, 'export-bf16');
    const a = await runCli(['export', '--model', base, '--adapter', adapter, '--out', f32, '--dtype', 'fp32']);
    expect(a.code, a.stderr).to.equal(0);
    expect(a.stderr).to.contain('export: not copied (not config, processor or tokenizer files of the model): notes.txt\n'); // README.md is replaced, not copied
    const b = await runCli(['export', '--model', base, '--adapter', adapter, '--out', bf16, '--dtype', 'bf16', '--max-shard-size', '20KB']);
    expect(b.code, b.stderr).to.equal(0);
    const shards = readdirSync(bf16).filter((n) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(n));
    expect(shards.length).to.be.above(1);
    for (const n of shards) {
      const t = [...(await openSafetensors(path.join(bf16, n))).tensors.values()];
      if (t.length > 1) expect(t.reduce((sum, e) => sum + e.nbytes, 0), n).to.be.at.most(20_000); // one tensor alone may pass the limit
    }
    expect(existsSync(path.join(bf16, 'notes.txt'))).to.equal(false);
    expect(JSON.parse(readFileSync(path.join(bf16, 'config.json'), 'utf8')).torch_dtype).to.equal('bfloat16');
    const wide = await openCheckpoint(f32);
    const narrow = await openCheckpoint(bf16);
    expect([...narrow.tensors.keys()].sort()).to.deep.equal([...wide.tensors.keys()].sort());
    for (const [name, e] of narrow.tensors) {
      const w = wide.tensors.get(name)!;
      if (w.dtype !== 'F32') {
        expect(e.dtype, name).to.equal(w.dtype); // integer tensors as stored
        continue;
      }
      expect(e.dtype, name).to.equal('BF16');
      const [bits] = await readTensors([e]);
      const [values] = await readTensors([w], { as: 'F32' });
      const rounded = new Uint16Array(values.length);
      await native().convertDType(values as Float32Array, 'F32', rounded, 'BF16');
      expect(Buffer.from((bits as Uint16Array).buffer).equals(Buffer.from(rounded.buffer)), name).to.equal(true);
    }
    const card = readFileSync(path.join(bf16, 'README.md'), 'utf8');
    expect(card.startsWith(`---\nbase_model: ${path.basename(base)}\nlibrary_name: transformers\npipeline_tag: image-text-to-text\n`), card).to.equal(true);
    expect(card).to.not.contain('the base model\'s own card');
    expect(card).to.contain('(q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj; r ');
    expect(card).to.contain('- Floating-point tensors are BF16.\n');
    expect(card).to.contain('LlavaForConditionalGeneration.from_pretrained("path/to/this/folder")');
    expect(card).to.contain('```\nsteps  4\nloss   0.69 -> 0.61\n```\n');
    expect(card).to.not.contain(dir); // no local path
    const bad = await runCli(['export', '--model', base, '--adapter', adapter, '--out', path.join(dir, 'export-bad'), '--max-shard-size', '5 gigs']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.contain('--max-shard-size: expected a size such as 5GB, 500MB, 1.5GiB or a number of bytes but received "5 gigs"');
  });

  it('adapterForLoad: base + adapter applied in memory gives PEFT\'s log-probs and the merged export\'s to 1e-6; follows a retrained adapter', async () => {
    const fx = await loadFixture('llava-tiny-llama');
    const adapter = path.join(dir, 'in-memory-adapter');
    mkdirSync(adapter);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors']) copyFileSync(path.join(fx.dir, 'adapter', f), path.join(adapter, f));
    const it0 = fx.items[0];
    const req = [{ promptIds: it0.prompt, responseIds: it0.chosen.slice(it0.prompt.length), image: fx.images[0] }];
    const m = await loadModel(fx.dir, { tokenizer: null, adapter: await adapterForLoad(fx.dir, adapter) });
    const [c] = await m.logprobs(req);
    const expected = JSON.parse(readFileSync(path.join(fx.dir, 'expected.json'), 'utf8')).dpo.label['per_pair[loss,pc,pr,rc,rr]'] as number[][];
    expect(Math.abs(c.sum - expected[0][1]) / Math.abs(expected[0][1])).to.be.below(1e-5);
    expect(readdirSync(adapter).sort()).to.deep.equal(['adapter_config.json', 'adapter_model.safetensors']); // nothing written
    const out = path.join(dir, 'in-memory-vs-export');
    await exportMerged({ model: fx.dir, adapter, out });
    const [e] = await (await loadModel(out, { tokenizer: null })).logprobs(req);
    expect(Array.from(c.tokenLogps).map((v, i) => Math.abs(v - e.tokenLogps[i])).reduce((a, b) => Math.max(a, b), 0)).to.be.below(1e-6);
    // A retrained adapter (B scaled by 2 doubles the update) loads as what it now holds.
    const a = await readAdapter(adapter, loadModelConfig(fx.dir).decoder);
    await writeAdapter(adapter, { ...a, tensors: a.tensors.map((t) => ({ ...t, data: t.name.includes('lora_B') ? t.data.map((v) => 2 * v) : t.data })) });
    const [c2] = await (await loadModel(fx.dir, { tokenizer: null, adapter: await adapterForLoad(fx.dir, adapter) })).logprobs(req);
    expect(Math.abs(c2.sum - c.sum)).to.be.above(1e-3);
  });

  it('a trained projector of an older adapter (projector.safetensors beside it) replaces the checkpoint\'s; existing weights in --out are refused', async () => {
    const fx = await loadFixture('llava-tiny-llama');
    const adapter = path.join(dir, 'adapter-with-projector');
    mkdirSync(adapter);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors']) copyFileSync(path.join(fx.dir, 'adapter', f), path.join(adapter, f));
    const base = await openCheckpoint(fx.dir);
    const rng = makeRng(6);
    const proj = [...base.tensors.values()].filter((t) => t.name.startsWith('multi_modal_projector.')).map((t) => ({ name: t.name, shape: t.shape, data: rng.normalArray(t.shape.reduce((a, b) => a * b, 1), 0.05) }));
    await writeSafetensors(path.join(adapter, 'projector.safetensors'), proj.map((p) => ({ ...p, dtype: 'F32' as const })));
    const out = path.join(dir, 'with-projector');
    const r = await exportMerged({ model: fx.dir, adapter, out });
    expect(r.projector).to.equal(true);
    const ck = await openCheckpoint(out);
    const back = await readTensors(proj.map((p) => ck.tensors.get(p.name)!), { as: 'F32' });
    back.forEach((b, i) => expect(Array.from(b)).to.deep.equal(Array.from(proj[i].data)));
    const err = await exportMerged({ model: fx.dir, adapter, out }).catch((e: Error) => e);
    expect((err as Error).message).to.equal(`Expected --out to be a new or weight-free folder but ${out} holds model.safetensors`);
  });
});
