// Pilots of models/toy-llava/README.md ("Where it fails: naming a shape in the question"): can the
// toy model answer about a shape the question names? Continues training a model on one-shape scenes
// (1-6 shapes for the list and item forms; training world seed 7, held-out world seed 9001, 16
// scenes per step, AdamW at a constant lr, the patch filters frozen as `stic toy pretrain` freezes
// them) on one single-turn question form, and prints the held-out loss per target (the answer word
// and </s>) every 50 steps:
//   exists  "Is there a <kind>?" for a kind present (half) or absent; "yes"/"no" (chance ~0.35)
//   copy    "Is there a <random kind>?" answered with that kind's name: reading the question alone
//   equal   "Is there a <random kind> in the <the scene's kind or another>?": "yes" when the two
//           words are the same; comparing two words of the text, no image needed
//   copyfirst  "Is there a <random kind> in the <kind>?" answered with the first kind's name
//   equalmix   a third each: "Say the first: <A> in the <B>?" (answer A), "Say the second: ..."
//              (answer B) and the equal question; scored on the equal question alone
//   existsmix  a third each: "Repeat: is there a <kind>?" (answer the kind), "What shape is this?"
//              and the exists question; scored on the exists question alone
//   kind    "What shape is this?" answered with the scene's kind: reading the image alone (also
//           prints the loss on small and on large shapes apart)
// Answers that say what they see before the verdict, scored (teacher-forced) on the verdict alone:
//   existscot   "Is there a <kind>?" -> "It is a <kind seen>, so yes|no"
//   existscotq  the same, the answer starting "A <kind asked>? ..."
//   existslist  1-6 shapes: "I see a circle, a star and a square, so yes|no"
//   existsitems 1-6 shapes: "a circle: no, a star: yes, a square: no, so yes" (a verdict per shape;
//               the teacher-forced final verdict is then trivial: judge these by `ask:`)
//   colourlist  1-6 shapes, "What colour is the <kind>?" -> "I see a red circle and a blue star, so blue"
//   colouritems the same with a verdict per shape: "a red circle: no, a blue star: yes, so blue"
//   pairitems   1-6 shapes, "Is there a red star?" -> "a blue star: no, a red circle: no, so no": the
//               colour and the kind compared, the absent shapes sharing one of the two with the scene
// A model argument `fresh:<hidden>x<layers>[@<image px>]` starts from a seeded random initialisation
// of that decoder size (MLP 2.7x hidden, 64-wide heads) and image size instead (the vision tower
// otherwise as the built-in model's). A fifth argument names a folder the trained model is written
// to (every 500 steps and at the end), for the probes below.
// Probes of an unchanged model:
//   table       "Is there a <kind>?" for all six kinds on 30 held-out one-shape scenes: how often
//               it answers "yes", by the true kind and the asked kind
//   kinds       "What shape is this?" on 120 held-out one-shape scenes: answers by true kind, and
//               right answers by size
//   ask:<form>  96 held-out scenes of that form, answered greedily: how often the last word (the
//               verdict) is right, and the whole answer
//   npx tsx scripts/toy_binding_pilot.ts <form|table|kinds|ask:<form>> [model] [steps 300] [lr 1e-3] [save to]
import { loadChatModel } from '../lib/engine/chat_input.ts';
import { resolveWeights } from '../lib/engine/weight_names.ts';
import { evaluateToyModel } from '../lib/eval/toy_run.ts';
import { loadModelConfig, modelImageSide } from '../lib/model/config.ts';
import { openCheckpoint } from '../lib/model/safetensors.ts';
import { preprocessConfigFromVision } from '../lib/data/preprocess.ts';
import { native } from '../lib/native/index.ts';
import { toyChatEncoder } from '../lib/pretrain/toy_pretrain.ts';
import { scenePixels, tokenizeSample } from '../lib/toy/pretrain_data.ts';
import { TOY_MODEL_SIZE, type ToyModelSize, frozenTensors, initialWeights, toyConfigJson, toyEngineConfig, toyPreprocessorJson, writeToyModel } from '../lib/toy/pretrain_model.ts';
import type { ToyQa } from '../lib/toy/text.ts';
import { buildToyModelTokenizer } from '../lib/toy/toy_tokenizer.ts';
import { COLOUR_NAMES, SHAPE_KINDS, article } from '../lib/toy/vocab.ts';
import { type ToyScene, generateScene, generateScenes } from '../lib/toy/world.ts';
import { seededRandom } from '../lib/util/seeded.ts';

