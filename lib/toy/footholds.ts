// Foothold questions of `stic toy pretrain --footholds F`: a share F of each conversation step's
// scenes are one-shape scenes asked one question of three, each a third of the time:
//   "What shape is this?"           -> the shape's kind (reading the image alone)
//   "Repeat: is there a <kind>?"    -> that kind (reading the question's noun alone)
//   "Is there a <kind>?"            -> "yes" / "no", the kind present half the time (the comparison)
// Why: a question whose answer depends only on the match of two things ("Is there a star?": the
// noun and the image) gives a gradient step no signal in either alone, and the toy model never
// learned one (models/toy-llava/README.md, "Where it fails"); the two first-order questions teach
// the answer position to read the noun and the shape, after which the comparison can be learned
// (scripts/toy_binding_pilot.ts existsmix: at chance for 3000 steps, then learned).
// Choices are keyed by (seed, scene id), so a step stays a pure function of (seed, step). (The
// pilot script keeps its own draws and phrasing, so that the card's pilot numbers reproduce.)
import type { ChatMessage } from '../model/chat_template.ts';
import { seededRandom } from '../util/seeded.ts';
import { SHAPE_KINDS, article } from './vocab.ts';
import type { ToyScene } from './world.ts';

/** The single-turn foothold conversation about one-shape scene `scene`. */
export function footholdConversation(scene: ToyScene, seed: number): ChatMessage[] {
  if (scene.shapes.length !== 1) throw new Error(`scene ${scene.id}: expected a one-shape foothold scene but it has ${scene.shapes.length} shapes`);
  const rng = seededRandom('stic-toy-foothold', seed, scene.id);
  const kind = scene.shapes[0].kind;
  const form = rng.int(3);
  const present = rng.next() < 0.5;
  const others = SHAPE_KINDS.filter((k) => k !== kind);
  const asked = present ? kind : others[rng.int(others.length)];
  const noun = `${article(asked)} ${asked}`;
  const [question, answer] =
    form === 0 ? ['What shape is this?', kind] : form === 1 ? [`Repeat: is there ${noun}?`, asked] : [`Is there ${noun}?`, present ? 'yes' : 'no'];
  return [
    { role: 'user', content: `<image>\n${question}` },
    { role: 'assistant', content: answer },
  ];
}
