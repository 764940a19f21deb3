// Captions and questions against the truth, as properties over 200 random scenes: each caption
// names exactly the scene's shapes (read back with the parser), each answer is what the truth
// says (re-derived here from the question's own words), existence answers are balanced, and every
// word is in the closed vocabulary.
import { expect } from 'chai';

import { parseMentions, words } from '../../lib/toy/parse.ts';
import { CAPTION_VARIANTS, DESCRIBE_PROMPTS, NAMING_TYPES, type ToyQa, caption, captions, finalAnswer, questions, reasonedAnswer } from '../../lib/toy/text.ts';
import { BACKGROUND_NAMES, COLOUR_NAMES, KIND_PLURALS, NUMBER_WORDS, POSITIONS, SHAPE_KINDS, SIZES, numberWord } from '../../lib/toy/vocab.ts';
import { type ToyScene, generateScene, generateScenes } from '../../lib/toy/world.ts';

const SCENES = generateScenes(31, 200);

const kindOf = (word: string): string => SHAPE_KINDS.find((k) => k === word || KIND_PLURALS[k] === word) ?? `not a kind: ${word}`;

function only<T>(xs: T[], what: string): T {
  expect(xs, what).to.have.length(1);
  return xs[0];
}

/** The shape a question names as "<colour> <kind>". */
function named(scene: ToyScene, colour: string, kind: string) {
  return only(scene.shapes.filter((s) => s.colour === colour && s.kind === kind), `${scene.id}: one ${colour} ${kind}`);
}

/** The answer the truth gives to `q`, derived from the question's words alone. */
function truthAnswer(scene: ToyScene, q: ToyQa): string {
  let m: RegExpMatchArray | null;
  if (q.question === 'How many shapes are there?') return numberWord(scene.shapes.length);
  if ((m = q.question.match(/^How many (\w+) are there\?$/))) return numberWord(scene.shapes.filter((s) => s.kind === kindOf(m![1])).length);
  if ((m = q.question.match(/^What colour is the (\w+)\?$/))) return only(scene.shapes.filter((s) => s.kind === m![1]), `${scene.id}: one ${m[1]}`).colour;
  if ((m = q.question.match(/^Where is the (\w+) (\w+)\?$/))) return named(scene, m[1], m[2]).position;
  if ((m = q.question.match(/^Is the (\w+) (\w+) small or large\?$/))) return named(scene, m[1], m[2]).size;
  if ((m = q.question.match(/^Is there an? (?:(\w+) )?(\w+)\?$/))) {
    const [colour, kind] = [m[1], m[2]];
    return scene.shapes.some((s) => s.kind === kind && (colour === undefined || s.colour === colour)) ? 'yes' : 'no';
  }
  if ((DESCRIBE_PROMPTS as readonly string[]).includes(q.question)) return caption(scene, 0);
  throw new Error(`unexpected question ${JSON.stringify(q.question)}`);
}

