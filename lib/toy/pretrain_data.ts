// Training data of `stic toy pretrain`: conversations about toy scenes, rendered with the toy chat
// template, tokenised with the assistant tokens marked as targets, and the scenes' pixels.
//
// The first `drillSteps` steps (default none) are the kind drill of kind_drill.ts: one-shape
// scenes asked "What shape is this?". Every step draws fresh scenes: step s trains on scenes s*B .. s*B + B - 1 of the training world
// seed (with at most curriculumMaxShapes(s) shapes), so no scene is seen twice, a batch is a pure function of (seed, step) (a resumed run draws
// exactly what an uninterrupted one would), and held-out scenes are simply another world seed.
// One conversation per scene (choices keyed by the run seed and the scene id):
//   - with probability `singleTurn` (default 0.25), one question of the scene (any type, "describe"
//     included) as the only turn: the form evaluation and the STIC stages ask in;
//   - otherwise every question of the scene, in a random order, as one multi-turn conversation
//     (7-8 supervised answers for one image and one system prompt: most targets per token). Of the
//     scene's two existence questions (one "yes", one "no") such a conversation keeps one, drawn
//     50/50 (`existsTurns` 1, the default): with both, the second answer is the opposite of the
//     first and can be given without looking, a shortcut that taught the 2026-12 model to answer
//     every existence question "no" (models/toy-llava/README.md). `existsTurns` 2 keeps both.
// With `footholds` F > 0, the last round(F x B) scenes of each conversation step are one-shape
// scenes with a foothold question instead (footholds.ts).
// With `kindItems`, every conversation step's scene is asked one kind-item question instead
// (kind_items.ts: "Is there a star?" -> "a circle: no, a star: yes, so yes").
// With `reasoned`, the questions that name a shape are answered with text.ts's reasonedAnswer (a
// verdict per shape of the scene, then ", so <answer>") instead of the short answer.
// A "describe" turn uses a random description prompt and a random one of the three reference
// caption phrasings as the answer. The image placeholder opens the first user turn ("<image>\n"),
// as LLaVA puts it, and is expanded to the model's image-token count.
// Targets: each assistant turn as the template renders it (its text and the end-of-turn </s>),
// located with lib/train/collate.ts's conversationIds (the same masks `stic sft` trains on).
// Legend: B scenes of a step, S image side, T tokens of a sequence.
import sharp from 'sharp';

import { type ChatEncoder, conversationIds } from '../train/collate.ts';
import type { ChatMessage } from '../model/chat_template.ts';
import { type PreprocessConfig, preprocessImages } from '../data/preprocess.ts';
import type { PretrainItem, RgbImage } from '../native/index.ts';
import { type SeededRandom, seededRandom } from '../util/seeded.ts';
import { footholdConversation } from './footholds.ts';
import { kindItemsConversation } from './kind_items.ts';
import { drillConversation, drillPalette, drillScene } from './kind_drill.ts';
import { sceneToSvg } from './render.ts';
import { DESCRIBE_PROMPTS, type ToyQa, caption, CAPTION_VARIANTS, questions, reasonedAnswer } from './text.ts';
import { MAX_SHAPES } from './vocab.ts';
import { type ToyScene, generateScene } from './world.ts';

export interface ToyDataOptions {
  /** World seed of the training scenes (and key of every per-scene choice). */
  seed: number;
  /** Scenes (= sequences) per optimizer step. */
  batchSize: number;
  /** Probability of a single-turn conversation. Default 0.25. */
  singleTurn?: number;
  /** Fraction of the run over which the shape count ramps from 2 to 6 (see curriculumMaxShapes; default 0: none). */
  curriculum?: number;
  /** Steps of the whole run (the curriculum's time base). */
  totalSteps?: number;
  /** Steps at the start of the run that are kind-drill steps (kind_drill.ts; default 0: none). */
  drillSteps?: number;
  /** Existence questions of a multi-turn conversation: 1 (one of the two, default) or 2 (both). */
  existsTurns?: ExistsTurns;
  /** Share of each conversation step's scenes that are one-shape foothold scenes (footholds.ts; default 0). */
  footholds?: number;
  /** Answer the questions that name a shape with text.ts's reasonedAnswer (default false: the short answer). */
  reasoned?: boolean;
  /** Ask every conversation step's scene one kind-item question (kind_items.ts; default false). */
  kindItems?: boolean;
}

export const EXISTS_TURNS = [1, 2] as const;
export type ExistsTurns = (typeof EXISTS_TURNS)[number];

export interface ToySample {
  scene: ToyScene;
  messages: ChatMessage[];
  ids: Int32Array; // (T)
  mask: Uint8Array; // (T) 1 on assistant tokens
  targets: number;
}

export interface ToyBatch {
  /** (B, 3, S, S) normalised pixels, scene i in row i. */
  pixels: Float32Array;
  count: number;
  items: PretrainItem[];
  samples: ToySample[];
  /** Target tokens of the whole batch (the loss is their mean). */
  targets: number;
}

/**
 * The most shapes a scene of step `step` may have: the curriculum starts at 2 and adds one shape
 * every curriculum/4 of the run, reaching the world's 6 at `curriculum` x totalSteps (0: always 6).
 * Few-shape scenes first make the link between a shape's pixels and its words unambiguous (one or
 * two shapes per caption) while the vision tower is still random.
 */
export function curriculumMaxShapes(o: ToyDataOptions, step: number): number {
  // The conversation steps (after the drill) are the curriculum's run.
  const drill = o.drillSteps ?? 0;
  const ramp = (o.curriculum ?? 0) * ((o.totalSteps ?? 0) - drill);
  if (ramp <= 0) return MAX_SHAPES;
  return Math.min(MAX_SHAPES, 2 + Math.floor(((MAX_SHAPES - 2) * Math.max(0, step - drill)) / ramp));
}

