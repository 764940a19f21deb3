// `stic demo` on the built-in model in a reduced setting (a few images, one step per stage, short
// generations), with the control arm: every file is produced, the table is the one of the stored
// evaluations, the metrics are in range and counted over the right questions, the evaluation is the
// model's own greedy output, the control pairs are the STIC pairs swapped by their coins, and a re-run
// redoes nothing. No improvement is asserted here: the README reports a real run's numbers.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

import { controlPair } from '../../lib/demo/control.ts';
import { type BranchQuality, type PairQuality, pairQuality, pairQualityMarkdown } from '../../lib/demo/pair_quality.ts';
import { meanSd, seedsTable, summariseSeeds } from '../../lib/demo/seeds.ts';
import { comparisonSvg } from '../../lib/demo/compare_chart.ts';
import { SET_START, demoWorldSeed } from '../../lib/demo/data.ts';
import type { ModelEval } from '../../lib/demo/evaluate.ts';
import { BUILTIN_MODEL } from '../../lib/demo/options.ts';
import { adapterForLoad } from '../../lib/train/adapted_model.ts';
import { DEMO_PROMPTS } from '../../lib/demo/recipe.ts';
import { imagePixels, loadChatModel, userPromptIds } from '../../lib/engine/chat_input.ts';
import { loadRunConfig } from '../../lib/stic/run_config.ts';
import { REASONED_ANSWER_TOKENS, toyAnswersReasoned } from '../../lib/toy/answer_form.ts';
import { TOY_EVAL_DEFAULTS } from '../../lib/eval/toy_run.ts';
import { formatComparisonTable } from '../../lib/eval/toy_table.ts';
import { type ToyEvalReport, scoreDescriptions } from '../../lib/eval/toy_score.ts';
import { caption } from '../../lib/toy/text.ts';
import { generateScenes } from '../../lib/toy/world.ts';
import { runCli } from '../stic/cli_helpers.ts';

const COLUMNS = ['base', 'stic stage 1', 'stic final', 'control stage 1', 'control final'];

