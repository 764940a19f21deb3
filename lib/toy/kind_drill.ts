// The kind drill of `stic toy pretrain`: the first steps of a run teach the vision tower what shapes
// look like before it has to learn everything else.
//
// Why (measured, models/toy-llava/README.md): trained on the world's conversations from the start,
// the tiny CLIP tower learns colours in tens of steps but not the kind of even a single shape in
// thousands; what stops it is the colour of the shapes, not their outline. On one-shape scenes
// asked only "What shape is this?", the held-out kind loss stays at chance (ln 6 per kind token)
// for 1500 steps when shapes come in the world's 8 colours on its 3 backgrounds, while white
// shapes on black are learned within 200 steps. A linear patch embedding sees a shape's outline
// multiplied by its contrast with the background, so every colour pair shows the outline in
// another direction; with one contrast the outline features form first, and once they exist more
// contrasts extend them.
//
// So a drill step draws one-shape scenes (the world's kinds, sizes and positions) and asks each
// "What shape is this?" (answer: the kind word), with a palette that widens over the drill:
//   first DRILL_PHASES[0] of it: white shapes on black ('mono');
//   then DRILL_PHASES[1]: shapes in any colour on black ('black');
//   the rest: the world's own colours and backgrounds ('world').
// The question is not one of the world's (lib/toy/text.ts): evaluation never asks it.
import type { ChatMessage } from '../model/chat_template.ts';
import { type ToyScene, generateScene } from './world.ts';

export type DrillPalette = 'mono' | 'black' | 'world';

/** Fractions of the drill that end the 'mono' and the 'black' palettes. */
export const DRILL_PHASES = [0.2, 0.4] as const;

export const DRILL_QUESTION = 'What shape is this?';

/** The palette of drill step `step` of a `drillSteps`-step drill. */
export function drillPalette(step: number, drillSteps: number): DrillPalette {
  if (step < DRILL_PHASES[0] * drillSteps) return 'mono';
  if (step < DRILL_PHASES[1] * drillSteps) return 'black';
  return 'world';
}

/**
 * One-shape scene `index` of world `seed`, recoloured for `palette`. The shape keeps its kind,
 * size and place; a recoloured scene is still a valid scene of the world (its shape's colour
 * differs from the background), with its own id so nothing confuses it with the world's scene.
 */
export function drillScene(seed: number, index: number, palette: DrillPalette): ToyScene {
  const scene = generateScene(seed, index, { maxShapes: 1 });
  if (palette === 'world') return scene;
  const [shape] = scene.shapes;
  const colour = palette === 'mono' || shape.colour === 'black' ? 'white' : shape.colour;
  return { ...scene, id: `${scene.id}-${palette}`, background: 'black', shapes: [{ ...shape, colour }] };
}

/** The drill conversation about a one-shape scene. */
export function drillConversation(scene: ToyScene): ChatMessage[] {
  return [
    { role: 'user', content: `<image>\n${DRILL_QUESTION}` },
    { role: 'assistant', content: scene.shapes[0].kind },
  ];
}
