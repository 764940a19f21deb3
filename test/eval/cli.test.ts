// `stic toy-bench` + `stic eval` end to end on the built-in toy model: results, comparison across two
// models, resuming a killed run, refusing to mix settings, describe-and-respond, a judged benchmark
// against a local judge server, and --help.
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { expect } from 'chai';
import sharp from 'sharp';
import yargs, { type CommandModule } from 'yargs';

import { command as evalCommand } from '../../bin/commands/eval.ts';
import { command as toyBenchCommand } from '../../bin/commands/toy_bench.ts';
import { repo, runCli } from '../stic/cli_helpers.ts';
import { helpOptions, statesDefault } from '../stic/help.test.ts';
import { startJudgeServer, userText } from './helpers.ts';

const TOY = path.join(repo, 'models', 'toy-llava');

describe('stic eval on the built-in toy model', function () {
  this.timeout(300_000);
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-eval-cli-'));
    const r = await runCli(['toy-bench', '--out', path.join(dir, 'bench'), '--count', '4']);
    expect(r.code, r.stderr).to.equal(0);
    // Rendered at the built-in model's input side by default.
    const image = readdirSync(path.join(dir, 'bench', 'pope', 'val2014'))[0];
    const meta = await sharp(path.join(dir, 'bench', 'pope', 'val2014', image)).metadata();
    expect([meta.width, meta.height]).to.deep.equal([168, 168]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const evalArgs = (bench: string, data: string, ...more: string[]) => ['eval', '--model', TOY, '--bench', bench, '--data', path.join(dir, 'bench', data), '--out', path.join(dir, 'out'), '--instruction', '', '--threads', '1', ...more];

  it('writes predictions, scores, results and the comparison; a killed run resumes to the same answers', async () => {
    const r = await runCli(evalArgs('pope', 'pope/coco_pope_random.json'));
    expect(r.code, r.stderr).to.equal(0);
    const run = path.join(dir, 'out', 'toy-llava', 'pope-random');
    for (const f of ['predictions.jsonl', 'predictions.meta.json', 'scores.jsonl', 'results.json', 'results.md']) expect(existsSync(path.join(run, f)), f).to.equal(true);
    for (const f of ['comparison.md', 'comparison.json', 'comparison.svg', 'comparison.png']) expect(existsSync(path.join(dir, 'out', f)), f).to.equal(true);
    const predictions = readFileSync(path.join(run, 'predictions.jsonl'), 'utf8');
    const lines = predictions.trimEnd().split('\n');
    expect(lines).to.have.length(8); // 4 scenes x 2 existence questions
    const results = JSON.parse(readFileSync(path.join(run, 'results.json'), 'utf8'));
    const scores = readFileSync(path.join(run, 'scores.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(results.metrics.questions).to.equal(8);
    expect(results.metrics['random accuracy']).to.equal((100 * scores.filter((s) => s.score === 1).length) / 8);
    expect(r.stdout).to.include('# pope (random): toy-llava');
    expect(r.stdout).to.include('| pope random | F1 |');
    // The built-in model reasons before it answers (--reasoned): the whole answer is kept, and what
    // follows its last ", so " is scored.
    const texts = lines.map((l) => JSON.parse(l).text as string);
    expect(texts.every((t) => t.includes(', so ')), texts.join(' | ')).to.equal(true);
    expect(scores.map((s) => s.prediction)).to.deep.equal(texts.map((t) => t.slice(t.lastIndexOf(', so ') + 5)));
    // --answer-after with a marker no answer holds scores the whole answer.
    const wholeArgs = ['eval', '--model', TOY, '--bench', 'pope', '--data', path.join(dir, 'bench', 'pope/coco_pope_random.json'), '--out', path.join(dir, 'whole'), '--instruction', '', '--threads', '1', '--answer-after', ' => '];
    const whole = await runCli(wholeArgs);
    expect(whole.code, whole.stderr).to.equal(0);
    const wholeScores = readFileSync(path.join(dir, 'whole', 'toy-llava', 'pope-random', 'scores.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(wholeScores.map((s) => s.prediction)).to.deep.equal(texts);

    // kill after two answers and half a line: the rerun cuts the torn line and answers the rest
    writeFileSync(path.join(run, 'predictions.jsonl'), `${lines.slice(0, 2).join('\n')}\n${lines[2].slice(0, 20)}`);
    const again = await runCli(evalArgs('pope', 'pope/coco_pope_random.json'));
    expect(again.code, again.stderr).to.equal(0);
    expect(readFileSync(path.join(run, 'predictions.jsonl'), 'utf8')).to.equal(predictions);

    // stored answers are reused, not regenerated: an edited answer changes the score
    const edited = lines.map((l) => JSON.stringify({ ...JSON.parse(l), text: 'No' })).join('\n');
    writeFileSync(path.join(run, 'predictions.jsonl'), `${edited}\n`);
    expect((await runCli(evalArgs('pope', 'pope/coco_pope_random.json'))).code).to.equal(0);
    expect(JSON.parse(readFileSync(path.join(run, 'results.json'), 'utf8')).metrics['random yes ratio']).to.equal(0);
  });

  it('refuses to add answers of another model to the same predictions; a second model gets its own column', async () => {
    const other = path.join(dir, 'other-model');
    cpSync(TOY, other, { recursive: true });
    const r = await runCli([...evalArgs('pope', 'pope/coco_pope_random.json'), '--name', 'toy-llava'].map((a) => (a === TOY ? other : a)));
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include(`predictions.meta.json: the predictions beside it were made with different settings (model: ${JSON.stringify(TOY)} -> ${JSON.stringify(other)})`);
    const ok = await runCli(evalArgs('pope', 'pope/coco_pope_random.json').map((a) => (a === TOY ? other : a)));
    expect(ok.code, ok.stderr).to.equal(0);
    const comparison = JSON.parse(readFileSync(path.join(dir, 'out', 'comparison.json'), 'utf8'));
    expect(comparison.models).to.deep.equal(['toy-llava', 'other-model']);
    // The second model's answers made to say "Yes" once (stored answers are reused), so its F1 is a
    // number whatever the built-in model answers (the model of 2026-12-07 says "No" to all eight).
    const otherRun = path.join(dir, 'out', 'other-model', 'pope-random');
    const otherLines = readFileSync(path.join(otherRun, 'predictions.jsonl'), 'utf8').trimEnd().split('\n');
    otherLines[0] = JSON.stringify({ ...JSON.parse(otherLines[0]), text: 'Yes' });
    writeFileSync(path.join(otherRun, 'predictions.jsonl'), `${otherLines.join('\n')}\n`);
    const rescored = await runCli(evalArgs('pope', 'pope/coco_pope_random.json').map((a) => (a === TOY ? other : a)));
    expect(rescored.code, rescored.stderr).to.equal(0);
    // the first model's answers were all edited to "No" above: no "yes" at all, so precision (and
    // F1) is 0/0, shown as n/a (the official script would divide by zero); no difference is shown then
    expect(readFileSync(path.join(dir, 'out', 'comparison.md'), 'utf8')).to.match(/\| pope random \| F1 \| n\/a \| [\d.]+ \|\n/);
  });

  it('MMBench in describe-and-respond mode: one description per image, put before every question about it', async () => {
    const r = await runCli(evalArgs('mmbench', 'mmbench/mmbench_toy.tsv', '--describe-first', '--describe-tokens', '24'));
    expect(r.code, r.stderr).to.equal(0);
    const run = path.join(dir, 'out', 'toy-llava', 'mmbench-dev-describe-first');
    const descriptions = readFileSync(path.join(run, 'descriptions.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    const predictions = readFileSync(path.join(run, 'predictions.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(descriptions.length).to.equal(new Set(predictions.map((p) => p.id.split('/')[0])).size > 0 ? descriptions.length : -1);
    const byImage = new Map(descriptions.map((d) => [d.id, d.text]));
    expect(byImage.size).to.be.at.most(4);
    for (const p of predictions) expect(p.question.startsWith('Image description:\n')).to.equal(true);
    const first = descriptions[0];
    expect(predictions.some((p) => p.question.startsWith(`Image description:\n${first.text}\n\n`))).to.equal(true);
    const results = JSON.parse(readFileSync(path.join(run, 'results.json'), 'utf8'));
    expect(results.describeFirst).to.equal(true);
    expect(results.metrics.passes).to.equal(predictions.length);
  });

  it('MM-Vet needs a judge (refused before generating) and is graded by one through the local server', async () => {
    const refused = await runCli(evalArgs('mmvet', 'mmvet/mm-vet.json'));
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.equal('stic: mmvet is scored by a judge model: give --judge-url and --judge-model (an OpenAI-compatible chat endpoint)\n');
    expect(existsSync(path.join(dir, 'out', 'toy-llava', 'mmvet-all'))).to.equal(false);
    const server = await startJudgeServer((body) => ({ status: 200, content: userText(body).includes('How many shapes') ? '1.0' : '0.0' }));
    try {
      const r = await runCli([...evalArgs('mmvet', 'mmvet/mm-vet.json'), '--judge-url', server.url, '--judge-model', 'local-judge', '--judge-rpm', '0']);
      expect(r.code, r.stderr).to.equal(0);
      const results = JSON.parse(readFileSync(path.join(dir, 'out', 'toy-llava', 'mmvet-all', 'results.json'), 'utf8'));
      const asked = JSON.parse(readFileSync(path.join(dir, 'bench', 'mmvet', 'mm-vet.json'), 'utf8')) as Record<string, { question: string }>;
      const counts = Object.values(asked).filter((q) => q.question.includes('How many shapes')).length;
      expect(results.headline.value).to.be.closeTo((100 * counts) / Object.keys(asked).length, 1e-9);
      // one request per distinct judge prompt: questions whose (question, answer, prediction) repeat
      // are graded once, from the cache
      const prompts = server.requests.map((q) => userText(q.body));
      expect(new Set(prompts).size).to.equal(prompts.length);
      expect(prompts.length).to.be.within(1, Object.keys(asked).length);
      const sent = prompts.length;
      const rerun = await runCli([...evalArgs('mmvet', 'mmvet/mm-vet.json'), '--judge-url', server.url, '--judge-model', 'local-judge']);
      expect(rerun.code).to.equal(0);
      expect(server.requests).to.have.length(sent); // every judgment from judge-cache.jsonl
    } finally {
      await server.close();
    }
  });

  it('--help: every flag is explained and states its default or that it is required', async () => {
    for (const [name, cmd] of [['eval', evalCommand], ['toy-bench', toyBenchCommand]] as const) {
      const help = await new Promise<string>((resolve, reject) => {
        void yargs().scriptName('stic').exitProcess(false).wrap(200).command(cmd as CommandModule)
          .parseAsync([name, '--help'], {}, (err: Error | undefined, _a: unknown, output: string) => (err ? reject(err) : resolve(output)));
      });
      const options = helpOptions(help);
      options.delete('help');
      options.delete('version');
      expect(options.size).to.be.at.least(name === 'eval' ? 20 : 3);
      for (const [flag, text] of options) {
        expect(text.replace(/\[[^\]]*\]/g, '').trim().length, `--${flag} has no explanation`).to.be.above(10);
        expect(statesDefault(text), `--${flag}: "${text}" states no default`).to.equal(true);
      }
      if (name === 'eval') for (const flag of ['config', 'dry-run']) expect(options.has(flag), `stic eval --${flag}`).to.equal(true);
    }
  });
});