describe('toy texts: captions', () => {
  it('name every shape once with its size, colour, kind and position, in reading order (all phrasings)', () => {
    for (const scene of SCENES) {
      for (let v = 0; v < CAPTION_VARIANTS; v++) {
        const text = caption(scene, v);
        const got = parseMentions(text).map((m) => ({ kind: m.kind, colour: m.colour, size: m.size, position: m.position, negated: m.negated }));
        const want = scene.shapes.map((s) => ({ kind: s.kind, colour: s.colour, size: s.size, position: s.position, negated: false }));
        expect(got, `${scene.id} variant ${v}: ${text}`).to.deep.equal(want);
        expect(words(text), text).to.include(scene.background);
      }
    }
  });

  it('state the shape count where they give one', () => {
    for (const scene of SCENES) {
      const n = scene.shapes.length;
      expect(caption(scene, 0).startsWith(`There ${n === 1 ? 'is' : 'are'} ${numberWord(n)} ${n === 1 ? 'shape' : 'shapes'} on a ${scene.background} background: `)).to.equal(true);
      expect(caption(scene, 1).startsWith(`A ${scene.background} background with ${numberWord(n)} `)).to.equal(true);
    }
  });

  it('read as expected on a fixed scene', () => {
    const scene: ToyScene = {
      id: 'toy-0-0',
      seed: 0,
      index: 0,
      background: 'gray',
      shapes: [
        { kind: 'circle', colour: 'red', size: 'large', row: 0, col: 0, position: 'top left', cx: 0.16, cy: 0.17, radius: 0.13 },
        { kind: 'star', colour: 'orange', size: 'small', row: 1, col: 1, position: 'center', cx: 0.5, cy: 0.5, radius: 0.08 },
        { kind: 'square', colour: 'green', size: 'large', row: 2, col: 2, position: 'bottom right', cx: 0.83, cy: 0.84, radius: 0.13 },
      ],
    };
    expect(captions(scene)).to.deep.equal([
      'There are three shapes on a gray background: a large red circle in the top left, a small orange star in the center and a large green square in the bottom right.',
      'A gray background with three shapes. A large red circle is in the top left. A small orange star is in the center. A large green square is in the bottom right.',
      'The image shows a large red circle in the top left, a small orange star in the center and a large green square in the bottom right. The background is gray.',
    ]);
    const one = { ...scene, shapes: [scene.shapes[1]] };
    expect(caption(one, 0)).to.equal('There is one shape on a gray background: a small orange star in the center.');
    expect(() => caption(scene, 3)).to.throw(RangeError, 'Expected a caption variant in [0, 2] but received 3');
    expect(() => numberWord(11)).to.throw(RangeError, 'Expected an integer in [0, 10] for a number word but received 11');
  });
});

describe('toy texts: questions', () => {
  it('answer every question as the truth does (200 scenes)', () => {
    for (const scene of SCENES) {
      for (const q of questions(scene)) expect(q.answer, `${q.id}: ${q.question}`).to.equal(truthAnswer(scene, q));
    }
  });

  it('ask every type, one yes and one no existence question per scene, with unique ids', () => {
    const ids = new Set<string>();
    for (const scene of SCENES) {
      const qs = questions(scene);
      for (const q of qs) {
        expect(ids.has(q.id)).to.equal(false);
        ids.add(q.id);
        expect(q.sceneId).to.equal(scene.id);
      }
      const types = qs.map((q) => q.type);
      for (const t of ['count', 'count_kind', 'position', 'size', 'describe'] as const) expect(types.filter((x) => x === t)).to.have.length(1);
      const hasUniqueKind = scene.shapes.some((s) => scene.shapes.filter((t) => t.kind === s.kind).length === 1);
      expect(types.filter((x) => x === 'colour')).to.have.length(hasUniqueKind ? 1 : 0);
      expect(qs.filter((q) => q.type === 'exists').map((q) => q.answer)).to.deep.equal(['yes', 'no']);
    }
  });

  it('mix question forms: kind-only and coloured existence, absent and zero counts, every describe prompt', () => {
    const all = SCENES.flatMap(questions);
    const negatives = all.filter((q) => q.type === 'exists' && q.answer === 'no').map((q) => q.question.split(' ').length);
    // "Is there a star?" has 4 words, "Is there a red star?" 5: both kinds of negative occur often.
    expect(negatives.filter((n) => n === 4).length).to.be.greaterThan(40);
    expect(negatives.filter((n) => n === 5).length).to.be.greaterThan(40);
    const zero = all.filter((q) => q.type === 'count_kind' && q.answer === 'zero').length;
    expect(zero).to.be.within(40, 180);
    const prompts = new Set(all.filter((q) => q.type === 'describe').map((q) => q.question));
    expect([...prompts].sort()).to.deep.equal([...DESCRIBE_PROMPTS].sort());
  });

  it('are a pure function of the scene', () => {
    expect(questions(generateScene(31, 17))).to.deep.equal(questions(SCENES[17]));
  });
});

