// Evaluation on hand-computed examples: VQA scoring with digit/word and yes/no variants, description
// precision/recall and hallucination with exact numbers, the comparison table, and the error
// messages (the description parser's rules one by one are in test/toy/parse.test.ts).
import { expect } from 'chai';

import { formatComparisonTable } from '../../lib/eval/toy_table.ts';
import { type ToyEvalReport, evaluateToy, isCorrectAnswer, scoreDescriptions, scoreVqa } from '../../lib/eval/toy_score.ts';
import { canonicalPositions, normaliseAnswer } from '../../lib/toy/parse.ts';
import type { ToyQa } from '../../lib/toy/text.ts';
import type { ToyScene } from '../../lib/toy/world.ts';

const A: ToyScene = {
  id: 'A',
  seed: 0,
  index: 0,
  background: 'white',
  shapes: [
    { kind: 'circle', colour: 'red', size: 'large', row: 0, col: 0, position: 'top left', cx: 0.16, cy: 0.16, radius: 0.13 },
    { kind: 'star', colour: 'blue', size: 'small', row: 1, col: 1, position: 'center', cx: 0.5, cy: 0.5, radius: 0.08 },
    { kind: 'square', colour: 'green', size: 'large', row: 2, col: 2, position: 'bottom right', cx: 0.84, cy: 0.84, radius: 0.13 },
  ],
};
const B: ToyScene = {
  id: 'B',
  seed: 0,
  index: 1,
  background: 'gray',
  shapes: [
    { kind: 'hexagon', colour: 'orange', size: 'small', row: 0, col: 2, position: 'top right', cx: 0.84, cy: 0.16, radius: 0.08 },
    { kind: 'cross', colour: 'black', size: 'large', row: 2, col: 0, position: 'bottom left', cx: 0.16, cy: 0.84, radius: 0.13 },
  ],
};

describe('toy eval: answers', () => {
  it('normalises digits, yes/no variants, synonyms and filler', () => {
    expect(normaliseAnswer('There are 3 shapes.')).to.equal('three');
    expect(normaliseAnswer('Yep!')).to.equal('yes');
    expect(normaliseAnswer('It is in the upper left corner of the image.')).to.equal('top left');
    expect(normaliseAnswer('The star is RED')).to.equal('star red');
    expect(normaliseAnswer('12')).to.equal('12');
    expect(canonicalPositions('top center')).to.equal('top middle');
    expect(canonicalPositions('middle')).to.equal('center');
    expect(canonicalPositions('bottom')).to.equal('bottom middle');
  });

  const q = (id: string, type: ToyQa['type'], answer: string): ToyQa => ({ id, sceneId: 'A', type, question: '?', answer });
  const cases: [ToyQa, string, boolean][] = [
    [q('c1', 'count', 'three'), '3', true],
    [q('c2', 'count', 'three'), 'There are 3 shapes.', true],
    [q('c3', 'count', 'three'), 'four', false],
    [q('c4', 'count_kind', 'zero'), '0', true],
    [q('e1', 'exists', 'yes'), 'Yes, there is a red star.', true],
    [q('e2', 'exists', 'yes'), 'No.', false],
    [q('e3', 'exists', 'no'), 'There is no star.', true],
    [q('e4', 'exists', 'no'), 'nope', true],
    [q('p1', 'position', 'top left'), 'In the upper-left corner.', true],
    [q('p2', 'position', 'top left'), 'left', false],
    [q('p3', 'position', 'center'), 'In the middle.', true],
    [q('k1', 'colour', 'red'), 'Red.', true],
    [q('k2', 'colour', 'red'), 'The star is red.', false],
    [q('s1', 'size', 'large'), 'big', true],
  ];
  // Reasoned answers (lib/toy/text.ts reasonedAnswer): scored on what follows the last ", so ".
  const reasoned: [ToyQa, string, boolean][] = [
    [q('r1', 'colour', 'blue'), 'a red circle: no, a blue star: yes, so blue', true],
    [q('r2', 'colour', 'blue'), 'a red circle: yes, a blue star: no, so red', false],
    [q('r3', 'exists', 'no'), 'a red circle: no, so no', true],
    [q('r4', 'position', 'top left'), 'a red star in the top left: yes, so top left', true],
    [q('r5', 'count_kind', 'two'), 'a star: yes, a star: yes, so two', true],
    [q('r6', 'exists', 'yes'), 'a red circle: yes, so', false],
  ];

  it('scores each answer form as documented', () => {
    for (const [question, response, ok] of cases) expect(isCorrectAnswer(question, response), `${question.id}: ${response}`).to.equal(ok);
  });

  it('scores a reasoned answer on its final answer', () => {
    for (const [question, response, ok] of reasoned) expect(isCorrectAnswer(question, response), `${question.id}: ${response}`).to.equal(ok);
  });

  it('computes accuracy overall and per type', () => {
    const questions = [...cases.map((c) => c[0]), q('d1', 'describe', 'a caption')];
    const r = scoreVqa(questions, cases.map(([question, response]) => ({ id: question.id, response })));
    expect(r.asked).to.equal(14);
    expect(r.correct).to.equal(10);
    expect(r.accuracy).to.equal(10 / 14);
    expect(r.byType).to.deep.equal({
      count: { asked: 3, correct: 2, accuracy: 2 / 3 },
      count_kind: { asked: 1, correct: 1, accuracy: 1 },
      colour: { asked: 2, correct: 1, accuracy: 0.5 },
      position: { asked: 3, correct: 2, accuracy: 2 / 3 },
      size: { asked: 1, correct: 1, accuracy: 1 },
      exists: { asked: 4, correct: 3, accuracy: 0.75 },
    });
  });

  it('reports missing, repeated and unknown responses with exact messages', () => {
    const questions = [q('c1', 'count', 'three'), q('e1', 'exists', 'yes')];
    expect(() => scoreVqa(questions, [{ id: 'c1', response: '3' }])).to.throw('Expected a response for question id "e1" (exists: "?") but found none');
    expect(() => scoreVqa(questions, [{ id: 'c1', response: '3' }, { id: 'c1', response: '4' }])).to.throw(
      'Expected one response per question but received two for question id "c1"',
    );
    expect(() => scoreVqa(questions, [{ id: 'x', response: '3' }])).to.throw('Expected responses to questions of this set but received one for unknown question id "x"');
    expect(() => isCorrectAnswer(q('d', 'describe', 'x'), 'x')).to.throw(
      'Expected a question with a short answer but received a "describe" question: score descriptions with scoreDescriptions',
    );
    expect(scoreVqa([], []).accuracy).to.equal(null);
  });
});

