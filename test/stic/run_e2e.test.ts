// `stic run` end to end on a small random LLaVA model, a dozen generated images and a tiny
// instruction set, with a YAML config: pref -> dpo -> describe (with the stage-1 adapter) -> infuse
// -> sft (continuing it). Checked: every output is present and well-formed; describe really used
// the stage-1 model; a run killed with SIGKILL during dpo and run again ends with the same files as
// an uninterrupted run; a cut descriptions file resumes to the same bytes without redoing what
// follows; a re-run of a complete pipeline skips every stage.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

import { type ChatModel, imagePixels, loadChatModel, userPromptIds } from '../../lib/engine/chat_input.ts';
import { loadModelConfig } from '../../lib/model/config.ts';
import { adapterForLoad } from '../../lib/train/adapted_model.ts';
import { DEFAULT_PROMPTS } from '../../lib/data/prompts.ts';
import { readAdapter } from '../../lib/train/adapter_io.ts';
import { repo, runCli, writeTinyLlava } from './cli_helpers.ts';
import { writeImages } from './fakes.ts';
import { comparable, filesUnder, jsonl } from './run_compare.ts';

const STAGE_FILES = ['pref.jsonl', 'dpo', 'descriptions.jsonl', 'infused.json', 'sft'];

async function greedy(chat: ChatModel, image: string, prompt: string): Promise<string> {
  const [r] = await chat.model.generate([{ ids: userPromptIds(chat, prompt, true), image: await imagePixels(chat.model.config, image), maxNewTokens: 6, temperature: 0 }]);
  return (r.text ?? '').trim();
}