const FORMS = ['exists', 'copy', 'copyfirst', 'equal', 'equalmix', 'existsmix', 'existscot', 'existscotq', 'existslist', 'existsitems', 'colourlist', 'colouritems', 'pairitems', 'kind', 'table', 'kinds'] as const;
const [form, model = 'models/toy-llava', steps = '300', lr = '1e-3', saveTo] = process.argv.slice(2);
const asking = form.startsWith('ask:'); // ask:<form>: the unchanged model answers that form greedily
if (!(FORMS as readonly string[]).includes(asking ? form.slice(4) : form)) throw new Error(`expected a form among ${FORMS.join(', ')} but received ${String(form)}`);
native().setThreads(1);

/** The question and answer of form `form` about one-shape scene `s`. */
function turn(s: ToyScene, seed: number, f: string = form): { q: string; a: string } {
  const rng = seededRandom('stic-toy-binding-pilot', seed, s.id);
  const kind = s.shapes[0].kind;
  const yes = rng.next() < 0.5;
  const absent = SHAPE_KINDS.filter((k) => k !== kind);
  const asked = yes ? kind : absent[rng.int(absent.length)];
  const other = SHAPE_KINDS[rng.int(SHAPE_KINDS.length)];
  if (f === 'existsmix') {
    const pick = rng.int(3);
    if (pick === 0) return { q: `Repeat: is there a ${asked}?`, a: asked };
    if (pick === 1) return { q: 'What shape is this?', a: kind };
    f = 'exists';
  }
  if (f === 'equalmix') {
    const pick = rng.int(3);
    if (pick === 0) return { q: `Say the first: ${other} in the ${asked}?`, a: other };
    if (pick === 1) return { q: `Say the second: ${other} in the ${asked}?`, a: asked };
    f = 'equal';
  }
  // The answer says what it sees (and, with q, the kind asked) before its verdict: both compared
  // words are then text at fixed places just before the verdict. Scored on the verdict alone.
  // On scenes of 1-6 shapes: the answer lists what it sees, then its verdict.
  // pairitems: "Is there a <colour> <kind>?" over 1-6 shapes, a verdict per shape in its colour; the
  // shape asked is present (half), or absent with its kind or its colour in the scene on another shape.
  if (f === 'pairitems') {
    const target = s.shapes[rng.int(s.shapes.length)];
    const has = (c: string, k: string) => s.shapes.some((x) => x.colour === c && x.kind === k);
    const misses = COLOUR_NAMES.flatMap((c) => SHAPE_KINDS.map((k) => ({ c, k }))).filter(({ c, k }) => !has(c, k) && (k === target.kind || c === target.colour));
    const ask = yes || misses.length === 0 ? { c: target.colour, k: target.kind } : misses[rng.int(misses.length)];
    const items = s.shapes.map((x) => `${article(x.colour)} ${x.colour} ${x.kind}: ${x.colour === ask.c && x.kind === ask.k ? 'yes' : 'no'}`);
    return { q: `Is there ${article(ask.c)} ${ask.c} ${ask.k}?`, a: `${items.join(', ')}, so ${has(ask.c, ask.k) ? 'yes' : 'no'}` };
  }
  if (f === 'existslist' || f === 'existsitems' || f === 'colourlist' || f === 'colouritems') {
    const seen = s.shapes.map((x) => (f === 'existslist' ? `a ${x.kind}` : `${article(x.colour)} ${x.colour} ${x.kind}`));
    const list = seen.length === 1 ? seen[0] : `${seen.slice(0, -1).join(', ')} and ${seen[seen.length - 1]}`;
    const kinds = s.shapes.map((x) => x.kind);
    if (f.startsWith('exists')) {
      const missing = SHAPE_KINDS.filter((k) => !kinds.includes(k));
      const ask = yes || missing.length === 0 ? kinds[rng.int(kinds.length)] : missing[rng.int(missing.length)];
      const verdict = kinds.includes(ask) ? 'yes' : 'no';
      // existsitems: each shape seen gets its own verdict ("a circle: no, a star: yes, so yes").
      if (f === 'existsitems') return { q: `Is there a ${ask}?`, a: `${kinds.map((k) => `a ${k}: ${k === ask ? 'yes' : 'no'}`).join(', ')}, so ${verdict}` };
      return { q: `Is there a ${ask}?`, a: `I see ${list}, so ${verdict}` };
    }
    const unique = s.shapes.filter((x) => kinds.filter((k) => k === x.kind).length === 1);
    const pickS = unique.length > 0 ? unique[rng.int(unique.length)] : s.shapes[0];
    // colouritems: each shape seen, in its colour, gets its own verdict on the kind asked.
    if (f === 'colouritems') return { q: `What colour is the ${pickS.kind}?`, a: `${s.shapes.map((x) => `${article(x.colour)} ${x.colour} ${x.kind}: ${x === pickS ? 'yes' : 'no'}`).join(', ')}, so ${pickS.colour}` };
    return { q: `What colour is the ${pickS.kind}?`, a: `I see ${list}, so ${pickS.colour}` };
  }
  if (f === 'existscot') return { q: `Is there a ${asked}?`, a: `It is a ${kind}, so ${yes ? 'yes' : 'no'}` };
  if (f === 'existscotq') return { q: `Is there a ${asked}?`, a: `A ${asked}? It is a ${kind}, so ${yes ? 'yes' : 'no'}` };
  if (f === 'exists') return { q: `Is there a ${asked}?`, a: yes ? 'yes' : 'no' };
  if (f === 'copy') return { q: `Is there a ${other}?`, a: other };
  if (f === 'copyfirst') return { q: `Is there a ${other} in the ${asked}?`, a: other };
  if (f === 'equal') return { q: `Is there a ${other} in the ${asked}?`, a: other === asked ? 'yes' : 'no' };
  return { q: 'What shape is this?', a: kind };
}

