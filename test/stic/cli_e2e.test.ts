// The stage commands end to end on a small random LLaVA model (real engine, real image kernels)
// with the fixture tokenizer and a dozen generated images: stic pref (with reference log-probs,
// checked against the engine's own scoring), kill-and-resume to the same bytes, stic describe and
// stic infuse, stic run through every stage (run_e2e.test.ts checks its outputs and resumes in
// depth), and the flag errors of stic pref / dpo / sft with their exact messages.
import { expect } from 'chai';
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { imagePixels, loadChatModel, userPromptIds } from '../../lib/engine/chat_input.ts';
import { responseTokenIds } from '../../lib/stic/engine_adapters.ts';
import { runCli, writeTinyLlava } from './cli_helpers.ts';
import { writeImages } from './fakes.ts';

describe('stage commands on a small random model', () => {
  let dir: string;
  let model: string;
  let images: string;
  const prefArgs = () => ['pref', '--model', model, '--images', images, '--max-new-tokens', '6', '--batch-size', '4', '--ref-logps'];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-e2e-'));
    model = path.join(dir, 'model');
    images = path.join(dir, 'images');
    await writeTinyLlava(model);
    await writeImages(images, 12, 3, 40, 30);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('stic pref writes pairs with provenance and reference log-probs equal to the engine\'s own scoring', async () => {
    const out = path.join(dir, 'pref.jsonl');
    const r = await runCli([...prefArgs(), '--out', out]);
    expect(r.code, r.stderr).to.equal(0);
    const recs = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    const skipped = existsSync(`${out}.skipped.jsonl`) ? readFileSync(`${out}.skipped.jsonl`, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l)) : [];
    expect(recs.length + skipped.length).to.equal(12); // every image is either a pair or a listed skip
    expect(recs.length).to.be.at.least(6);
    for (const s of skipped) expect(s.kind).to.equal('empty generation');
    expect(r.stderr).to.contain(`pref: ${recs.length} written to ${out}, 12 inputs\n`);
    for (const rec of recs) {
      expect(rec.provenance.model).to.equal(model);
      expect(rec.provenance.sampling).to.deep.equal({ temperature: 0.2, top_p: 1, top_k: 0, max_new_tokens: 6 });
      if (rec.provenance.corruption) {
        expect(['lowres', 'jitter']).to.include(rec.provenance.corruption.kind);
        expect(rec.provenance.corruption.params.kind).to.equal(rec.provenance.corruption.kind); // drawn by the native kernel
      }
    }
    const chat = await loadChatModel(model);
    for (const rec of recs.slice(0, 3)) {
      const pixels = await imagePixels(chat.model.config, path.join(images, rec.image));
      const promptIds = userPromptIds(chat, rec.provenance.prompts.stored, true);
      const [c, j] = await chat.model.logprobs([
        { promptIds, responseIds: responseTokenIds(chat, rec.chosen[1].content), image: pixels },
        { promptIds, responseIds: responseTokenIds(chat, rec.rejected[1].content), image: pixels },
      ]);
      expect(Math.abs(rec.ref_chosen_logp - c.sum)).to.be.at.most(1e-4 * Math.max(1, Math.abs(c.sum)));
      expect(Math.abs(rec.ref_rejected_logp - j.sum)).to.be.at.most(1e-4 * Math.max(1, Math.abs(j.sum)));
      expect(rec.ref_chosen_logp).to.be.below(0);
    }
  });

  it('kill and resume: stic pref re-run on a cut output produces the uninterrupted file byte for byte', async () => {
    const whole = path.join(dir, 'pref.jsonl');
    const cut = path.join(dir, 'pref-cut.jsonl');
    copyFileSync(whole, cut);
    const text = readFileSync(whole, 'utf8');
    const third = text.split('\n').slice(0, 3).join('\n').length + 1;
    truncateSync(cut, third);
    appendFileSync(cut, text.slice(third, third + 25)); // a torn write
    const r = await runCli([...prefArgs().map((a) => (a === '4' ? '5' : a)), '--out', cut]); // another batch size
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/\(resumed: 3 were already there\)/);
    expect(readFileSync(cut)).to.deep.equal(readFileSync(whole));
  });

  it('stic describe, then stic infuse, on instruction samples over the same images', async () => {
    const instr = path.join(dir, 'instr.json');
    const samples = [0, 1, 2, 3].map((i) => ({ id: `s${i}`, image: `img-0${i}.png`, conversations: [{ from: 'human', value: `<image>\nQuestion ${i}?` }, { from: 'gpt', value: `Answer ${i}.` }] }));
    writeFileSync(instr, JSON.stringify([...samples, { id: 't', conversations: [{ from: 'human', value: 'Hi' }, { from: 'gpt', value: 'Hello' }] }]));
    const descs = path.join(dir, 'desc.jsonl');
    const d = await runCli(['describe', '--model', model, '--instructions', instr, '--image-root', images, '--out', descs, '--max-new-tokens', '5', '--temperature', '0']);
    expect(d.code, d.stderr).to.equal(0);
    const lines = readFileSync(descs, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(d.stderr).to.contain('describe: 1 text-only samples need no description\n');
    const infused = path.join(dir, 'infused.json');
    const i = await runCli(['infuse', '--instructions', instr, '--descriptions', descs, '--out', infused]);
    expect(i.code, i.stderr).to.equal(0);
    const out = JSON.parse(readFileSync(infused, 'utf8'));
    for (const l of lines) {
      const s = out.find((o: { id: string }) => o.id === l.id);
      expect(s.conversations[0].value).to.equal(`<image>\nImage description:\n${l.description}\n\nQuestion ${l.id.slice(1)}?`);
    }
    const missing = path.join(dir, 'no-adapter');
    const withAdapter = await runCli(['describe', '--model', model, '--adapter', missing, '--instructions', instr, '--out', path.join(dir, 'd2.jsonl')]);
    expect(withAdapter.code).to.equal(1);
    expect(withAdapter.stderr).to.equal(
      `stic: ${missing}/adapter_config.json: expected a PEFT adapter config but the file does not exist\n`,
    );
  });

  it('stic run: the dry run plans every stage, a run makes every output, a re-run skips every stage', async () => {
    const cfg = path.join(dir, 'run.yaml');
    writeFileSync(
      cfg,
      [
        'model: model', 'out: run', 'threads: 1',
        'pref:', '  images: images', '  max-new-tokens: 4', '  batch-size: 6',
        'dpo:', '  lora-r: 4', '  lora-alpha: 8', '  batch-size: 4', '  lr: 1.0e-3',
        'describe:', '  instructions: instr.json', '  image-root: images', '  max-new-tokens: 4',
        'sft:', '  batch-size: 2', '  lr: 1.0e-3',
      ].join('\n'),
    );
    const dry = await runCli(['run', cfg, '--dry-run', '--set', 'dpo.beta=0.2']);
    expect(dry.code, dry.stderr).to.equal(0);
    const out = path.join(dir, 'run');
    const [plan, options] = dry.stdout.split(`\noptions of ${cfg}:\n`);
    // Every option of every stage with its source: the file, --set, the default (the seed: the top-level default).
    const sectionOf = (stage: string) => options.split(`\n${stage}:\n`)[1].split(/\n\w+:\n/)[0];
    expect(options).to.match(/^ {2}model = \S+\/model\s+\(config: \S+run\.yaml\)\n/);
    expect(options).to.match(/\n {2}threads = 1\s+\(config: \S+run\.yaml\)\n/);
    expect(sectionOf('dpo')).to.match(/^ {2}eval-prefs = \(none\)\s+\(default\)\n/);
    expect(sectionOf('dpo')).to.match(new RegExp(`\n {2}lora-r = 4 +\\(config: ${cfg}\\)\n`));
    expect(sectionOf('dpo')).to.match(/\n {2}beta = 0\.2 +\(--set\)\n/);
    expect(sectionOf('dpo')).to.match(/\n {2}seed = 42 +\(default\)\n/);
    expect(sectionOf('sft')).to.match(/\n {2}lr = 0\.001 +\(config: /);
    expect(`${plan}\n`).to.equal(
      [
        `pref      run\n          -> ${out}/pref.jsonl`,
        `dpo       run (after pref, whose output it reads)\n          -> ${out}/dpo`,
        `describe  run (after dpo, whose output it reads)\n          -> ${out}/descriptions.jsonl`,
        `infuse    run (after describe, whose output it reads)\n          -> ${out}/infused.json`,
        `sft       run (after infuse, dpo, whose output it reads)\n          -> ${out}/sft`,
        '',
        '',
      ].join('\n'),
    );
    expect(existsSync(out)).to.equal(false);
    const first = await runCli(['run', cfg]);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stderr.startsWith('pref: run\n')).to.equal(true);
    for (const stage of ['dpo', 'describe', 'infuse', 'sft']) expect(first.stderr).to.contain(`\n${stage}: run\n`);
    for (const f of ['pref.jsonl', 'dpo/adapter_model.safetensors', 'dpo/training.png', 'descriptions.jsonl', 'infused.json', 'sft/adapter_model.safetensors', 'sft/summary.txt']) {
      expect(existsSync(path.join(out, f)), f).to.equal(true);
    }
    const manifest = JSON.parse(readFileSync(path.join(out, 'pref.jsonl.done.json'), 'utf8'));
    expect(manifest.counts.inputs).to.equal(12);
    const second = await runCli(['run', cfg]);
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stderr).to.match(
      /^pref: skip \(complete: 12 inputs, \d+ pairs, \d+ skipped\)\ndpo: skip \(complete: \d+ pairs, 0 skipped, 0 truncated, \d+ steps\)\ndescribe: skip \(complete: 4 inputs, \d+ descriptions, \d+ skipped, 1 text_only\)\ninfuse: skip \(complete: 5 samples, \d+ written, \d+ infused, \d+ missing, 0 unused, 0 skipped\)\nsft: skip \(complete: \d+ samples, 0 skipped, 0 truncated, \d+ steps\)\n$/,
    );
  });

  const flagCases: [string, string[], string][] = [
    ['dpo --beta', ['dpo', '--model', 'm', '--prefs', 'p', '--out', 'o', '--beta', '-1'], 'Expected a number > 0 for --beta but received -1'],
    ['dpo --grad-accum', ['dpo', '--model', 'm', '--prefs', 'p', '--out', 'o', '--grad-accum', '3'], 'Expected a divisor of --batch-size (8) for --grad-accum but received 3'],
    ['dpo --lora-targets', ['dpo', '--model', 'm', '--prefs', 'p', '--out', 'o', '--lora-targets', 'q,lm_head'], 'Expected a comma-separated list of q, k, v, o, gate, up, down for --lora-targets but received "q,lm_head"'],
    ['dpo --lora-dropout', ['dpo', '--model', 'm', '--prefs', 'p', '--out', 'o', '--lora-dropout', '1'], 'Expected a number in [0, 1) for --lora-dropout but received 1'],
    ['dpo --warmup-ratio', ['dpo', '--model', 'm', '--prefs', 'p', '--out', 'o', '--warmup-ratio', 'abc'], 'Expected a number in [0, 1] for --warmup-ratio but received NaN'],
    ['sft --epochs', ['sft', '--model', 'm', '--data', 'd', '--out', 'o', '--epochs', '1.5'], 'Expected an integer >= 1 for --epochs but received 1.5'],
    ['sft --lr', ['sft', '--model', 'm', '--data', 'd', '--out', 'o', '--lr', '0'], 'Expected a number > 0 for --lr but received 0'],
    ['pref --corruptions', ['pref', '--model', 'm', '--images', 'i', '--out', 'o', '--corruptions', 'lowres,rain'], 'Expected a comma-separated list of lowres, jitter, noise, diffusion, blur, mask for --corruptions but received "lowres,rain"'],
    ['pref --top-p', ['pref', '--model', 'm', '--images', 'i', '--out', 'o', '--top-p', '0'], 'Expected a number in (0, 1] for --top-p but received 0'],
    ['pref --hallucination-prob', ['pref', '--model', 'm', '--images', 'i', '--out', 'o', '--hallucination-prob', '1.2'], 'Expected a number in [0, 1] for --hallucination-prob but received 1.2'],
  ];
  for (const [name, argv, message] of flagCases) {
    it(`refuses ${name} with an exact message`, async () => {
      const r = await runCli(argv);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.equal(`stic: ${message}\n`);
    });
  }

  it('a missing image source and a missing pairs file name the file', async () => {
    const missing = path.join(dir, 'nothing-here');
    const a = await runCli(['pref', '--model', model, '--images', missing, '--out', path.join(dir, 'x.jsonl')]);
    expect(a.stderr).to.equal(`stic: ${missing}: cannot read the image source (file not found)\n`);
    const b = await runCli(['dpo', '--model', model, '--prefs', missing, '--out', path.join(dir, 'x')]);
    expect(b.stderr).to.equal(`stic: ${missing}: cannot read the file (file not found)\n`);
  });
});
