// `stic run` config files: the complete fixture (YAML), defaults, path resolution, and every
// validation error with its exact message (file and key).
import { expect } from 'chai';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadRunConfig, parseRunConfig, runOptionLines } from '../../lib/stic/run_config.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'stic');

describe('run config', () => {
  it('reads the YAML fixture: paths relative to the file, flags as keys, seed propagated, defaults filled', async () => {
    const file = path.join(fixtures, 'run.yaml');
    const c = await loadRunConfig(file);
    expect(c.model).to.equal(path.join(fixtures, '..', 'hf', 'llava-tiny-llama'));
    expect(c.out).to.equal(path.join(fixtures, 'runs', 'example'));
    expect(c.stages).to.deep.equal(['pref', 'dpo', 'describe', 'infuse', 'sft']);
    expect(c.pref).to.deep.include({ images: path.join(fixtures, 'images.txt'), batchSize: 4, corruptions: ['lowres', 'jitter', 'blur'], seed: 7, temperature: 0.2, maxNewTokens: 1024 });
    expect(c.dpo).to.deep.include({ beta: 0.2, rejectedLogp: 'top-alt', seed: 7, lr: 1e-7, batchSize: 8, sftWeight: 1 / 1024, sftNorm: 'sum', loraR: 128, loraAlpha: 256 });
    expect(c.dpo).to.not.have.property('prefs');
    expect(c.describe).to.deep.include({ instructions: path.join(fixtures, 'instructions.json'), seed: 7 });
    expect(c.infuse).to.deep.equal({ missing: 'keep', joinBy: 'id', imageRoot: undefined });
    expect(c.sft).to.deep.include({ epochs: 2, batchSize: 8, gradAccum: 2, lr: 2e-5, warmupRatio: 0.03, schedule: 'cosine' });
    expect(c.sft).to.not.have.property('data');
  });

  it('JSON works too; a subset of stages needs only their sections', () => {
    const c = parseRunConfig('/cfg/a.json', JSON.stringify({ model: 'm', out: 'o', stages: ['infuse', 'describe'], describe: { instructions: 'i.json' } }));
    expect(c.stages).to.deep.equal(['describe', 'infuse']); // pipeline order
    expect(c.model).to.equal('/cfg/m');
    expect(c.describe.instructions).to.equal('/cfg/i.json');
  });

  const bad: [string, string, string][] = [
    ['unknown top-level key', '{"model":"m","out":"o","stage":["pref"]}', 'unknown key "stage": did you mean "stages"? (known keys: model, out, seed, prompts, threads, stages, pref, dpo, describe, infuse, sft, eval)'],
    ['missing model', '{"out":"o"}', 'model: expected a non-empty string but received nothing'],
    ['bad seed', '{"model":"m","out":"o","seed":-1}', 'seed: expected an integer in [0, 2147483647] but received -1'],
    ['bad stages', '{"model":"m","out":"o","stages":["pref","train"]}', 'stages: expected a non-empty list of pref, dpo, describe, infuse, sft but received ["pref","train"]'],
    ['unknown stage key', '{"model":"m","out":"o","stages":["dpo"],"dpo":{"betta":0.1}}', 'dpo: unknown key "betta": did you mean "beta"? (known keys: eval-prefs, eval-every, image-root, image-aspect, lora-r, lora-alpha, lora-dropout, lora-targets, lr, train-projector, projector-lr, schedule, warmup-ratio, epochs, batch-size, grad-accum, max-length, weight-decay, max-grad-norm, adam-beta1, adam-beta2, adam-eps, checkpoint-every, save-total-limit, max-steps, min-kept, seed, grad-checkpointing, memory-budget, beta, loss, sft-weight, sft-norm, rejected-logp, ref-logps, reproduce-missing-image-token, reproduce-reference-drift; snake_case spellings too)'],
    ['camelCase key', '{"model":"m","out":"o","stages":["pref"],"pref":{"images":"i","batchSize":2}}', 'pref: unknown key "batchSize": did you mean "batch-size"? (known keys: images, image-root, image-aspect, batch-size, temperature, top-p, top-k, max-new-tokens, limit, seed, hallucination-prob, corruptions, lowres-size, jitter-brightness, jitter-hue, noise-std, diffusion-step, blur-sigma, mask-patch, mask-ratio, reproduce-uncorrupted, ref-logps; snake_case spellings too)'],
    ['wired key', '{"model":"m","out":"o","stages":["dpo"],"dpo":{"prefs":"p.jsonl"}}', "dpo.prefs is set by the pipeline from the previous stage's output and cannot be given"],
    ['adapter shape in sft', '{"model":"m","out":"o","stages":["sft"],"sft":{"lora-r":4}}', 'sft.lora-r cannot be given: stage 2b continues the stage-1 adapter and keeps its shape (set lora-r in the dpo section)'],
    ['bad value', '{"model":"m","out":"o","stages":["pref"],"pref":{"images":"i","batch-size":0}}', 'pref.batch-size: expected an integer >= 1 but received 0'],
    ['bad choice', '{"model":"m","out":"o","stages":["dpo"],"dpo":{"sft-norm":"max"}}', 'dpo.sft-norm: expected one of sum, mean but received "max"'],
    ['bad list', '{"model":"m","out":"o","stages":["dpo"],"dpo":{"lora-targets":["q","q"]}}', 'dpo.lora-targets: expected a comma-separated list of q, k, v, o, gate, up, down but received ["q","q"]'],
    ['grad-accum', '{"model":"m","out":"o","stages":["sft"],"sft":{"batch-size":32,"grad-accum":5}}', 'sft.grad-accum: expected a divisor of sft.batch-size (32) but received 5'],
    ['required for a running stage', '{"model":"m","out":"o","stages":["pref"]}', 'pref.images: expected a non-empty string but received nothing'],
    ['infuse needs describe.instructions', '{"model":"m","out":"o","stages":["infuse"]}', 'describe.instructions: expected a non-empty string but received nothing'],
    ['one key spelled twice', '{"model":"m","out":"o","stages":["dpo"],"dpo":{"eval-every":2,"eval_every":3}}', 'dpo: "eval-every" and "eval_every" name the same option (eval-every): give it once'],
    ['section not a mapping', '{"model":"m","out":"o","pref":[1]}', 'pref: expected a mapping of pref options but received [1]'],
    ['not a mapping', '[1,2]', 'expected a mapping of keys (model, out, seed, prompts, threads, stages, pref, dpo, describe, infuse, sft, eval) but received [1,2]'],
  ];
  for (const [name, text, message] of bad) {
    it(`refuses: ${name}`, () => {
      expect(() => parseRunConfig('/cfg/run.json', text)).to.throw(`/cfg/run.json: ${message}`);
      try {
        parseRunConfig('/cfg/run.json', text);
      } catch (err) {
        expect((err as Error).message).to.equal(`/cfg/run.json: ${message}`);
      }
    });
  }

  it('dpo.eval_prefs (snake_case, as TRL configs spell keys) or eval-prefs: held-out pairs, relative to the config file; eval-every defaults to 0 (a quarter of the steps)', () => {
    for (const key of ['eval_prefs', 'eval-prefs']) {
      const c = parseRunConfig('/cfg/run.yaml', `model: m\nout: o\nstages: [dpo]\ndpo: {${key}: data/heldout.jsonl, eval_every: 5}\n`);
      expect(c.dpo).to.deep.include({ evalPrefs: '/cfg/data/heldout.jsonl', evalEvery: 5 });
    }
    const d = parseRunConfig('/cfg/run.yaml', 'model: m\nout: o\nstages: [dpo]\n');
    expect(d.dpo.evalPrefs).to.equal(undefined);
    expect(d.dpo.evalEvery).to.equal(0);
  });

  it('malformed YAML and JSON name the file (and the YAML line)', () => {
    expect(() => parseRunConfig('/cfg/run.yaml', 'model: m\nout: o\npref:\n  images: [a\n')).to.throw(/^\/cfg\/run\.yaml:\d+: malformed YAML \(.+\)$/);
    expect(() => parseRunConfig('/cfg/run.yaml', 'model: m\nmodel: n\n')).to.throw(/^\/cfg\/run\.yaml:2: malformed YAML \(Map keys must be unique/);
    expect(() => parseRunConfig('/cfg/run.json', '{"model": }')).to.throw(/^\/cfg\/run\.json: malformed JSON \(.+\)$/);
  });

  it('a missing config file', async () => {
    try {
      await loadRunConfig('/nonexistent/run.yaml');
      expect.fail('expected a rejection');
    } catch (err) {
      expect((err as Error).message).to.equal('/nonexistent/run.yaml: cannot read the config file (file not found)');
    }
  });
});

describe('run config: --set overrides', () => {
  const yaml = 'model: m\nout: o\nstages: [dpo]\ndpo: {lr: 5.0e-7, batch-size: 8}\n';
  it('override section keys and top-level keys, typed as YAML, checked like the file', () => {
    const cfg = parseRunConfig('/cfg/run.yaml', yaml, ['dpo.lr=1e-6', 'dpo.lora-targets=[q, v]', 'out=runs/b', 'dpo.train-projector=false']);
    expect(cfg.dpo.lr).to.equal(1e-6);
    expect(cfg.dpo.batchSize).to.equal(8);
    expect(cfg.dpo.loraTargets).to.deep.equal(['q', 'v']);
    expect(cfg.dpo.trainProjector).to.equal(false);
    expect(cfg.out).to.equal(path.resolve('/cfg', 'runs/b'));
    expect(parseRunConfig('/cfg/run.yaml', yaml, ['sft.lr=2e-5']).sft.lr).to.equal(2e-5); // a section the file lacks
  });
  it('a bad override is named', () => {
    expect(() => parseRunConfig('/cfg/run.yaml', yaml, ['dpo.betta=0.1'])).to.throw('/cfg/run.yaml: dpo: unknown key "betta"');
    expect(() => parseRunConfig('/cfg/run.yaml', yaml, ['dpo.lr=-1'])).to.throw('/cfg/run.yaml: dpo.lr');
    expect(() => parseRunConfig('/cfg/run.yaml', yaml, ['dpo.lr'])).to.throw('--set dpo.lr: expected KEY=VALUE or SECTION.KEY=VALUE (e.g. dpo.lr=1e-6)');
    expect(() => parseRunConfig('/cfg/run.yaml', yaml, ['model.x=1'])).to.throw('--set model.x=1: model is not a section of the config');
  });
});

describe('run config: snake_case keys and where each value came from', () => {
  const yaml = 'model: m\nout: o\nseed: 7\nstages: [dpo]\ndpo: {lr: 5.0e-7, batch_size: 8, grad_accum: 2}\n';
  it('section keys may be snake_case (TRL / LLaMA-Factory style), checked and named as written', () => {
    const cfg = parseRunConfig('/cfg/run.yaml', yaml);
    expect(cfg.dpo).to.deep.include({ batchSize: 8, gradAccum: 2 });
    expect(() => parseRunConfig('/cfg/run.yaml', 'model: m\nout: o\nstages: [dpo]\ndpo: {batch_size: 0}\n')).to.throw('/cfg/run.yaml: dpo.batch_size: expected an integer >= 1 but received 0');
    expect(() => parseRunConfig('/cfg/run.yaml', 'model: m\nout: o\nstages: [dpo]\ndpo: {batch_size: 4, batch-size: 8}\n')).to.throw('/cfg/run.yaml: dpo: "batch_size" and "batch-size" name the same option (batch-size): give it once');
    expect(() => parseRunConfig('/cfg/run.yaml', 'model: m\nout: o\nstages: [dpo]\ndpo: {warmup_steps: 4}\n')).to.throw('/cfg/run.yaml: dpo: unknown key "warmup_steps": did you mean "warmup-ratio"?');
  });

  it('sources: the file, a --set override (replacing the key however the file spells it), the default, the top-level seed', () => {
    const cfg = parseRunConfig('/cfg/run.yaml', yaml, ['dpo.batch-size=4', 'threads=2']);
    expect(cfg.dpo.batchSize).to.equal(4);
    const file = { from: 'config', file: '/cfg/run.yaml' };
    expect(cfg.sources.dpo.lr).to.deep.equal(file);
    expect(cfg.sources.dpo.batchSize).to.deep.equal({ from: 'set' });
    expect(cfg.sources.dpo.gradAccum).to.deep.equal(file);
    expect(cfg.sources.dpo.beta).to.deep.equal({ from: 'default' });
    expect(cfg.sources.dpo.seed).to.deep.equal(file); // inherited from the file's top-level seed
    expect(cfg.sources.run).to.deep.include({ model: file, threads: { from: 'set' }, prompts: { from: 'default' } });
    expect(cfg.sources.dpo).to.not.have.property('prefs'); // wired by the pipeline
  });

  it('the --dry-run listing: top-level keys, each stage run and the eval section, one line per option with its source', () => {
    const text = 'model: m\nout: o\nstages: [infuse]\ndescribe: {instructions: i.json}\ninfuse: {missing: keep}\neval: {bench: pope, data: p.json, batch_size: 2}\n';
    const cfg = parseRunConfig('/cfg/run.yaml', text, ['eval.limit=3']);
    expect(cfg.sources.eval).to.deep.include({ batchSize: { from: 'config', file: '/cfg/run.yaml' }, limit: { from: 'set' }, describeTokens: { from: 'default' } });
    const lines = runOptionLines(cfg);
    expect(lines).to.match(/^options of \/cfg\/run\.yaml:\n {2}model = \/cfg\/m +\(config: \/cfg\/run\.yaml\)\n/);
    expect(lines).to.contain('\ninfuse:\n  missing = keep        (config: /cfg/run.yaml)\n  join-by = id          (default)\n  image-root = (none)   (default)\neval:\n');
    expect(lines).to.not.contain('\ndescribe:\n'); // not run: only infuse is
    expect(lines).to.match(/\n {2}batch-size = 2 +\(config: \/cfg\/run\.yaml\)\n/);
    expect(lines).to.match(/\n {2}limit = 3 +\(--set\)\n/);
    expect(lines).to.match(/\n {2}image-aspect = anyres +\(default\)\n/);
    expect(lines).to.match(/\n {2}models = base,stage-1,final +\(default\)\n$/);
  });
});
