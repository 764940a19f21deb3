// `stic run` with stand-in engines: all five stages wired output-to-input, complete stages skipped,
// a killed run resumed to the same files, stale outputs refused with what changed, --redo, and the
// dry-run plan.
import { expect } from 'chai';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { DpoJob, SftJob } from '../../lib/stic/engine_api.ts';
import { type RunDeps, runPipeline, stageOutputs, withDownstream } from '../../lib/stic/pipeline.ts';
import { parseRunConfig } from '../../lib/stic/run_config.ts';
import { FakeEngine, FakeImages, FakeTrainer, writeImages } from './fakes.ts';
import { rejectionOf } from '../helpers/rejection.ts';

describe('stic run pipeline', () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-pipeline-'));
    const names = await writeImages(path.join(dir, 'unlabeled'), 12, 21, 16, 12);
    await writeImages(path.join(dir, 'instr-images'), 6, 22, 12, 12);
    const samples = names.slice(0, 6).map((_, i) => ({
      id: `q${i}`,
      image: `img-0${i}.png`,
      conversations: [{ from: 'human', value: `<image>\nWhat is shown (${i})?` }, { from: 'gpt', value: `Shapes ${i}.` }],
    }));
    writeFileSync(path.join(dir, 'instructions.json'), JSON.stringify([...samples, { id: 'txt', conversations: [{ from: 'human', value: 'Hi' }, { from: 'gpt', value: 'Hello' }] }], null, 2));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function config(out: string, extra = '', overrides: string[] = []) {
    const yaml = [
      'model: model-dir',
      `out: ${out}`,
      'seed: 5',
      'pref:',
      '  images: unlabeled',
      '  batch-size: 4',
      '  ref-logps: true',
      'dpo:',
      '  batch-size: 4',
      'describe:',
      '  instructions: instructions.json',
      '  image-root: instr-images',
      '  batch-size: 4',
      'sft:',
      '  batch-size: 2',
      extra,
    ].join('\n');
    return parseRunConfig(path.join(dir, `${out}.yaml`), yaml, overrides);
  }

  interface Fakes { engines: FakeEngine[]; trainer: FakeTrainer; logs: string[]; deps: RunDeps; opened: { model: string; adapter?: string }[] }
  function fakes(failOnCall: number | null = null): Fakes {
    const engines: FakeEngine[] = [];
    const trainer = new FakeTrainer();
    const logs: string[] = [];
    const opened: { model: string; adapter?: string }[] = [];
    const deps: RunDeps = {
      openInference: async (o) => {
        opened.push({ model: o.model, adapter: o.adapter });
        const e = new FakeEngine();
        e.failOnCall = engines.length === 0 ? failOnCall : null;
        engines.push(e);
        return e;
      },
      openImages: async () => new FakeImages(),
      openTraining: async () => trainer,
      log: (t) => logs.push(t),
    };
    return { engines, trainer, logs, deps, opened };
  }

  const files = (out: string) => {
    const o = stageOutputs(path.join(dir, out));
    return {
      pref: readFileSync(o.pref),
      descriptions: readFileSync(o.describe),
      infused: readFileSync(o.infuse),
      dpoMetrics: readFileSync(path.join(o.dpo, 'metrics.jsonl')),
      sftMetrics: readFileSync(path.join(o.sft, 'metrics.jsonl')),
    };
  };

  it('runs every stage wired to the previous output, writes manifests, charts and summaries; a second run skips all', async () => {
    const cfg = config('run-a');
    const f = fakes();
    const planned = await runPipeline(cfg, f.deps);
    expect(planned.map((p) => [p.stage, p.action])).to.deep.equal([['pref', 'run'], ['dpo', 'run'], ['describe', 'run'], ['infuse', 'run'], ['sft', 'run']]);
    const out = stageOutputs(cfg.out);
    // wiring
    expect(f.opened).to.deep.equal([{ model: path.join(dir, 'model-dir'), adapter: undefined }, { model: path.join(dir, 'model-dir'), adapter: out.dpo }]);
    const [dpoJob, sftJob] = f.trainer.jobs as [DpoJob, SftJob];
    expect(dpoJob.out).to.equal(out.dpo);
    expect(dpoJob.examples.length).to.equal(readFileSync(out.pref, 'utf8').trimEnd().split('\n').length);
    for (const e of dpoJob.examples) {
      expect(path.dirname(e.image)).to.equal(path.join(dir, 'unlabeled'));
      expect(e.refChosenLogp).to.be.a('number'); // pref --ref-logps -> stored reference
    }
    expect(sftJob.initAdapter).to.equal(out.dpo);
    expect(sftJob.examples.map((e) => e.id)).to.deep.equal(['q0', 'q1', 'q2', 'q3', 'q4', 'q5', 'txt']);
    expect(sftJob.examples[0].image).to.equal(path.join(dir, 'instr-images', 'img-00.png'));
    expect(sftJob.examples[0].messages[0].content).to.match(/^<image>\nImage description:\nanswer [0-9a-f]{12}\n\nWhat is shown \(0\)\?$/);
    for (const s of ['pref', 'dpo', 'describe', 'infuse', 'sft'] as const) {
      const m = JSON.parse(readFileSync(`${out[s]}.done.json`, 'utf8'));
      expect(m.stage).to.equal(s);
      expect(Object.keys(m.inputs).length).to.be.greaterThan(0);
    }
    for (const s of ['dpo', 'sft'] as const) {
      for (const file of ['metrics.jsonl', 'training.svg', 'training.png', 'summary.txt']) readFileSync(path.join(out[s], file));
    }
    expect(readFileSync(path.join(out.dpo, 'summary.txt'), 'utf8')).to.match(/^stage +dpo \(STIC stage 1b\)\n/);

    const again = fakes();
    const second = await runPipeline(cfg, again.deps);
    expect(second.every((p) => p.action.startsWith('skip (complete: '))).to.equal(true);
    expect(second[0].action).to.equal('skip (complete: 12 inputs, 12 pairs, 0 skipped)');
    expect(again.engines.length + again.trainer.jobs.length).to.equal(0);
  });

  it('a run killed in pref and then in dpo resumes to the same files as an uninterrupted run', async () => {
    const whole = config('run-whole');
    await runPipeline(whole, fakes().deps);
    const cfg = config('run-killed');
    expect((await rejectionOf(runPipeline(cfg, fakes(1).deps))).message).to.equal('simulated crash');
    const out = stageOutputs(cfg.out);
    appendFileSync(out.pref, '{"id":"img-0'); // torn by the kill
    const f = fakes();
    f.trainer.crashAfterSteps = 1;
    expect((await rejectionOf(runPipeline(cfg, f.deps))).message).to.equal('simulated trainer crash');
    expect(f.logs[0]).to.equal('pref: resume (output present without a completion manifest)\n');
    const g = fakes();
    const planned = await runPipeline(cfg, g.deps);
    expect(planned.map((p) => p.action.split(' ')[0])).to.deep.equal(['skip', 'resume', 'run', 'run', 'run']);
    const [a, b] = [files('run-killed'), files('run-whole')];
    for (const k of Object.keys(a) as (keyof typeof a)[]) expect(a[k].toString(), k).to.equal(b[k].toString());
  });

  it('refuses a stale stage with what changed; --redo makes it (and what follows) again', async () => {
    const cfg = config('run-stale');
    await runPipeline(cfg, fakes().deps);
    const changed = config('run-stale', 'infuse:\n  missing: keep');
    const out = stageOutputs(changed.out);
    const err = await rejectionOf(runPipeline(changed, fakes().deps));
    expect(err.message).to.equal(`infuse: ${out.infuse} is stale: its options changed since it finished: options.missing: "drop" -> "keep". Delete ${out.infuse} and ${out.infuse}.done.json (or pass --redo infuse) to make it again`);
    const dry = await runPipeline(changed, fakes().deps, { dryRun: true });
    expect(dry.map((p) => p.action)).to.deep.equal([
      'skip (complete: 12 inputs, 12 pairs, 0 skipped)',
      dry[1].action,
      dry[2].action,
      'stale (its options changed since it finished: options.missing: "drop" -> "keep")',
      'blocked (infuse cannot run)',
    ]);
    const redo = await runPipeline(changed, fakes().deps, { redo: ['infuse'] });
    // every sample has a description, so keep/drop write the same file and sft is still complete
    // --redo infuse redoes sft too: it reads infuse's output
    expect(redo.map((p) => p.action.split(' ')[0])).to.deep.equal(['skip', 'skip', 'skip', 'run', 'run']);
  });

  it('AdamW options at their defaults leave the training stages as complete as before they were options; another value makes them stale', async () => {
    const cfg = config('run-adam');
    await runPipeline(cfg, fakes().deps);
    const out = stageOutputs(cfg.out);
    // A manifest written before the options existed has none of them: neither has one at the defaults.
    for (const stage of [out.dpo, out.sft]) {
      const m = JSON.parse(readFileSync(`${stage}.done.json`, 'utf8'));
      expect(Object.keys(m.optionValues.options).filter((k) => k.startsWith('adam')), stage).to.deep.equal([]);
    }
    expect((await runPipeline(config('run-adam'), fakes().deps, { dryRun: true })).map((p) => p.action.split(' ')[0])).to.deep.equal(['skip', 'skip', 'skip', 'skip', 'skip']);
    const changed = await runPipeline(config('run-adam', '', ['sft.adam_beta2=0.99']), fakes().deps, { dryRun: true });
    expect(changed[4].action).to.equal('stale (its options changed since it finished: options.adamBeta2: (not set) -> 0.99)');
  });

  it('dpo.eval_prefs: held-out pairs (here in TRL format) reach the trainer with their own image paths; editing them makes dpo stale', async () => {
    const held = path.join(dir, 'held', 'heldout.jsonl');
    mkdirSync(path.dirname(held), { recursive: true });
    writeFileSync(held, ['img-00.png', 'img-01.png'].map((image) => JSON.stringify({ prompt: 'What is this?', chosen: 'Shapes.', rejected: 'A cat.', images: [`../unlabeled/${image}`] })).join('\n'));
    const cfg = config('run-held', '', ['stages=[pref, dpo]', 'dpo.eval_prefs=held/heldout.jsonl', 'dpo.eval_every=2']);
    expect(cfg.dpo).to.deep.include({ evalPrefs: held, evalEvery: 2 });
    const f = fakes();
    await runPipeline(cfg, f.deps);
    const [job] = f.trainer.jobs as [DpoJob];
    expect(job.evalExamples?.map((e) => [e.id, e.image, e.prompt[0].content])).to.deep.equal([
      ['line 1', path.join(dir, 'unlabeled', 'img-00.png'), '<image>\nWhat is this?'],
      ['line 2', path.join(dir, 'unlabeled', 'img-01.png'), '<image>\nWhat is this?'],
    ]);
    expect(f.logs.join('')).to.contain(`dpo: 2 held-out pairs from ${held} (0 ours, 0 public STIC format, 2 TRL format), evaluated every 2 steps and at the end\n`);
    expect(readFileSync(path.join(stageOutputs(cfg.out).dpo, 'summary.txt'), 'utf8')).to.match(new RegExp(`\neval pairs +2 of 2 in ${held.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(0 skipped\\)\n`));
    appendFileSync(held, `\n${JSON.stringify({ prompt: 'And this?', chosen: 'Shapes.', rejected: 'A dog.', images: ['../unlabeled/img-02.png'] })}\n`);
    const err = await rejectionOf(runPipeline(cfg, fakes().deps));
    expect(err.message).to.equal(`dpo: ${stageOutputs(cfg.out).dpo} is stale: its input eval_prefs changed since it finished. Delete ${stageOutputs(cfg.out).dpo} and ${stageOutputs(cfg.out).dpo}.done.json (or pass --redo dpo) to make it again`);
  });

  it('--redo names a stage; every stage downstream of it is redone with it', () => {
    expect(withDownstream(['dpo'])).to.deep.equal(['dpo', 'describe', 'infuse', 'sft']);
    expect(withDownstream(['infuse'])).to.deep.equal(['infuse', 'sft']);
    expect(withDownstream(['sft', 'pref'])).to.deep.equal(['pref', 'dpo', 'describe', 'infuse', 'sft']);
    expect(withDownstream([])).to.deep.equal([]);
  });

  it('notices an output edited after its stage finished', async () => {
    const cfg = config('run-edit');
    await runPipeline({ ...cfg, stages: ['pref'] }, fakes().deps);
    const out = stageOutputs(cfg.out);
    appendFileSync(out.pref, '{"id":"extra","image":"x"}\n');
    const err = await rejectionOf(runPipeline({ ...cfg, stages: ['pref'] }, fakes().deps));
    expect(err.message).to.equal(`pref: ${out.pref} is stale: its output ${out.pref} was modified after it finished. Delete ${out.pref} and ${out.pref}.done.json (or pass --redo pref) to make it again`);
  });

  it('dry run on a fresh folder runs nothing and lists the plan; a stage without its upstream output is refused', async () => {
    const cfg = config('run-dry');
    const f = fakes();
    const planned = await runPipeline(cfg, f.deps, { dryRun: true });
    expect(planned.map((p) => p.action)).to.deep.equal([
      'run',
      'run (after pref, whose output it reads)',
      'run (after dpo, whose output it reads)',
      'run (after describe, whose output it reads)',
      'run (after infuse, dpo, whose output it reads)',
    ]);
    expect(f.engines.length + f.trainer.jobs.length).to.equal(0);
    const err = await rejectionOf(runPipeline({ ...cfg, stages: ['dpo'] }, f.deps));
    const out = stageOutputs(cfg.out);
    expect(err.message).to.equal(`dpo: needs the complete output of pref (${out.pref}), which is missing or unfinished (pref is not in this run's stages)`);
  });

  // Issue 19: a config whose inputs do not exist ended --dry-run with a raw "ENOENT: no such file".
  it('an input the config names that cannot be read is reported with the file, key and path', async () => {
    const cfg = parseRunConfig(path.join(dir, 'missing.yaml'), 'model: m\nout: run-missing\npref: {images: no-such-folder}\nstages: [pref]\n');
    const err = await rejectionOf(runPipeline(cfg, fakes().deps, { dryRun: true }));
    expect(err.message).to.equal(`${path.join(dir, 'missing.yaml')}: pref.images: cannot read ${path.join(dir, 'no-such-folder')} (file not found)`);
  });
});
