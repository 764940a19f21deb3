// The toy world's description parser (lib/toy/parse.ts), whose mentions the toy evaluation scores
// (lib/eval/toy_score.ts, test/eval/toy_score.test.ts), on hand-written sentences, rule by rule.
import { expect } from 'chai';

import { parseMentions } from '../../lib/toy/parse.ts';

describe('toy eval: parsing descriptions', () => {
  it('attaches preceding colour and size, and the position phrase of the same clause', () => {
    expect(parseMentions('A large red circle is in the top left, and a star.')).to.deep.equal([
      { kind: 'circle', colour: 'red', size: 'large', position: 'top left', plural: false, negated: false },
      { kind: 'star', colour: null, size: null, position: null, plural: false, negated: false },
    ]);
  });

  it('reads plurals, synonyms, hyphens and one-word positions', () => {
    const m = parseMentions('Two big grey crosses sit in the upper-left corner; a hexagon at the centre; stars on the right');
    expect(m.map((x) => [x.kind, x.colour, x.size, x.position, x.plural])).to.deep.equal([
      ['cross', 'gray', 'large', 'top left', true],
      ['hexagon', null, null, 'center', false],
      ['star', null, null, 'middle right', true],
    ]);
  });

  it('marks negated mentions: no, not a, without, zero', () => {
    const m = parseMentions('There is no red circle, there is not a star, a square without a triangle, zero crosses, and one hexagon.');
    expect(m.map((x) => [x.kind, x.negated])).to.deep.equal([
      ['circle', true],
      ['star', true],
      ['square', false],
      ['triangle', true],
      ['cross', true],
      ['hexagon', false],
    ]);
  });

  it('ends a position search at the next kind word', () => {
    expect(parseMentions('a circle next to a square in the bottom middle').map((x) => x.position)).to.deep.equal([null, 'bottom middle']);
  });
});
