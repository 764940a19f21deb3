// Kind-item questions of `stic toy pretrain --kind-items`: every scene (1-6 shapes) is asked "Is there
// a <kind>?" and answered with a verdict on each of its shapes, named by its kind alone, then the
// answer: "a circle: no, a star: yes, so yes". The kind asked is one of the scene's half the time,
// else one it lacks (one of its own when it has all six).
// Why: this is the existsitems form of scripts/toy_binding_pilot.ts, run 3 of the built-in model
// (models/toy-llava/README.md): with a kind alone to compare, the decoder learns the comparison of
// a named shape with what it sees, which `--reasoned` on the whole world then keeps and extends; a
// `--reasoned` run without it learned nothing. Choices are keyed by (seed, scene id), so a step
// stays a pure function of (seed, step). (The pilot script keeps its own draws: its numbers
// reproduce there, and this form is the same question and answer, not the same scenes.)
import type { ChatMessage } from '../model/chat_template.ts';
import { seededRandom } from '../util/seeded.ts';
import { REASONED_SEPARATOR } from './text.ts';
import { SHAPE_KINDS, article } from './vocab.ts';
import type { ToyScene } from './world.ts';

/** The single-turn kind-item conversation about `scene`. */
export function kindItemsConversation(scene: ToyScene, seed: number): ChatMessage[] {
  const rng = seededRandom('stic-toy-kind-items', seed, scene.id);
  const kinds = scene.shapes.map((s) => s.kind);
  const missing = SHAPE_KINDS.filter((k) => !kinds.includes(k));
  const present = rng.next() < 0.5 || missing.length === 0;
  const asked = present ? kinds[rng.int(kinds.length)] : missing[rng.int(missing.length)];
  const items = kinds.map((k) => `${article(k)} ${k}: ${k === asked ? 'yes' : 'no'}`);
  return [
    { role: 'user', content: `<image>\nIs there ${article(asked)} ${asked}?` },
    { role: 'assistant', content: `${items.join(', ')}${REASONED_SEPARATOR}${kinds.includes(asked) ? 'yes' : 'no'}` },
  ];
}
