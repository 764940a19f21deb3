// Scores a toy model (default: the built-in models/toy-llava) on held-out scenes with exactly k
// shapes, for k = 1, 2, 6: every question asked alone with its image, greedy, scored by
// lib/eval/toy_score.ts, as `stic toy pretrain`'s evaluation does. Splitting by shape count separates
// what the vision tower sees (one shape: no shape to pick out) from what the decoder must compose
// (six shapes). The numbers in models/toy-llava/README.md ("Where it fails") come from
//   npx tsx scripts/toy_probe.ts [model folder] [scenes per k, default 40] [answer tokens, default 8;
//   96 for a model trained with --reasoned]
import { loadChatModel } from '../lib/engine/chat_input.ts';
import { native } from '../lib/native/index.ts';
import { TOY_EVAL_DEFAULTS, evaluateToyModel } from '../lib/eval/toy_run.ts';
import { TOY_PRETRAIN_DEFAULTS } from '../lib/pretrain/toy_pretrain.ts';
import { questions } from '../lib/toy/text.ts';
import { generateScenes } from '../lib/toy/world.ts';

const HELD_OUT_SEED = TOY_PRETRAIN_DEFAULTS.evalSeed; // the pretraining's evaluation world (training drew seeds 1 and 2)
const [model = 'models/toy-llava', perK = '40', answerTokens = String(TOY_EVAL_DEFAULTS.answerTokens)] = process.argv.slice(2);
native().setThreads(1);
const chat = await loadChatModel(model);
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '  n/a' : `${(100 * x).toFixed(0).padStart(4)}%`);
process.stdout.write('shapes   VQA count c.kind colour   pos  size exists | kind R  +colour R  +pos R\n');
for (const k of [1, 2, 6]) {
  const scenes = generateScenes(HELD_OUT_SEED, Number(perK), 0, { minShapes: k, maxShapes: k });
  const { report } = await evaluateToyModel(chat, { seed: HELD_OUT_SEED, scenes, questions: scenes.flatMap((s) => questions(s)) }, { ...TOY_EVAL_DEFAULTS, answerTokens: Number(answerTokens) });
  const t = (type: string) => pct(report.vqa.byType[type as keyof typeof report.vqa.byType]?.accuracy);
  const d = report.descriptions.levels;
  process.stdout.write(
    `${String(k).padStart(6)} ${pct(report.vqa.accuracy)} ${t('count')} ${t('count_kind')} ${t('colour')} ${t('position')} ${t('size')} ${t('exists')} |  ${pct(d.shape.recall)}     ${pct(d.shape_colour.recall)}  ${pct(d.shape_position.recall)}\n`,
  );
}