async function table(): Promise<void> {
  const chat = await loadChatModel(model);
  const scenes = generateScenes(9001, 30, 0, { minShapes: 1, maxShapes: 1 });
  const qs: ToyQa[] = scenes.flatMap((s) =>
    SHAPE_KINDS.map((k) => ({ id: `${s.id}-exists-${k}`, sceneId: s.id, type: 'exists' as const, question: `Is there a ${k}?`, answer: s.shapes[0].kind === k ? 'yes' : 'no' })),
  );
  const { answers } = await evaluateToyModel(chat, { scenes, questions: qs });
  process.stdout.write(`"yes" / asked; rows: the scene's kind, columns: the kind asked about\n${' '.repeat(9)}${SHAPE_KINDS.map((k) => k.padStart(9)).join('')}\n`);
  for (const truth of SHAPE_KINDS) {
    const cells = SHAPE_KINDS.map((k) => {
      const rows = answers.filter((a, i) => scenes.find((s) => s.id === qs[i].sceneId)!.shapes[0].kind === truth && qs[i].question.endsWith(` ${k}?`));
      return `${rows.filter((a) => a.response.trim() === 'yes').length}/${rows.length}`.padStart(9);
    });
    process.stdout.write(`${truth.padEnd(9)}${cells.join('')}\n`);
  }
}