function jsonl(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

function inUnit(v: number | null, what: string): void {
  if (v !== null) expect(v, what).to.be.within(0, 1);
}

/** Every ratio of a report in [0, 1] and its counts consistent with the held-out set. */
function checkReport(r: ToyEvalReport, shortQuestions: number, scenes: number): void {
  expect(r.vqa.asked).to.equal(shortQuestions);
  expect(r.vqa.correct).to.be.within(0, shortQuestions);
  expect(r.vqa.accuracy).to.equal(r.vqa.correct / shortQuestions);
  expect(Object.values(r.vqa.byType).reduce((n, t) => n + t.asked, 0)).to.equal(shortQuestions);
  expect(r.descriptions.count).to.equal(scenes);
  for (const [level, pr] of Object.entries(r.descriptions.levels)) {
    inUnit(pr.precision, `${level} precision`);
    inUnit(pr.recall, `${level} recall`);
    expect(pr.matched).to.be.at.most(Math.min(pr.mentioned, pr.truth));
  }
  inUnit(r.descriptions.hallucination.rate, 'CHAIR_i');
  inUnit(r.descriptions.hallucination.descriptions, 'CHAIR_s');
}

describe('stic demo (reduced setting, with the control arm)', function () {
  this.timeout(120_000);
  let dir: string;
  let model: string;
  let out: string;
  let argv: string[];
  let first: { code: number; stdout: string; stderr: string };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-demo-'));
    model = BUILTIN_MODEL; // the demo's default: models/toy-llava
    out = path.join(dir, 'demo');
    argv = ['demo', '--model', model, '--out', out, '--images', '8', '--instructions', '4', '--heldout', '3', '--describe-tokens', '40', '--dpo-epochs', '1', '--control', '--threads', '1'];
    first = await runCli(argv);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('prints the table of every model and writes the data, both runs, the evaluations and the charts', async () => {
    expect(first.code, first.stderr).to.equal(0);
    const world = demoWorldSeed(0);
    const unlabeled = readdirSync(path.join(out, 'data/unlabeled/images')).sort();
    expect(unlabeled).to.deep.equal(Array.from({ length: 8 }, (_, i) => `toy-${world}-${SET_START.unlabeled + i}.png`));
    expect(existsSync(path.join(out, 'data/unlabeled/truth.jsonl'))).to.equal(false); // unlabeled: no truth
    // Instruction answers in the form the model was pretrained to answer in (training.json).
    expect(JSON.parse(readFileSync(path.join(out, 'data/instructions/world.json'), 'utf8')).reasoned).to.equal(toyAnswersReasoned(model));
    // Rendered at the model's input side (168 px for the built-in model), never upsampled by its preprocessor.
    for (const file of [path.join(out, 'data/unlabeled/images', unlabeled[0]), path.join(out, 'data/heldout/images', `toy-${world}-${SET_START.heldout}.png`)]) {
      const meta = await sharp(file).metadata();
      expect([meta.width, meta.height], file).to.deep.equal([168, 168]);
    }
    expect(jsonl(path.join(out, 'data/instructions/instructions.jsonl')).map((s) => s.id)).to.deep.equal(Array.from({ length: 4 }, (_, i) => `toy-${world}-${SET_START.instructions + i}`));
    expect(jsonl(path.join(out, 'data/heldout/truth.jsonl'))).to.have.length(3);

    for (const arm of ['stic', 'control']) {
      const cfg = await loadRunConfig(path.join(out, `${arm}.yaml`));
      expect(cfg.out).to.equal(path.join(out, arm));
      expect(cfg.dpo).to.deep.include({ loraR: 16, loraAlpha: 32, lr: 5e-4, epochs: 1 });
      expect(cfg.prompts).to.equal(path.join(out, 'prompts.json'));
      for (const f of ['pref.jsonl', 'dpo/adapter_model.safetensors', 'dpo/training.svg', 'dpo/training.png', 'dpo/summary.txt', 'descriptions.jsonl', 'infused.json', 'sft/adapter_model.safetensors', 'sft/training.png', 'sft/summary.txt']) {
        expect(existsSync(path.join(out, arm, f)), `${arm}/${f}`).to.equal(true);
      }
      for (const stage of ['pref.jsonl', 'dpo', 'descriptions.jsonl', 'infused.json', 'sft']) expect(existsSync(path.join(out, arm, `${stage}.done.json`)), `${arm} ${stage}`).to.equal(true);
    }
    expect(JSON.parse(readFileSync(path.join(out, 'prompts.json'), 'utf8'))).to.deep.equal(DEMO_PROMPTS);
    for (const pair of jsonl(path.join(out, 'stic/pref.jsonl'))) {
      const p = (pair as { provenance: { prompts: { preferred: string; stored: string } } }).provenance.prompts;
      expect(p.preferred).to.equal(DEMO_PROMPTS.detailed);
      expect(DEMO_PROMPTS.plain).to.include(p.stored);
    }
    expect(readdirSync(path.join(out, 'eval')).sort()).to.deep.equal(['base.json', 'control-final.json', 'control-stage-1.json', 'stic-final.json', 'stic-stage-1.json']);
    for (const f of ['comparison.svg', 'results.md', 'table.txt', 'results.json']) expect(existsSync(path.join(out, f)), f).to.equal(true);
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as { pairs: { all: { pairs: number; agree: number; disagree: number } } };
    const pairCount = jsonl(path.join(out, 'stic/pref.jsonl')).length;
    expect(results.pairs.all.pairs).to.equal(pairCount);
    expect(results.pairs.all.agree + results.pairs.all.disagree).to.be.at.most(pairCount);
    expect(readFileSync(path.join(out, 'results.md'), 'utf8')).to.contain(`| all pairs | ${pairCount} |`);
    // The pairs are scored before stage 1 trains on them.
    expect(first.stderr.indexOf('pairs, all pairs: chosen more accurate in')).to.be.within(0, first.stderr.indexOf('dpo: run'));
    const png = await sharp(path.join(out, 'comparison.png')).metadata();
    expect([png.format, png.width! > 500]).to.deep.equal(['png', true]);

    // The printed table is the comparison of the stored evaluations, columns in order.
    const evals = COLUMNS.map((c) => JSON.parse(readFileSync(path.join(out, 'eval', `${c.replace(/ /g, '-')}.json`), 'utf8')) as ModelEval);
    const table = formatComparisonTable(evals.map((e) => ({ name: e.name, report: e.report })));
    expect(first.stdout.startsWith(`\n${table}\n\nwall time `)).to.equal(true);
    expect(readFileSync(path.join(out, 'table.txt'), 'utf8')).to.equal(`${table}\n`);
    expect(readFileSync(path.join(out, 'results.md'), 'utf8')).to.contain(formatComparisonTable(evals.map((e) => ({ name: e.name, report: e.report })), { markdown: true }));
    expect(table.split('\n')[0]).to.match(/^metric +base +stic stage 1 +stic final +control stage 1 +control final$/);
  });

  it('metrics are in range and counted over the held-out questions; answers are the model\'s greedy output', async () => {
    const qa = jsonl(path.join(out, 'data/heldout/qa.jsonl'));
    const short = qa.filter((q) => q.type !== 'describe').length;
    const evals = COLUMNS.map((c) => JSON.parse(readFileSync(path.join(out, 'eval', `${c.replace(/ /g, '-')}.json`), 'utf8')) as ModelEval);
    for (const e of evals) checkReport(e.report, short, 3);
    expect(evals.map((e) => e.adapter)).to.deep.equal([null, ...['stic/dpo', 'stic/sft', 'control/dpo', 'control/sft'].map((a) => path.join(out, a))]);
    // Two answers and one description of the final STIC model, recomputed outside the demo.
    const chat = await loadChatModel(model, { adapter: await adapterForLoad(model, path.join(out, 'stic/sft')) });
    const final = evals[2];
    const answerTokens = toyAnswersReasoned(model) ? REASONED_ANSWER_TOKENS : TOY_EVAL_DEFAULTS.answerTokens; // the demo's default budget for this model
    const cases = [...final.answers.slice(0, 2).map((a) => ({ id: a.id, prompt: a.question, got: a.response, tokens: answerTokens })), { id: `${final.descriptions[0].sceneId}-describe`, prompt: final.descriptions[0].prompt, got: final.descriptions[0].text, tokens: 40 }];
    for (const c of cases) {
      const scene = (qa.find((q) => q.id === c.id) as { sceneId: string }).sceneId;
      const image = await imagePixels(chat.model.config, path.join(out, 'data/heldout/images', `${scene}.png`));
      const [r] = await chat.model.generate([{ ids: userPromptIds(chat, c.prompt, true), image, maxNewTokens: c.tokens, temperature: 0 }]);
      expect(c.got, c.id).to.equal((r.text ?? '').trim());
    }
  });

  it('the control pairs are the STIC pairs, swapped exactly where their coin says', () => {
    const stic = jsonl(path.join(out, 'stic/pref.jsonl'));
    const control = jsonl(path.join(out, 'control/pref.jsonl'));
    expect(control.map((c) => c.id)).to.deep.equal(stic.map((s) => s.id));
    control.forEach((c, i) => {
      const s = stic[i];
      const swapped = c.control_swapped as boolean;
      expect(swapped).to.equal(controlPair(s, 0).swapped);
      expect([c.chosen, c.rejected]).to.deep.equal(swapped ? [s.rejected, s.chosen] : [s.chosen, s.rejected]);
      expect([c.ref_chosen_logp, c.ref_rejected_logp]).to.deep.equal(swapped ? [s.ref_rejected_logp, s.ref_chosen_logp] : [s.ref_chosen_logp, s.ref_rejected_logp]);
    });
    expect(first.stderr).to.contain(`control: ${control.filter((c) => c.control_swapped).length} of ${control.length} pairs swapped by a coin flip`);
  });

  it('a re-run skips every stage, reuses every evaluation and prints the same table', async () => {
    const before = readdirSync(path.join(out, 'eval')).map((f) => readFileSync(path.join(out, 'eval', f)));
    const again = await runCli(argv);
    expect(again.code, again.stderr).to.equal(0);
    const said = again.stderr.split('\n').filter((l) => /^[a-z]+: (skip|resume|run)\b/.test(l)).map((l) => l.replace(/ \(.*/, ''));
    // The STIC arm's pref alone first (its pairs are scored before training), then the arm, then the control arm.
    expect(said).to.deep.equal([...['pref', 'pref', 'dpo', 'describe', 'infuse', 'sft'].map((s) => `${s}: skip`), ...['dpo', 'describe', 'infuse', 'sft'].map((s) => `${s}: skip`)]);
    readdirSync(path.join(out, 'eval')).forEach((f, i) => expect(readFileSync(path.join(out, 'eval', f)).equals(before[i]), f).to.equal(true));
    expect(again.stdout.split('\nwall time')[0]).to.equal(first.stdout.split('\nwall time')[0]);
  });
});

describe('stic demo --seeds (reduced setting)', function () {
  this.timeout(120_000);
  it('runs one demo per seed into seed-<k> and prints the summary of their stored evaluations', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stic-demo-seeds-'));
    try {
      const out = path.join(dir, 'demo');
      const r = await runCli(['demo', '--out', out, '--images', '4', '--instructions', '2', '--heldout', '2', '--describe-tokens', '24', '--control', '--seeds', '2', '--seed', '5', '--threads', '1']);
      expect(r.code, r.stderr).to.equal(0);
      expect(readdirSync(out).sort()).to.deep.equal(['seed-5', 'seed-6', 'seeds.json', 'seeds.md']);
      const runs = [5, 6].map((seed) => {
        const evals = COLUMNS.map((c) => JSON.parse(readFileSync(path.join(out, `seed-${seed}`, 'eval', `${c.replace(/ /g, '-')}.json`), 'utf8')) as ModelEval);
        const pairs = (JSON.parse(readFileSync(path.join(out, `seed-${seed}`, 'results.json'), 'utf8')) as { pairs: PairQuality }).pairs;
        return { seed, result: { evals, pairs } };
      });
      // Each seed draws its own world.
      expect(jsonl(path.join(out, 'seed-6/data/heldout/truth.jsonl'))[0].id).to.equal(`toy-${demoWorldSeed(6)}-${SET_START.heldout}`);
      const stored = JSON.parse(readFileSync(path.join(out, 'seeds.json'), 'utf8')) as ReturnType<typeof summariseSeeds>;
      const expected = summariseSeeds(runs, stored.seconds);
      expect(stored).to.deep.equal(JSON.parse(JSON.stringify(expected)));
      expect(r.stdout.startsWith(`\n${seedsTable(expected, false)}\n\nwall time `)).to.equal(true);
      expect(readFileSync(path.join(out, 'seeds.md'), 'utf8')).to.contain(seedsTable(expected, true));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('demo pieces', () => {
  it('the control coin is fair over many pairs and swaps the reference log-probs with the answers', () => {
    let swapped = 0;
    for (let i = 0; i < 2000; i++) {
      const r = controlPair({ id: `img-${i}`, chosen: 'c', rejected: 'r', ref_chosen_logp: -1, ref_rejected_logp: -2 }, 3);
      expect(r.record).to.deep.include(r.swapped ? { chosen: 'r', rejected: 'c', ref_chosen_logp: -2, ref_rejected_logp: -1 } : { chosen: 'c', rejected: 'r', ref_chosen_logp: -1, ref_rejected_logp: -2 });
      if (r.swapped) swapped++;
    }
    expect(swapped / 2000).to.be.within(0.46, 0.54); // 4.5 standard deviations of a fair coin
    expect(controlPair({ id: 'x' }, 3).swapped).to.equal(controlPair({ id: 'x' }, 3).swapped);
  });

  it('pair quality: chosen and rejected answers scored against their scenes, per branch', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stic-pairs-'));
    try {
      const scenes = generateScenes(5, 3, 0, { minShapes: 3 });
      const other = generateScenes(6, 3, 0, { minShapes: 3 });
      // The rejected answer's origin as pref writes it: the hallucination prompt, or the corruption drawn.
      const made = (branch: string) => (branch === 'hallucination' ? { dispreferred: branch, corruption: null } : { dispreferred: 'corruption', corruption: { kind: 'stic', params: { kind: branch } } });
      const pair = (i: number, good: 'chosen' | 'rejected' | 'both', branch: string) => {
        const right = caption(scenes[i]);
        const wrong = caption(other[i]);
        const [c, r] = good === 'chosen' ? [right, wrong] : good === 'rejected' ? [wrong, right] : [right, right];
        return JSON.stringify({ image: `${scenes[i].id}.png`, chosen: [{ role: 'user', content: 'q' }, { role: 'assistant', content: c }], rejected: [{ role: 'user', content: 'q' }, { role: 'assistant', content: r }], provenance: made(branch) });
      };
      const file = path.join(dir, 'pref.jsonl');
      writeFileSync(file, `${[pair(0, 'chosen', 'lowres'), pair(1, 'rejected', 'hallucination'), pair(2, 'both', 'jitter')].join('\n')}\n`);
      const q = await pairQuality(file, scenes);
      const counts = (b: BranchQuality) => [b.pairs, b.agree, b.disagree, b.agreeWhereDiffer];
      expect(counts(q.all)).to.deep.equal([3, 1, 1, 0.5]);
      expect(Object.keys(q.byKind)).to.deep.equal(['hallucination', 'lowres', 'jitter']);
      expect(counts(q.byKind.lowres)).to.deep.equal([1, 1, 0, 1]);
      expect(counts(q.byKind.jitter)).to.deep.equal([1, 0, 0, null]); // identical answers: neither better
      expect(counts(q.byKind.hallucination)).to.deep.equal([1, 0, 1, 0]);
      expect(pairQualityMarkdown(q).split('\n').slice(2).map((l) => l.split(' | ').slice(0, 4).join(' | '))).to.deep.equal([
        '| all pairs | 3 | 1 / 1 | 50.0%',
        '| hallucination prompt | 1 | 0 / 1 | 0.0%',
        '| corruption: lowres | 1 | 1 / 0 | 100.0%',
        '| corruption: jitter | 1 | 0 / 0 | n/a',
      ]);
      const ref = scoreDescriptions(scenes, [caption(scenes[0]), caption(other[1]), caption(scenes[2])].map((text, i) => ({ sceneId: scenes[i].id, text })));
      expect(q.all.chosen.precision).to.equal(ref.levels.shape_colour.precision);
      expect(q.all.chosen.rate).to.equal(ref.hallucination.rate);
      writeFileSync(file, `${pair(0, 'chosen', 'corruption').replace(`${scenes[0].id}.png`, 'elsewhere.png')}\n`);
      expect(((await pairQuality(file, scenes).catch((e: Error) => e)) as Error).message).to.equal(`${file}: pair image "elsewhere.png" is not one of the demo's unlabeled scenes`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('over seeds: mean, sample sd and the STIC - control difference paired by seed', () => {
    const report = (acc: number, recall: number | null) =>
      ({
        vqa: { asked: 10, correct: 0, accuracy: acc, byType: {} },
        descriptions: { count: 2, hallucination: { rate: 0.5, descriptions: 0.5 }, levels: { shape: { precision: 0.5, recall }, shape_colour: { precision: 0.5, recall: 0.5 }, shape_position: { precision: 0.5, recall: 0.5 } } },
      }) as unknown as ToyEvalReport;
    // VQA: STIC final - control final = +0.1, +0.2, +0.3 (all positive); shape recall: +0.1, -0.1, +0.0.
    const run = (seed: number, stic: number, control: number, rs: number, rc: number) => ({
      seed,
      result: { evals: [{ name: 'base', report: report(0.4, 0.3) }, { name: 'stic final', report: report(stic, rs) }, { name: 'control final', report: report(control, rc) }] as ModelEval[], pairs: { all: { pairs: 4, agree: 3, disagree: 1 }, byKind: { lowres: { pairs: 4, agree: 3, disagree: 1 } } } as unknown as PairQuality },
    });
    const s = summariseSeeds([run(3, 0.5, 0.4, 0.4, 0.3), run(4, 0.6, 0.4, 0.3, 0.4), run(5, 0.7, 0.4, 0.35, 0.35)], 12);
    expect(s.seeds).to.deep.equal([3, 4, 5]);
    const vqa = s.metrics.find((m) => m.label === 'VQA accuracy')!;
    expect(vqa.models['stic final']!.mean).to.be.closeTo(0.6, 1e-12);
    expect(vqa.models['stic final']!.sd).to.be.closeTo(0.1, 1e-12);
    expect(vqa.models['control final']!.mean).to.be.closeTo(0.4, 1e-12);
    expect(vqa.models['control final']!.sd).to.be.closeTo(0, 1e-12);
    expect(vqa.difference!.perSeed.map((d) => Number(d.toFixed(12)))).to.deep.equal([0.1, 0.2, 0.3]);
    expect([vqa.difference!.mean, vqa.difference!.sd].map((v) => Number(v.toFixed(12)))).to.deep.equal([0.2, 0.1]);
    expect(vqa.difference!.outside).to.equal(true);
    const recall = s.metrics.find((m) => m.label === 'recall shape')!;
    expect(recall.difference!.outside).to.equal(false); // one seed says worse, one better
    expect(seedsTable(s, true).split('\n').find((l) => l.startsWith('| VQA accuracy |'))).to.equal('| VQA accuracy | 40.0% ± 0.0 | 60.0% ± 10.0 | 40.0% ± 0.0 | +20.0 ± 10.0 | +10.0 .. +30.0 | yes |');
    expect(meanSd([2])).to.deep.equal({ mean: 2, sd: 0 });
    expect(s.pairs).to.deep.equal({ all: { pairs: 12, agree: 9, disagree: 3 }, lowres: { pairs: 12, agree: 9, disagree: 3 } });
  });

  it('the comparison chart draws one bar per value and "n/a" where a model has none', () => {
    const report = (acc: number | null, rate: number | null) =>
      ({ vqa: { accuracy: acc }, descriptions: { hallucination: { rate }, levels: { shape_colour: { precision: 0.5, recall: 0.25 }, shape_position: { precision: null, recall: 0 } } } }) as unknown as ToyEvalReport;
    const svg = comparisonSvg('t', [{ name: 'a', report: report(0.5, 0.1) }, { name: 'b', report: report(0.75, null) }]);
    const bars = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" fill="(#\w+)"/g)].map((m) => [Number(m[1]), m[2]]);
    // Two legend squares, then 300 px = 100%, metrics in order, the models within a metric.
    expect(bars.map(([h]) => h)).to.deep.equal([12, 12, 150, 225, 30, 150, 150, 75, 75, 0, 0]);
    expect(bars.slice(2).map(([, c]) => c)).to.deep.equal(['#7f7f7f', '#1f77b4', '#7f7f7f', '#7f7f7f', '#1f77b4', '#7f7f7f', '#1f77b4', '#7f7f7f', '#1f77b4']);
    expect(svg.match(/>n\/a</g)).to.have.length(3);
  });
});