describe('toy texts: closed vocabulary', () => {
  it('use only the world words and a few fixed function words', () => {
    const vocab = new Set<string>([
      ...NUMBER_WORDS,
      ...SHAPE_KINDS,
      ...Object.values(KIND_PLURALS),
      ...COLOUR_NAMES,
      ...BACKGROUND_NAMES,
      ...SIZES,
      ...POSITIONS.flatMap((p) => p.split(' ')),
      ...DESCRIBE_PROMPTS.flatMap((p) => words(p)),
      ...'there is are a an on the in with background shows image shape how many what colour where small or large yes no'.split(' '),
      ...'.,:?'.split(''),
    ]);
    const outside = new Set<string>();
    for (const scene of SCENES) {
      const texts = [...captions(scene), ...questions(scene).flatMap((q) => [q.question, q.answer])];
      for (const w of texts.flatMap(words)) if (!vocab.has(w)) outside.add(w);
    }
    expect([...outside]).to.deep.equal([]);
    expect(vocab.size).to.be.lessThan(90);
  });
});

describe('toy texts: reasoned answers', () => {
  it('give every shape in reading order a verdict that is true of it, then the canonical answer (200 scenes)', () => {
    for (const scene of SCENES) {
      for (const q of questions(scene).filter((x) => NAMING_TYPES.includes(x.type))) {
        const a = reasonedAnswer(scene, q);
        expect(finalAnswer(a), `${q.id}: ${a}`).to.equal(q.answer);
        const items = a.slice(0, a.lastIndexOf(', so ')).split(', ');
        expect(items, `${q.id}: ${a}`).to.have.length(scene.shapes.length);
        // Re-derived from the question's own words: the shapes it names, and each item's phrase.
        const m = q.question.match(/(?:the|a|an|many) (?:(\w+) )?(\w+)(?: are there| small or large)?\?$/) as RegExpMatchArray;
        const colour = (COLOUR_NAMES as readonly string[]).includes(m[1]) ? m[1] : undefined;
        scene.shapes.forEach((s, i) => {
          const yes = s.kind === kindOf(m[2]) && (colour === undefined || s.colour === colour);
          const phrase = q.type === 'size' ? `${s.size} ${s.colour} ${s.kind}` : q.type === 'position' ? `${s.colour} ${s.kind} in the ${s.position}` : `${s.colour} ${s.kind}`;
          expect(items[i], `${q.id} shape ${i}`).to.match(new RegExp(`^an? ${phrase}: ${yes ? 'yes' : 'no'}$`));
        });
        const yeses = items.filter((x) => x.endsWith(': yes')).length;
        if (q.type === 'exists') expect(yeses > 0, q.id).to.equal(q.answer === 'yes');
        if (q.type === 'colour' || q.type === 'position' || q.type === 'size') expect(yeses, q.id).to.equal(1);
        if (q.type === 'count_kind') expect(numberWord(yeses), q.id).to.equal(q.answer);
      }
    }
  });

  it('leave the questions that name no shape as they are, and read a short answer whole', () => {
    const scene = SCENES[0];
    for (const q of questions(scene).filter((x) => !NAMING_TYPES.includes(x.type))) expect(reasonedAnswer(scene, q)).to.equal(q.answer);
    expect(finalAnswer('blue')).to.equal('blue');
    expect(finalAnswer('a star: yes, so one, so two')).to.equal('two');
  });

  it('refuse a naming question without a shape kind, naming it', () => {
    const bad: ToyQa = { id: 'x-colour', sceneId: SCENES[0].id, type: 'colour', question: 'What colour is it?', answer: 'red' };
    expect(() => reasonedAnswer(SCENES[0], bad)).to.throw('question x-colour: expected a shape kind in "What colour is it?" but found none');
  });
});