/** The built-in model's size with a decoder `hidden` wide and `layers` deep, and images `image` px wide (same 14 px patches). */
function freshSize(hidden: number, layers: number, image: number): ToyModelSize {
  const heads = Math.max(1, Math.round(hidden / 64));
  return {
    vision: { ...TOY_MODEL_SIZE.vision, imageSize: image },
    decoder: { ...TOY_MODEL_SIZE.decoder, hiddenSize: hidden, intermediateSize: Math.round((hidden * 2.7) / 8) * 8, numLayers: layers, numHeads: heads, numKvHeads: heads },
  };
}

/** `ask:<form>`: the unchanged model answers 96 held-out scenes of `form` greedily; scored on the last word (the verdict). */
async function ask(f: string): Promise<void> {
  const chat = await loadChatModel(model);
  const shapes = f.endsWith('list') || f.endsWith('items') ? { minShapes: 1, maxShapes: 6 } : { minShapes: 1, maxShapes: 1 };
  const scenes = generateScenes(9001, 96, 0, shapes);
  const turns = scenes.map((s) => turn(s, 9001, f));
  const qs: ToyQa[] = scenes.map((s, i) => ({ id: `${s.id}-ask`, sceneId: s.id, type: 'exists' as const, question: turns[i].q, answer: turns[i].a }));
  const { answers } = await evaluateToyModel(chat, { scenes, questions: qs }, { answerTokens: 64, describeTokens: 8, batchSize: 32 });
  const last = (t: string) => t.trim().split(/\s+/).pop() ?? '';
  const right = answers.filter((a, i) => last(a.response) === last(turns[i].a)).length;
  const whole = answers.filter((a, i) => a.response.trim() === turns[i].a).length;
  for (const i of [0, 1, 2, 3]) process.stdout.write(`  ${turns[i].q} -> ${answers[i].response}   (truth: ${turns[i].a})\n`);
  process.stdout.write(`verdict right ${right}/${answers.length}; whole answer right ${whole}/${answers.length}\n`);
}