describe('toy eval: descriptions', () => {
  // A: mentions circle/red/top left, star/blue/center, triangle/yellow/bottom right (hallucinated).
  // B: hexagon/orange/top left (wrong position), a negated star, plural crosses without attributes.
  // C: about A, mentions nothing.
  const outputs = [
    { sceneId: 'A', text: 'There are three shapes: a red circle in the top left, a blue star in the center and a yellow triangle in the bottom right.' },
    { sceneId: 'B', text: 'An orange hexagon is in the top left. There is no star. Two crosses.' },
    { sceneId: 'A', text: 'I cannot tell.' },
  ];
  const r = scoreDescriptions([A, B], outputs);

  it('lists the sets of each description', () => {
    expect(r.details[0]).to.deep.equal({
      sceneId: 'A',
      mentioned: {
        shape: ['circle', 'star', 'triangle'],
        shape_colour: ['blue star', 'red circle', 'yellow triangle'],
        shape_position: ['circle @ top left', 'star @ center', 'triangle @ bottom right'],
      },
      truth: {
        shape: ['circle', 'square', 'star'],
        shape_colour: ['blue star', 'green square', 'red circle'],
        shape_position: ['circle @ top left', 'square @ bottom right', 'star @ center'],
      },
      hallucinated: ['triangle'],
    });
    expect(r.details[1].mentioned).to.deep.equal({ shape: ['cross', 'hexagon'], shape_colour: ['orange hexagon'], shape_position: ['hexagon @ top left'] });
    expect(r.details[1].hallucinated).to.deep.equal([]);
    expect(r.details[2].mentioned.shape).to.deep.equal([]);
  });

  it('pools precision and recall per level', () => {
    // shape: matched 2 + 2 + 0, mentioned 3 + 2 + 0, truth 3 + 2 + 3.
    expect(r.levels.shape).to.deep.equal({ matched: 4, mentioned: 5, truth: 8, precision: 0.8, recall: 0.5, f1: (2 * 0.8 * 0.5) / 1.3 });
    // shape_colour: matched 2 + 1, mentioned 3 + 1, truth 3 + 2 + 3.
    expect(r.levels.shape_colour).to.deep.equal({ matched: 3, mentioned: 4, truth: 8, precision: 0.75, recall: 0.375, f1: (2 * 0.75 * 0.375) / 1.125 });
    // shape_position: matched 2 + 0, mentioned 3 + 1.
    expect(r.levels.shape_position).to.deep.equal({ matched: 2, mentioned: 4, truth: 8, precision: 0.5, recall: 0.25, f1: (2 * 0.5 * 0.25) / 0.75 });
  });

  it('computes hallucination pooled, per description and as a share of descriptions', () => {
    expect(r.count).to.equal(3);
    expect(r.hallucination.rate).to.equal(1 / 5);
    expect(r.hallucination.descriptions).to.equal(1 / 3);
    // Only the two descriptions that mention a kind: (1/3 + 0/2) / 2.
    expect(r.hallucination.perDescription).to.equal(1 / 6);
  });

  it('gives null ratios when nothing is mentioned or described', () => {
    const none = scoreDescriptions([A], [{ sceneId: 'A', text: 'Nothing here.' }]);
    expect(none.levels.shape.precision).to.equal(null);
    expect(none.levels.shape.recall).to.equal(0);
    expect(none.levels.shape.f1).to.equal(null);
    expect(none.hallucination).to.deep.equal({ rate: null, descriptions: 0, perDescription: null });
    expect(scoreDescriptions([A], []).hallucination.descriptions).to.equal(null);
  });

  it('refuses a description of an unknown scene with the exact message', () => {
    expect(() => scoreDescriptions([A], [{ sceneId: 'A', text: '' }, { sceneId: 'Z', text: '' }])).to.throw(
      'Expected descriptions of the given scenes but description 1 is of unknown scene id "Z"',
    );
  });
});

