// `--config FILE` and `--dry-run` of the single-stage commands (issue 19, part 4): the file's
// options are used, a flag wins over the file and the file over the defaults, paths in the file are
// relative to its folder (flags to the working directory), a bad key or value names the file and
// the key, and --dry-run lists every option with its source and writes nothing.
import { expect } from 'chai';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { DPO_OPTIONS } from '../../lib/stic/train_options.ts';
import { repo, runCli } from './cli_helpers.ts';

const fixtures = path.join(repo, 'test', 'fixtures', 'stic');

/** The `name = value   (source)` lines of a --dry-run listing, by option name. */
function listing(stdout: string): Map<string, { value: string; source: string }> {
  const out = new Map<string, { value: string; source: string }>();
  for (const line of stdout.split('\n').filter(Boolean)) {
    const m = /^ {2}([\w-]+) = (.*?)\s+\((.+)\)$/.exec(line);
    expect(m, `a listing line: "${line}"`).to.not.equal(null);
    out.set(m![1], { value: m![2], source: m![3] });
  }
  return out;
}

describe('single-stage commands: --config FILE and --dry-run', function () {
  this.timeout(120_000);
  let dir: string;
  let cwd: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-cmdcfg-'));
    mkdirSync(path.join(dir, 'data'));
    mkdirSync(path.join(dir, 'cfg'));
    for (const f of ['instructions.json', 'descriptions.jsonl']) copyFileSync(path.join(fixtures, f), path.join(dir, 'data', f));
    cwd = process.cwd();
  });
  afterEach(() => {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  });

  const samples = () => (JSON.parse(readFileSync(path.join(fixtures, 'instructions.json'), 'utf8')) as unknown[]).length;

  it('stic infuse runs on the file\'s options, its paths relative to the file', async () => {
    const cfg = path.join(dir, 'cfg', 'infuse.yaml');
    writeFileSync(cfg, 'instructions: ../data/instructions.json\ndescriptions: ../data/descriptions.jsonl\nmissing: keep\njoin_by: id\nout: out/infused.json\n');
    const r = await runCli(['infuse', '--config', cfg]);
    expect(r.code, r.stderr).to.equal(0);
    const written = JSON.parse(readFileSync(path.join(dir, 'cfg', 'out', 'infused.json'), 'utf8')) as unknown[];
    expect(written).to.have.length(samples()); // missing: keep, from the file
  });

  it('a flag wins over the file\'s key, and a path in a flag is relative to the working directory', async () => {
    const cfg = path.join(dir, 'cfg', 'infuse.json');
    writeFileSync(cfg, JSON.stringify({ instructions: '../data/instructions.json', descriptions: '../data/descriptions.jsonl', missing: 'keep', out: 'out/infused.json' }));
    process.chdir(dir);
    const r = await runCli(['infuse', '--config', cfg, '--missing', 'drop', '--out', 'flag-out.json']);
    expect(r.code, r.stderr).to.equal(0);
    expect(existsSync(path.join(dir, 'cfg', 'out'))).to.equal(false);
    const written = JSON.parse(readFileSync(path.join(dir, 'flag-out.json'), 'utf8')) as unknown[];
    expect(written.length).to.be.below(samples()); // --missing drop: the samples without a description left out
    expect(r.stderr).to.match(/samples with an image have no description and were left out/);
  });

  it('--dry-run lists every option with its source (flag, config, default) and writes nothing', async () => {
    const cfg = path.join(dir, 'cfg', 'dpo.yaml');
    writeFileSync(cfg, 'model: ../models/llava\nprefs: pref.jsonl\nbatch_size: 4\nlr: 1.0e-6\nlora-targets: [q, v]\n');
    const out = path.join(dir, 'runs', 'dpo');
    const r = await runCli(['dpo', '--config', cfg, '--lr', '5e-4', '--out', out, '--dry-run']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
    const rows = listing(r.stdout);
    const file = `config: ${cfg}`;
    expect(rows.get('lr')).to.deep.equal({ value: '0.0005', source: 'flag' });
    expect(rows.get('out')).to.deep.equal({ value: out, source: 'flag' });
    expect(rows.get('batch-size')).to.deep.equal({ value: '4', source: file });
    expect(rows.get('lora-targets')).to.deep.equal({ value: 'q,v', source: file });
    expect(rows.get('model')).to.deep.equal({ value: path.join(dir, 'models', 'llava'), source: file });
    expect(rows.get('prefs')).to.deep.equal({ value: path.join(dir, 'cfg', 'pref.jsonl'), source: file });
    expect(rows.get('beta')).to.deep.equal({ value: '0.1', source: 'default' });
    expect(rows.get('image-root')).to.deep.equal({ value: '(none)', source: 'default' });
    expect(rows.get('threads')).to.deep.equal({ value: '(none)', source: 'default' });
    expect(rows.size).to.equal(3 + Object.keys(DPO_OPTIONS).length); // model, out, threads and every DPO option
    expect(existsSync(path.join(dir, 'runs'))).to.equal(false);
  });

  it('--dry-run without a file: flags and defaults; the stage commands all take it', async () => {
    for (const argv of [
      ['pref', '--model', 'm', '--images', 'i', '--out', 'o', '--temperature', '0.7'],
      ['describe', '--model', 'm', '--instructions', 'i.json', '--out', 'o', '--temperature', '0.7'],
      ['sft', '--model', 'm', '--data', 'd.json', '--out', 'o', '--epochs', '2'],
      ['infuse', '--instructions', 'i.json', '--descriptions', 'd.jsonl', '--out', 'o'],
    ]) {
      const r = await runCli([...argv, '--dry-run']);
      expect(r.code, `${argv[0]}: ${r.stderr}`).to.equal(0);
      const rows = listing(r.stdout);
      expect(rows.get('out'), argv[0]).to.deep.equal({ value: 'o', source: 'flag' });
      if (argv.includes('--temperature')) expect(rows.get('temperature'), argv[0]).to.deep.equal({ value: '0.7', source: 'flag' });
      if (argv[0] === 'pref') expect(rows.get('fresh')).to.deep.equal({ value: 'false', source: 'default' });
    }
  });

  it('an unknown key names the file, the key and the nearest valid name', async () => {
    const cfg = path.join(dir, 'cfg', 'dpo.yaml');
    writeFileSync(cfg, 'prefs: p.jsonl\nbetta: 0.2\n');
    const r = await runCli(['dpo', '--config', cfg, '--model', 'm', '--out', 'o', '--dry-run']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(new RegExp(`^stic: ${cfg}: unknown key "betta": did you mean "beta"\\? \\(known keys: model, out, threads, prefs, eval-prefs, eval-every, image-root, `));
  });

  it('a wrong type names the file, the key as written, what was expected and what was found', async () => {
    const cfg = path.join(dir, 'cfg', 'pref.json');
    writeFileSync(cfg, JSON.stringify({ images: 'imgs', batch_size: 'four' }));
    const r = await runCli(['pref', '--config', cfg, '--model', 'm', '--out', 'o', '--dry-run']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal(`stic: ${cfg}: batch_size: expected an integer >= 1 but received "four"\n`);
    // The same value as a flag wins over the file's and is checked as a flag.
    const f = await runCli(['pref', '--config', cfg, '--model', 'm', '--out', 'o', '--batch-size', '0', '--dry-run']);
    expect(f.stderr).to.equal('stic: Expected an integer >= 1 for --batch-size but received 0\n');
    expect((await runCli(['pref', '--config', cfg, '--model', 'm', '--out', 'o', '--batch-size', '2', '--dry-run'])).code).to.equal(0);
  });

  it('rules across options, missing required options and unreadable files name the file', async () => {
    const cfg = path.join(dir, 'cfg', 'sft.yaml');
    writeFileSync(cfg, 'batch-size: 32\ngrad-accum: 5\n');
    const a = await runCli(['sft', '--config', cfg, '--model', 'm', '--data', 'd', '--out', 'o', '--dry-run']);
    expect(a.stderr).to.equal(`stic: ${cfg}: grad-accum: expected a divisor of --batch-size (32) but received 5\n`);
    const b = await runCli(['sft', '--config', cfg, '--model', 'm', '--out', 'o', '--grad-accum', '4', '--dry-run']);
    expect(b.stderr).to.equal(`stic: Expected a non-empty string for --data but received nothing (give --data or the key data in ${cfg})\n`);
    writeFileSync(cfg, '- a\n- b\n');
    const c = await runCli(['sft', '--config', cfg, '--dry-run']);
    expect(c.stderr).to.equal(`stic: ${cfg}: expected a mapping of options keyed by flag name but received ["a","b"]\n`);
    const d = await runCli(['sft', '--config', path.join(dir, 'nope.yaml'), '--dry-run']);
    expect(d.stderr).to.equal(`stic: ${path.join(dir, 'nope.yaml')}: cannot read the config file (file not found)\n`);
    writeFileSync(cfg, 'lr: [1\n');
    expect((await runCli(['sft', '--config', cfg, '--dry-run'])).stderr).to.match(new RegExp(`^stic: ${cfg}:\\d+: malformed YAML`));
  });
});

describe('stic eval: --config FILE and --dry-run from the eval option table (also the stic run eval section)', () => {
  it('the file\'s keys, a flag over them, paths relative to the file; a bad key or value named', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stic-evalcfg-'));
    try {
      const cfg = path.join(dir, 'eval.yaml');
      writeFileSync(cfg, 'model: m\nbench: pope\ndata: pope/coco_pope_random.json\nbatch_size: 4\ninstruction: ""\nout: results\n');
      const r = await runCli(['eval', '--config', cfg, '--limit', '3', '--dry-run']);
      expect(r.code, r.stderr).to.equal(0);
      const rows = listing(r.stdout);
      expect(rows.get('data')).to.deep.equal({ value: path.join(dir, 'pope', 'coco_pope_random.json'), source: `config: ${cfg}` });
      expect(rows.get('batch-size')).to.deep.equal({ value: '4', source: `config: ${cfg}` });
      expect(rows.get('limit')).to.deep.equal({ value: '3', source: 'flag' });
      expect(rows.get('judge-rpm')?.source).to.equal('default');
      expect(existsSync(path.join(dir, 'results'))).to.equal(false);
      writeFileSync(cfg, 'model: m\nbench: popee\ndata: d\nout: o\n');
      expect((await runCli(['eval', '--config', cfg, '--dry-run'])).stderr).to.equal(`stic: ${cfg}: bench: expected one of scienceqa, mmbench, textvqa, chartqa, pope, mmvet, llava-bench, mathvista but received "popee"\n`);
      writeFileSync(cfg, 'model: m\nbench: pope\ndata: d\nout: o\njudge_rpn: 3\n');
      expect((await runCli(['eval', '--config', cfg, '--dry-run'])).stderr).to.match(new RegExp(`^stic: ${cfg}: unknown key "judge_rpn": did you mean "judge-rpm"\\?`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('stic corrupt: --config FILE (ranges as [lo, hi] or one number) and --dry-run', () => {
  it('the file\'s kind and size are used, a flag wins, paths are relative to the file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stic-corruptcfg-'));
    try {
      mkdirSync(path.join(dir, 'imgs'));
      const sharp = (await import('sharp')).default;
      await sharp({ create: { width: 32, height: 24, channels: 3, background: '#c03020' } }).png().toFile(path.join(dir, 'imgs', 'a.png'));
      const cfg = path.join(dir, 'corrupt.yaml');
      writeFileSync(cfg, 'in: imgs\nout: out\nkind: lowres\nlowres_size: 5\njitter-hue: [-0.1, 0.1]\nprogress: false\n');
      const dry = await runCli(['corrupt', '--config', cfg, '--dry-run']);
      expect(dry.code, dry.stderr).to.equal(0);
      const rows = listing(dry.stdout);
      expect(rows.get('jitter-hue')).to.deep.equal({ value: '-0.1,0.1', source: `config: ${cfg}` });
      expect(rows.get('jitter-contrast')).to.deep.equal({ value: 'none', source: 'default' });
      expect(existsSync(path.join(dir, 'out'))).to.equal(false);
      const line = async (argv: string[]) => {
        const r = await runCli(['corrupt', '--config', cfg, ...argv]);
        expect(r.code, r.stderr).to.equal(0);
        return JSON.parse(readFileSync(path.join(dir, 'out', 'corruptions.jsonl'), 'utf8').trim()) as { kind: string; size: number };
      };
      expect(await line([])).to.deep.include({ kind: 'lowres', size: 5 });
      expect(await line(['--lowres-size', '7'])).to.deep.include({ kind: 'lowres', size: 7 });
      writeFileSync(cfg, 'in: imgs\nout: out\nlowres_size: [4]\n');
      expect((await runCli(['corrupt', '--config', cfg])).stderr).to.equal(`stic: ${cfg}: lowres_size: expected a number or "lo,hi" but received [4]\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