/** Whether optimizer step `step` is a kind-drill step. */
export function isDrillStep(o: ToyDataOptions, step: number): boolean {
  return step < (o.drillSteps ?? 0);
}

/** The training scenes of optimizer step `step`. */
export function stepScenes(o: ToyDataOptions, step: number): ToyScene[] {
  const index = (i: number) => step * o.batchSize + i;
  if (isDrillStep(o, step)) {
    const palette = drillPalette(step, o.drillSteps ?? 0);
    return Array.from({ length: o.batchSize }, (_, i) => drillScene(o.seed, index(i), palette));
  }
  const maxShapes = curriculumMaxShapes(o, step);
  return Array.from({ length: o.batchSize }, (_, i) => generateScene(o.seed, index(i), isFootholdSlot(o, i) ? { minShapes: 1, maxShapes: 1 } : { maxShapes }));
}

/** Whether scene `i` of a conversation step is a foothold scene: the last round(footholds x B) of the batch. */
function isFootholdSlot(o: ToyDataOptions, i: number): boolean {
  return i >= o.batchSize - Math.round((o.footholds ?? 0) * o.batchSize);
}

/** The question as asked: "describe" turns get a random description prompt and caption phrasing. */
function turnOf(scene: ToyScene, qa: ToyQa, rng: SeededRandom, reasoned: boolean): { question: string; answer: string } {
  if (qa.type !== 'describe') return { question: qa.question, answer: reasoned ? reasonedAnswer(scene, qa) : qa.answer };
  return { question: DESCRIBE_PROMPTS[rng.int(DESCRIBE_PROMPTS.length)], answer: caption(scene, rng.int(CAPTION_VARIANTS)) };
}

/** The conversation about `scene` (see the header), its choices keyed by (seed, scene id). */
export function conversationFor(scene: ToyScene, seed: number, singleTurn = 0.25, existsTurns: ExistsTurns = 1, reasoned = false): ChatMessage[] {
  const rng = seededRandom('stic-toy-pretrain-conversation', seed, scene.id);
  const all = questions(scene);
  let chosen: ToyQa[];
  if (rng.next() < singleTurn) {
    chosen = [all[rng.int(all.length)]];
  } else {
    chosen = existsTurns === 2 ? [...all] : oneExistence(all, rng);
    for (let i = chosen.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [chosen[i], chosen[j]] = [chosen[j], chosen[i]];
    }
  }
  return chosen.flatMap((qa, k) => {
    const t = turnOf(scene, qa, rng, reasoned);
    return [
      { role: 'user' as const, content: k === 0 ? `<image>\n${t.question}` : t.question },
      { role: 'assistant' as const, content: t.answer },
    ];
  });
}

/** The questions with one of the two existence questions left out (which one: 50/50). */
function oneExistence(all: readonly ToyQa[], rng: SeededRandom): ToyQa[] {
  const drop = rng.next() < 0.5 ? '-exists-yes' : '-exists-no';
  return all.filter((q) => !q.id.endsWith(drop));
}

/** Ids and target mask of a conversation; throws (naming the scene) when it exceeds maxLength. */
export function tokenizeSample(enc: ChatEncoder, scene: ToyScene, messages: ChatMessage[], maxLength: number): ToySample {
  const { ids, mask } = conversationIds(enc, messages);
  if (ids.length > maxLength) {
    throw new Error(`scene ${scene.id}: expected a conversation of at most ${maxLength} tokens (the model's max_position_embeddings) but it has ${ids.length}`);
  }
  const targets = mask.reduce((n, v) => n + v, 0);
  return { scene, messages, ids: Int32Array.from(ids), mask, targets };
}

/** A scene as the RGB image the renderer draws (no PNG round trip: PNG is lossless, so the pixels are the same). */
export async function sceneRgb(scene: ToyScene, size: number): Promise<RgbImage> {
  const { data, info } = await sharp(Buffer.from(sceneToSvg(scene, size)), { density: 72 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== size || info.height !== size) {
    throw new Error(`scene ${scene.id}: expected a ${size}x${size} RGB render but sharp produced ${info.width}x${info.height}x${info.channels}`);
  }
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: size, height: size };
}

/** (N, 3, S, S) pixels of the scenes through the model's preprocessing. */
export async function scenePixels(scenes: readonly ToyScene[], pre: PreprocessConfig): Promise<Float32Array> {
  const images = await Promise.all(scenes.map((s) => sceneRgb(s, pre.crop)));
  return preprocessImages(images, pre);
}

/** Everything optimizer step `step` trains on. */
export async function toyBatch(o: ToyDataOptions, step: number, enc: ChatEncoder, pre: PreprocessConfig, maxLength: number): Promise<ToyBatch> {
  const scenes = stepScenes(o, step);
  const drill = isDrillStep(o, step);
  const messages = (scene: ToyScene, i: number) =>
    drill
      ? drillConversation(scene)
      : o.kindItems
        ? kindItemsConversation(scene, o.seed)
        : isFootholdSlot(o, i)
          ? footholdConversation(scene, o.seed)
          : conversationFor(scene, o.seed, o.singleTurn, o.existsTurns, o.reasoned);
  const samples = scenes.map((scene, i) => tokenizeSample(enc, scene, messages(scene, i), maxLength));
  const pixels = await scenePixels(scenes, pre);
  const items: PretrainItem[] = samples.map((s, i) => ({ images: [i], ids: s.ids, mask: s.mask }));
  return { pixels, count: scenes.length, items, samples, targets: samples.reduce((n, s) => n + s.targets, 0) };
}