describe('toy eval: comparison table', () => {
  const questions: ToyQa[] = [
    { id: 'q1', sceneId: 'A', type: 'count', question: 'How many shapes are there?', answer: 'three' },
    { id: 'q2', sceneId: 'A', type: 'exists', question: 'Is there a star?', answer: 'yes' },
  ];
  const before: ToyEvalReport = evaluateToy([A], questions, [{ id: 'q1', response: 'two' }, { id: 'q2', response: 'yes' }], [
    { sceneId: 'A', text: 'a red circle and a yellow triangle' },
  ]);
  const after: ToyEvalReport = evaluateToy([A], questions, [{ id: 'q1', response: '3' }, { id: 'q2', response: 'yes' }], [
    { sceneId: 'A', text: 'a red circle in the top left and a blue star' },
  ]);

  it('formats every metric with the change against the first column', () => {
    expect(formatComparisonTable([{ name: 'base', report: before }, { name: 'STIC', report: after }])).to.equal(
      [
        'metric                                                   base             STIC',
        '-----------------------------------------------------  ------  ---------------',
        'questions scored                                            2                2',
        'VQA accuracy                                            50.0%   100.0% (+50.0)',
        'VQA count                                                0.0%  100.0% (+100.0)',
        'VQA exists                                             100.0%    100.0% (+0.0)',
        'descriptions scored                                         1                1',
        'hallucination rate (CHAIR_i, lower is better)           50.0%     0.0% (-50.0)',
        'descriptions hallucinating (CHAIR_s, lower is better)  100.0%    0.0% (-100.0)',
        'precision shape                                         50.0%   100.0% (+50.0)',
        'recall shape                                            33.3%    66.7% (+33.3)',
        'precision shape+colour                                  50.0%   100.0% (+50.0)',
        'recall shape+colour                                     33.3%    66.7% (+33.3)',
        'precision shape+position                                  n/a           100.0%',
        'recall shape+position                                    0.0%    33.3% (+33.3)',
      ].join('\n'),
    );
  });

  it('writes Markdown on request, and needs at least one column', () => {
    const md = formatComparisonTable([{ name: 'base', report: before }, { name: 'STIC', report: after }], { markdown: true }).split('\n');
    expect(md[0]).to.equal('| metric | base | STIC |');
    expect(md[1]).to.equal('|---|---:|---:|');
    expect(md[3]).to.equal('| VQA accuracy | 50.0% | 100.0% (+50.0) |');
    expect(() => formatComparisonTable([])).to.throw('Expected at least one evaluated model for the comparison table but received none');
  });
});