describe('stic run: the whole pipeline on a small random model', function () {
  this.timeout(60_000);
  let dir: string;
  let cfg: string;
  let out: string;
  let whole: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-run-'));
    await writeTinyLlava(path.join(dir, 'model'));
    const names = await writeImages(path.join(dir, 'images'), 12, 3, 40, 30);
    const samples = names.slice(0, 6).map((image, i) => ({
      id: `s${i}`,
      image,
      conversations: [{ from: 'human', value: `<image>\nWhat is shown ${i}?` }, { from: 'gpt', value: `Colours number ${i}.` }, { from: 'human', value: 'Anything else?' }, { from: 'gpt', value: 'No.' }],
    }));
    writeFileSync(path.join(dir, 'instr.json'), JSON.stringify([...samples, { id: 'text', conversations: [{ from: 'human', value: 'Hi' }, { from: 'gpt', value: 'Hello' }] }]));
    cfg = path.join(dir, 'run.yaml');
    writeFileSync(
      cfg,
      `model: model
out: run
seed: 7
threads: 1
pref:
  images: images
  max-new-tokens: 6
  batch-size: 4
  ref-logps: true
dpo:
  lora-r: 4
  lora-alpha: 8
  batch-size: 4
  epochs: 6
  lr: 1.0e-2
  checkpoint-every: 2
describe:
  instructions: instr.json
  image-root: images
  max-new-tokens: 6
  batch-size: 4
  temperature: 0
sft:
  batch-size: 2
  epochs: 2
  lr: 1.0e-2
  checkpoint-every: 2
`,
    );
    out = path.join(dir, 'run');
    whole = path.join(dir, 'run-whole');
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs every stage; each output is present and well-formed', async () => {
    const r = await runCli(['run', cfg]);
    expect(r.code, r.stderr).to.equal(0);
    for (const f of STAGE_FILES) expect(existsSync(`${out}/${f}.done.json`), f).to.equal(true);

    const pairs = jsonl(`${out}/pref.jsonl`);
    const skipped = existsSync(`${out}/pref.jsonl.skipped.jsonl`) ? jsonl(`${out}/pref.jsonl.skipped.jsonl`) : [];
    expect(pairs.length + skipped.length).to.equal(12);
    expect(pairs.length).to.be.at.least(8);
    for (const p of pairs) {
      const [chosen, rejected] = [p.chosen, p.rejected] as { role: string; content: string }[][];
      expect(chosen[0]).to.deep.equal(rejected[0]); // one stored user turn, with the image
      expect(DEFAULT_PROMPTS.plain.map((t) => `<image>\n${t}`)).to.include(chosen[0].content);
      expect(chosen[1].content).to.not.equal('');
      expect(p.ref_chosen_logp).to.be.a('number').and.below(0);
      expect(p.ref_rejected_logp).to.be.a('number').and.below(0);
    }

    const decoder = loadModelConfig(path.join(dir, 'model')).decoder;
    const dpo = await readAdapter(`${out}/dpo`, decoder);
    expect(dpo.spec).to.deep.equal({ r: 4, alpha: 8, dropout: 0.05, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] });
    const steps = 6 * Math.ceil(pairs.length / 4);
    await checkTraining(`${out}/dpo`, steps, 'dpo (STIC stage 1b)');
    const dpoRows = jsonl(`${out}/dpo/metrics.jsonl`);
    for (const row of dpoRows) for (const k of ['reward_margin', 'reward_accuracy']) expect(row[k], k).to.be.a('number');
    expect(dpoRows.at(-1)!.loss as number).to.be.below(dpoRows[0].loss as number); // lr 1e-2 moves a random model

    // Stage 2a described with the stage-1 model (base + adapter, applied in memory; nothing on disk):
    // its greedy answers, and not all of the base model's.
    const descs = jsonl(`${out}/descriptions.jsonl`);
    expect(descs.map((d) => d.id)).to.deep.equal(['s0', 's1', 's2', 's3', 's4', 's5']);
    expect(existsSync(`${out}/dpo/merged-model`)).to.equal(false);
    const stage1 = await loadChatModel(path.join(dir, 'model'), { adapter: await adapterForLoad(path.join(dir, 'model'), `${out}/dpo`) });
    const base = await loadChatModel(path.join(dir, 'model'));
    let differs = 0;
    for (const d of descs) {
      const image = path.join(dir, 'images', d.image as string);
      expect(d.description).to.equal(await greedy(stage1, image, d.prompt as string));
      if ((await greedy(base, image, d.prompt as string)) !== d.description) differs++;
    }
    expect(differs).to.be.above(0);

    const infused = JSON.parse(readFileSync(`${out}/infused.json`, 'utf8')) as { id: string; conversations: { value: string }[] }[];
    expect(infused.map((s) => s.id)).to.deep.equal(['s0', 's1', 's2', 's3', 's4', 's5', 'text']);
    descs.forEach((d, i) => {
      expect(infused[i].conversations[0].value).to.equal(`<image>\nImage description:\n${d.description}\n\nWhat is shown ${i}?`);
      expect(infused[i].conversations[2].value).to.equal('Anything else?');
    });
    expect(infused[6].conversations[0].value).to.equal('Hi');

    const sft = await readAdapter(`${out}/sft`, decoder);
    expect(sft.spec).to.deep.equal(dpo.spec); // continued, not a new adapter
    expect(sft.tensors.some((t, i) => t.data.some((v, j) => v !== dpo.tensors[i].data[j]))).to.equal(true);
    await checkTraining(`${out}/sft`, 2 * Math.ceil(7 / 2), 'sft (STIC stage 2b)');
  });

  it('killed with SIGKILL during dpo and run again: the same final files as the uninterrupted run', async function () {
    if (!existsSync(out)) this.skip();
    renameSync(out, whole); // the killed run writes to the same path, so path-bearing files compare too
    const child = spawn(process.execPath, [path.join(repo, 'bin/stic.js'), 'run', cfg], { stdio: 'ignore' });
    const exited = new Promise<string | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const ckpts = `${out}/dpo/work/checkpoints`;
    while (!(existsSync(ckpts) && readdirSync(ckpts).some((n) => n.startsWith('step-')))) {
      if (child.exitCode !== null) throw new Error(`stic run exited with ${child.exitCode} before dpo's first checkpoint`);
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    expect(await exited).to.equal('SIGKILL');
    expect(existsSync(`${out}/pref.jsonl.done.json`)).to.equal(true);
    expect(existsSync(`${out}/dpo.done.json`)).to.equal(false); // killed mid-dpo

    const again = await runCli(['run', cfg]);
    expect(again.code, again.stderr).to.equal(0);
    // The killed run's output-folder lock names a process that no longer runs: taken over, with a note.
    const note = `note: took over the lock of ${out} left by process ${child.pid} (stic run ${cfg}), which no longer runs\n`;
    expect(again.stderr.startsWith(note), again.stderr).to.equal(true);
    expect(again.stderr.slice(note.length)).to.match(/^pref: skip \(complete: 12 inputs, \d+ pairs, \d+ skipped\)\ndpo: resume \(output present without a completion manifest\)\n/);
    const files = filesUnder(whole);
    expect(filesUnder(out)).to.deep.equal(files);
    for (const f of files) expect(comparable(path.join(out, f)), f).to.deep.equal(comparable(path.join(whole, f)));
  });

  it('a cut descriptions file resumes to the same bytes, and what follows it stays complete', async function () {
    if (!existsSync(`${out}/sft.done.json`)) this.skip();
    const file = `${out}/descriptions.jsonl`;
    const text = readFileSync(file, 'utf8');
    const two = text.split('\n').slice(0, 2).join('\n').length + 1;
    truncateSync(file, two);
    appendFileSync(file, text.slice(two, two + 9)); // a torn write
    rmSync(`${file}.done.json`);
    const r = await runCli(['run', cfg]);
    expect(r.code, r.stderr).to.equal(0);
    expect(readFileSync(file, 'utf8')).to.equal(text);
    const said = r.stderr.split('\n').filter((l) => /^[a-z]+: (skip|resume|run)/.test(l)).map((l) => l.replace(/ \(.*/, ''));
    expect(said).to.deep.equal(['pref: skip', 'dpo: skip', 'describe: resume', 'infuse: skip', 'sft: skip']);
    expect(r.stderr).to.contain(`describe: 4 written to ${file} (resumed: 2 were already there), 6 inputs\n`);
  });

  it('a re-run of the complete pipeline skips every stage and writes nothing', async function () {
    if (!existsSync(`${out}/sft.done.json`)) this.skip();
    const before = filesUnder(out).map((f) => [f, readFileSync(path.join(out, f))] as const);
    const r = await runCli(['run', cfg]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('');
    expect(r.stderr.trimEnd().split('\n').map((l) => l.replace(/ \(.*/, ''))).to.deep.equal(['pref: skip', 'dpo: skip', 'describe: skip', 'infuse: skip', 'sft: skip']);
    for (const [f, bytes] of before) expect(readFileSync(path.join(out, f)).equals(bytes), f).to.equal(true);
  });
});

/** The files of a finished training stage: metrics (steps 0..n-1), summary, chart as SVG and PNG. */
async function checkTraining(folder: string, steps: number, stage: string): Promise<void> {
  const rows = jsonl(`${folder}/metrics.jsonl`);
  expect(rows.map((r) => r.step)).to.deep.equal(Array.from({ length: steps }, (_, i) => i));
  for (const row of rows) {
    expect(Number.isFinite(row.loss), `loss at step ${row.step}`).to.equal(true);
    expect(row.lr).to.be.a('number').and.at.least(0);
  }
  const summary = readFileSync(`${folder}/summary.txt`, 'utf8');
  expect(summary.split('\n')[0]).to.match(new RegExp(`^stage +${stage.replace(/[()]/g, '\\$&')}$`));
  expect(summary).to.match(new RegExp(`\\nsteps +${steps}\\n`));
  expect(summary).to.match(/\nloss +first [0-9.]+, last [0-9.]+/);
  const svg = readFileSync(`${folder}/training.svg`, 'utf8');
  expect(svg.startsWith('<svg')).to.equal(true);
  expect(svg).to.contain('loss');
  const png = await sharp(`${folder}/training.png`).metadata();
  expect(png.format).to.equal('png');
  expect(png.width).to.be.above(100);
}
