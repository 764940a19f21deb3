// The memory plan as `stic dpo` and `stic sft` show it, on a tiny random model: printed before the
// first step with the choice; --grad-checkpointing on trains the very same adapter (with its
// projector, bit for bit) as off; auto under a --memory-budget between the two totals checkpoints; a budget
// too small even with checkpointing is refused before anything runs (no reference pre-pass, no
// metrics), naming the sizes; off is refused when only checkpointing fits.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { REFERENCE_FILE } from '../../lib/train/reference.ts';
import { workPath } from '../../lib/train/work_dir.ts';
import { makeRng } from '../helpers/rng.ts';
import { runCli, writeTinyLlava } from '../stic/cli_helpers.ts';
import { writeImages } from '../stic/fakes.ts';

const WORDS = ['red', 'blue', 'ball', 'dog', 'cat', 'tree', 'sky', 'on', 'the', 'grass'];

/** Public-format pairs, one per image, the same user turn; answers of about `words` words. */
function writePairs(file: string, images: string[], words = 5): void {
  const rng = makeRng(3);
  const say = (n: number) => `${Array.from({ length: n }, () => WORDS[rng.int(0, WORDS.length)]).join(' ')}.`;
  const user = { role: 'user', content: '<image>\nDescribe the image.' };
  const lines = images.map((image) => JSON.stringify({ image, chosen: [user, { role: 'assistant', content: say(words) }], rejected: [user, { role: 'assistant', content: say(words + 2) }] }));
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/** The rows of the plan's largest step, as printed. */
function planRows(stderr: string): number {
  const m = /memory plan of the largest step \((\d+) rows,/.exec(stderr);
  if (!m) throw new Error(`no plan in:\n${stderr}`);
  return Number(m[1]);
}

/** The plan's total column (without | with checkpointing), in MiB as printed. */
function totals(stderr: string): [number, number] {
  const m = /^dpo: {3}total +([\d.]+) (KiB|MiB) \| ([\d.]+) (KiB|MiB)$/m.exec(stderr);
  if (!m) throw new Error(`no plan total in:\n${stderr}`);
  const mib = (x: string, unit: string) => Number(x) / (unit === 'KiB' ? 1024 : 1);
  return [mib(m[1], m[2]), mib(m[3], m[4])];
}

describe('stic dpo / sft: the memory plan', function () {
  this.timeout(120_000);
  let dir: string;
  let model: string;
  let prefs: string;
  let names: string[];
  const common = ['--lora-r', '4', '--lora-alpha', '8', '--batch-size', '4', '--lr', '1e-3', '--warmup-ratio', '0', '--threads', '1'];
  // The adapter file holds the LoRA tensors and the trained projector (PEFT modules_to_save).
  const files = (out: string) => [readFileSync(path.join(out, 'adapter_model.safetensors'))];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-plan-'));
    model = path.join(dir, 'model');
    await writeTinyLlava(model);
    const images = path.join(dir, 'images');
    names = await writeImages(images, 8, 4, 40, 30);
    prefs = path.join(images, 'pairs.jsonl');
    writePairs(prefs, names);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('prints the plan before the first step; on trains bit for bit what off trains; auto checkpoints under a budget between the totals', async () => {
    const off = path.join(dir, 'off');
    const a = await runCli(['dpo', '--model', model, '--prefs', prefs, '--out', off, ...common]);
    expect(a.code, a.stderr).to.equal(0);
    expect(a.stderr).to.match(/\ndpo: memory plan of the largest step \(\d+ rows, \d+ keys, \d+ scored tokens, 16 image feature rows\):\ndpo: {3}weights +[\d.]+ [KM]iB\n/);
    expect(a.stderr).to.contain('dpo:   gradient checkpointing: off (auto: the full plan fits)\n');
    expect(a.stderr.indexOf('memory plan'), 'before the first step').to.be.below(a.stderr.indexOf('dpo |'));
    expect(existsSync(workPath(off, REFERENCE_FILE)), 'a run that starts makes its reference pre-pass').to.equal(true);
    const [full, ckpt] = totals(a.stderr);
    expect(ckpt).to.be.below(full);

    const on = path.join(dir, 'on');
    const b = await runCli(['dpo', '--model', model, '--prefs', prefs, '--out', on, '--grad-checkpointing', 'on', ...common]);
    expect(b.code, b.stderr).to.equal(0);
    expect(b.stderr).to.contain('dpo:   gradient checkpointing: on (--grad-checkpointing on)\n');
    files(on).forEach((f, i) => expect(f.equals(files(off)[i]), `file ${i}`).to.equal(true));

    const auto = path.join(dir, 'auto');
    const budget = ((full + ckpt) / 2 / 1024).toFixed(6);
    const c = await runCli(['dpo', '--model', model, '--prefs', prefs, '--out', auto, '--memory-budget', budget, ...common]);
    expect(c.code, c.stderr).to.equal(0);
    expect(c.stderr).to.contain(`(--memory-budget ${Number(budget)})\ndpo:   gradient checkpointing: on (auto: the full plan exceeds the budget)\n`);
    files(auto).forEach((f, i) => expect(f.equals(files(off)[i]), `file ${i}`).to.equal(true));

    const refused = path.join(dir, 'refused-off');
    const d = await runCli(['dpo', '--model', model, '--prefs', prefs, '--out', refused, '--memory-budget', budget, '--grad-checkpointing', 'off', ...common]);
    expect(d.code).to.not.equal(0);
    expect(d.stderr).to.match(/does not fit in the memory budget without gradient checkpointing: .*; with gradient checkpointing it would need [\d.]+ [KM]iB \(--grad-checkpointing on\)/);
  });

  it('a budget too small even with checkpointing is refused before the reference pre-pass, naming the sizes', async () => {
    const out = path.join(dir, 'tiny-budget');
    const r = await runCli(['dpo', '--model', model, '--prefs', prefs, '--out', out, '--memory-budget', '0.00001', ...common]);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(
      /the largest training step does not fit in the memory budget even with gradient checkpointing: weights [\d.]+ [KM]iB \+ trainable parameters, gradients and AdamW moments [\d.]+ [KM]iB \+ saved activations [\d.]+ [KM]iB \+ scratch [\d.]+ [KM]iB = [\d.]+ [KM]iB, but the budget is 10\.49 KiB \(--memory-budget 0\.00001\)/,
    );
    expect(existsSync(workPath(out, REFERENCE_FILE)), 'no reference pre-pass').to.equal(false);
    expect(existsSync(path.join(out, 'metrics.jsonl')), 'no step').to.equal(false);
  });

  it('held-out pairs (--eval-prefs) longer than the training pairs are planned for too', async () => {
    const held = path.join(dir, 'images', 'held-long.jsonl');
    writePairs(held, names.slice(0, 2), 40);
    const plain = await runCli(['dpo', '--model', model, '--prefs', prefs, '--out', path.join(dir, 'plan-plain'), '--max-steps', '1', ...common]);
    const withHeld = await runCli(['dpo', '--model', model, '--prefs', prefs, '--eval-prefs', held, '--out', path.join(dir, 'plan-held'), '--max-steps', '1', ...common]);
    expect(plain.code, plain.stderr).to.equal(0);
    expect(withHeld.code, withHeld.stderr).to.equal(0);
    expect(planRows(withHeld.stderr)).to.be.above(planRows(plain.stderr) + 40);
  });

  it('stic sft prints its plan too', async () => {
    const data = path.join(dir, 'images', 'infused.json');
    writeFileSync(data, JSON.stringify([{ id: 't', conversations: [{ from: 'human', value: 'Hello' }, { from: 'gpt', value: 'Hi there.' }] }]));
    const r = await runCli(['sft', '--model', model, '--data', data, '--out', path.join(dir, 'sft'), '--grad-checkpointing', 'on', ...common]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/\nsft: memory plan of the largest step \(\d+ rows, \d+ keys, \d+ scored tokens, 0 image feature rows\):\n/);
    expect(r.stderr).to.contain('sft:   gradient checkpointing: on (--grad-checkpointing on)\n');
  });
});
