// The eval section of a stic run config (issue 16): parsed with the file and key in every message;
// base / stage-1 / final by default, in that order; judge-scored benchmarks sent to stic eval.
import path from 'node:path';

import { expect } from 'chai';

import { parseRunConfig } from '../../lib/stic/run_config.ts';
import { evalTargets, parseEvalSection } from '../../lib/stic/run_eval.ts';

describe('stic run: the eval section', () => {
  const dir = '/cfg';
  it('defaults to the three models in pipeline order and resolves paths against the config file', () => {
    const e = parseEvalSection('/cfg/run.yaml', dir, { bench: 'pope', data: 'bench/pope.json', 'image-root': 'imgs', 'batch-size': 4 });
    expect(e).to.deep.equal({ bench: 'pope', data: '/cfg/bench/pope.json', models: ['base', 'stage-1', 'final'], imageRoot: '/cfg/imgs', batchSize: 4, describeFirst: false, describeTokens: 256 });
    expect(parseEvalSection('/cfg/run.yaml', dir, { bench: 'pope', data: 'd', 'image-aspect': 'pad' }).imageAspect).to.equal('pad');
    expect(parseEvalSection('/cfg/run.yaml', dir, { bench: 'mmbench', data: 'x.tsv', models: ['final', 'base'] }).models).to.deep.equal(['base', 'final']);
    expect(evalTargets('/m', { dpo: '/o/dpo', sft: '/o/sft' }, ['base', 'stage-1', 'final'])).to.deep.equal([
      { name: 'base' }, { name: 'stage-1', adapter: '/o/dpo', needs: 'dpo' }, { name: 'final', adapter: '/o/sft', needs: 'sft' },
    ]);
  });

  it('refuses bad sections naming the file and the key', () => {
    const cases: [unknown, string][] = [
      [[], '/cfg/run.yaml: eval: expected a mapping of stic eval options but received []'],
      [{ bench: 'pope', data: 'd', betch: 1 }, '/cfg/run.yaml: eval: unknown key "betch": did you mean "bench"?'],
      [{ bench: 'pope', data: 'd', batch_size: 'x' }, '/cfg/run.yaml: eval.batch_size: expected an integer >= 1 but received "x"'],
      [{ bench: 'vqa', data: 'd' }, '/cfg/run.yaml: eval.bench: expected one of scienceqa, mmbench, textvqa, chartqa, pope, mmvet, llava-bench, mathvista but received "vqa"'],
      [{ bench: 'mmvet', data: 'd' }, '/cfg/run.yaml: eval.bench: mmvet is scored by a judge model'],
      [{ bench: 'pope' }, "/cfg/run.yaml: eval.data: expected a non-empty string but received nothing"],
      [{ bench: 'pope', data: 'd', models: ['base', 'stage-2'] }, '/cfg/run.yaml: eval.models: expected a comma-separated list of base, stage-1, final but received ["base","stage-2"]'],
      [{ bench: 'pope', data: 'd', limit: 0 }, '/cfg/run.yaml: eval.limit: expected an integer >= 1 but received 0'],
      [{ bench: 'pope', data: 'd', 'image-aspect': 'square' }, '/cfg/run.yaml: eval.image-aspect: expected one of anyres, pad but received "square"'],
    ];
    for (const [v, msg] of cases) expect(() => parseEvalSection('/cfg/run.yaml', dir, v), msg).to.throw(msg);
  });

  it('is part of the run config, absent unless given', () => {
    const base = { model: 'm', out: 'o', stages: ['infuse'], describe: { instructions: 'i.json' } };
    expect(parseRunConfig('/cfg/run.json', JSON.stringify(base)).eval).to.equal(undefined);
    const cfg = parseRunConfig('/cfg/run.json', JSON.stringify({ ...base, eval: { bench: 'textvqa', data: 't.json' } }));
    expect(cfg.eval?.data).to.equal(path.resolve('/cfg', 't.json'));
  });
});