async function pilot(): Promise<void> {
  const tok = buildToyModelTokenizer();
  const fresh = /^fresh:(\d+)x(\d+)(?:@(\d+))?$/.exec(model);
  const size = fresh ? freshSize(Number(fresh[1]), Number(fresh[2]), Number(fresh[3] ?? TOY_MODEL_SIZE.vision.imageSize)) : { ...TOY_MODEL_SIZE, vision: { ...TOY_MODEL_SIZE.vision, imageSize: modelImageSide(model) } };
  const config = toyEngineConfig(toyConfigJson(tok, size), toyPreprocessorJson(size.vision.imageSize));
  const enc = toyChatEncoder(tok, config);
  const pre = preprocessConfigFromVision(config.vision);
  const p = await native().createPretrainer(config);
  const specs = native().llavaTensorSpecs(config);
  if (fresh) await p.setTensors('param', initialWeights(specs, config, 5, 'fixed'));
  else await p.readTensors('param', resolveWeights(specs, [await openCheckpoint(model)], loadModelConfig(model)));
  const frozen = frozenTensors(p.tensorInfo(), 'fixed');
  const save = async () => {
    const params = await p.getTensors('param');
    const cj = toyConfigJson(tok, size);
    await writeToyModel(saveTo as string, { configJson: cj, preprocessorJson: toyPreprocessorJson(size.vision.imageSize), tokenizer: tok, tensors: p.tensorInfo().map((t, i) => ({ name: t.name, shape: t.shape, data: params[i] })), metadata: {}, dtype: 'F16' });
  };
  // (N, 3, S, S) pixels and one single-turn item per scene.
  const batch = async (seed: number, start: number, n: number, f: string = form, keep: (s: ToyScene) => boolean = () => true, verdictOnly = false) => {
    const shapes = f.endsWith('list') || f.endsWith('items') ? { minShapes: 1, maxShapes: 6 } : { minShapes: 1, maxShapes: 1 };
    const scenes = Array.from({ length: n }, (_, i) => generateScene(seed, start + i, shapes)).filter(keep);
    const samples = scenes.map((s) => {
      const t = turn(s, seed, f);
      return tokenizeSample(enc, s, [{ role: 'user', content: `<image>\n${t.q}` }, { role: 'assistant', content: t.a }], config.decoder.maxPositionEmbeddings);
    });
    // The reasoning forms are scored on their last two targets (the verdict and </s>).
    if (verdictOnly) for (const smp of samples) smp.mask.forEach((v, j) => { if (v && smp.mask.slice(j + 1).reduce((n, x) => n + x, 0) >= 2) smp.mask[j] = 0; });
    return { pixels: await scenePixels(scenes, pre), count: scenes.length, items: samples.map((s, i) => ({ images: [i], ids: s.ids, mask: s.mask })) };
  };
  // The mixed forms are scored on their comparison question alone.
  const held = await batch(9001, 0, 96, form === 'equalmix' ? 'equal' : form === 'existsmix' ? 'exists' : form, undefined, form.startsWith('existscot') || form.endsWith('list') || form.endsWith('items'));
  // The kind form also reports small and large shapes apart (192 held-out scenes, about half each).
  const sized = form === 'kind' ? await Promise.all(['small', 'large'].map((z) => batch(9001, 0, 192, form, (s) => s.shapes[0].size === z))) : [];
  const bySize = async () => {
    let line = '';
    for (const [i, b] of sized.entries()) line += ` ${i ? 'large' : 'small'} ${(await p.loss(b.pixels, b.count, b.items)).loss.toFixed(3)}`;
    return line;
  };
  for (let step = 0; ; step++) {
    if (step % 50 === 0) process.stdout.write(`step ${step}: held-out loss per target ${(await p.loss(held.pixels, held.count, held.items)).loss.toFixed(3)}${await bySize()}\n`);
    if (step === Number(steps)) break;
    if (saveTo && step > 0 && step % 500 === 0) await save();
    const b = await batch(7, step * 16, 16);
    await p.step(b.pixels, b.count, b.items);
    await p.optimizerStep({ lr: Number(lr), weightDecay: 0.05, maxGradNorm: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8, frozen });
  }
  if (saveTo) await save();
}

/** `kinds`: the unchanged model asked "What shape is this?" on 120 held-out one-shape scenes; prints its answers by true kind (and by size). */
async function kinds(): Promise<void> {
  const chat = await loadChatModel(model);
  const scenes = generateScenes(9001, 120, 0, { minShapes: 1, maxShapes: 1 });
  const qs: ToyQa[] = scenes.map((s) => ({ id: `${s.id}-kind`, sceneId: s.id, type: 'exists' as const, question: 'What shape is this?', answer: s.shapes[0].kind }));
  const { answers } = await evaluateToyModel(chat, { scenes, questions: qs });
  process.stdout.write(`answers / asked; rows: the scene's kind, columns: the answer\n${' '.repeat(9)}${SHAPE_KINDS.map((k) => k.padStart(9)).join('')}   small  large\n`);
  for (const truth of SHAPE_KINDS) {
    const rows = answers.map((a, i) => ({ a: a.response.trim(), s: scenes[i].shapes[0] })).filter((r) => r.s.kind === truth);
    const cells = SHAPE_KINDS.map((k) => String(rows.filter((r) => r.a === k).length).padStart(9));
    const bySize = (z: string) => { const rs = rows.filter((r) => r.s.size === z); return `${rs.filter((r) => r.a === truth).length}/${rs.length}`.padStart(7); };
    process.stdout.write(`${truth.padEnd(9)}${cells.join('')}${bySize('small')}${bySize('large')}\n`);
  }
  process.stdout.write(`correct: ${answers.filter((a, i) => a.response.trim() === scenes[i].shapes[0].kind).length}/${scenes.length}\n`);
}

await (asking ? ask(form.slice(4)) : form === 'table' ? table() : form === 'kinds' ? kinds() : pilot());
