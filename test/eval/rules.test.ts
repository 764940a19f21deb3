// Every normalisation and extraction rule of lib/eval on hand-worked cases (the expected values are
// worked out by hand from the official scripts' rules, written next to each case).
import { expect } from 'chai';

import { relaxedCorrect } from '../../lib/eval/chartqa.ts';
import { parseReviewScores } from '../../lib/eval/llava_bench.ts';
import { type MathVistaProblem, normalizeExtraction, quickExtract } from '../../lib/eval/mathvista.ts';
import { levenshtein } from '../../lib/util/edit_distance.ts';
import { parseMmvetGrade } from '../../lib/eval/mmvet.ts';
import { extractOption } from '../../lib/eval/option_extract.ts';
import { popeAnswer, popeMetrics } from '../../lib/eval/pope.ts';
import { pyFloat, pyFloatStr, pyInt, pyRound } from '../../lib/eval/python_numbers.ts';
import { scienceQaChoice, scienceQaLetter } from '../../lib/eval/scienceqa.ts';
import { normalizeVqaAnswer, processPunctuation, vqaAccuracy } from '../../lib/eval/vqa_normalize.ts';

describe('eval rules: VQA answer normalisation (TextVQA / EvalAI)', () => {
  const cases: [string, string, string][] = [
    ['The Dog.', 'dog', 'lower-case, trailing period deleted, article dropped'],
    ['Two', '2', 'number word to digit'],
    ['none', '0', '"none" counts as zero'],
    ['dont', "don't", 'contraction gets its apostrophe'],
    ["it's red", "it 's red", '"\'s" split off'],
    ['3.5', '3.5', 'a period before a digit stays'],
    ['1,000', '1000', 'commas deleted first'],
    ['coca-cola', 'coca cola', 'a hyphen inside a word becomes a space'],
    ['yes - definitely', 'yes definitely', 'a hyphen next to a space is deleted'],
    ['hello!', 'hello', '"!" becomes a space, then whitespace collapses'],
    ['what?', 'what', '"?" deleted'],
    ['an apple\tand\na pear', 'apple and pear', 'tabs, newlines, articles'],
    ['(5)', '5', 'brackets not next to a space become spaces'],
    ['a b', 'b', '"a" is an article even alone'],
  ];
  for (const [input, expected, why] of cases) {
    it(`${JSON.stringify(input)} -> ${JSON.stringify(expected)} (${why})`, () => {
      expect(normalizeVqaAnswer(input)).to.equal(expected);
    });
  }

  it('deletes at most 32 periods (Python passes re.UNICODE = 32 as the count)', () => {
    const text = Array(40).fill('x.').join(' ');
    expect(processPunctuation(text)).to.equal([...Array(32).fill('x'), ...Array(8).fill('x.')].join(' '));
  });

  it('a digit-comma-digit group makes every punctuation mark vanish instead of spacing it', () => {
    // processPunctuation alone (the full normaliser deletes commas before this step)
    expect(processPunctuation('1,5 a-b')).to.equal('15 ab');
    expect(processPunctuation('1, a-b')).to.equal('1 a b');
  });

  it('VQA accuracy: leave-one-out over the 10 answers, min(matches / 3, 1), averaged', () => {
    const answers = [...Array(3).fill('red'), ...Array(7).fill('dark red')];
    // "red": 3 subsets miss one of the 3 reds (2/3 each), 7 subsets keep all 3 (1 each): (3 * 2/3 + 7) / 10
    expect(vqaAccuracy('Red.', answers)).to.be.closeTo(0.9, 1e-12);
    expect(vqaAccuracy('dark red', answers)).to.equal(1);
    // one matching answer: 9 subsets hold it (1/3 each), one does not: 9 / 30
    expect(vqaAccuracy('blue', ['blue', ...Array(9).fill('green')])).to.be.closeTo(0.3, 1e-12);
    expect(vqaAccuracy('purple', answers)).to.equal(0);
    expect(vqaAccuracy('two', Array(10).fill('2'))).to.equal(1);
  });
});

describe('eval rules: Python number conversions', () => {
  it('float(): whitespace, underscores between digits, inf/nan, no commas or percent', () => {
    expect(pyFloat(' 1_000 ')).to.equal(1000);
    expect(pyFloat('1__0')).to.equal(null);
    expect(pyFloat('_1')).to.equal(null);
    expect(pyFloat('.5')).to.equal(0.5);
    expect(pyFloat('5.')).to.equal(5);
    expect(pyFloat('-1e3')).to.equal(-1000);
    expect(pyFloat('Infinity')).to.equal(Infinity);
    expect(Number.isNaN(pyFloat('nan'))).to.equal(true);
    for (const bad of ['', '1,000', '12%', '0x10', '1 2', 'e5']) expect(pyFloat(bad), bad).to.equal(null);
  });

  it('int() of a string: digits only', () => {
    expect(pyInt(' 7 ')).to.equal(7);
    expect(pyInt('007')).to.equal(7);
    expect(pyInt('3.0')).to.equal(null);
    expect(pyInt('1e3')).to.equal(null);
  });

  it('str(float): ".0" on integers, exponent below 1e-4 and from 1e16', () => {
    expect(pyFloatStr(2)).to.equal('2.0');
    expect(pyFloatStr(-0)).to.equal('-0.0');
    expect(pyFloatStr(123.456)).to.equal('123.456');
    expect(pyFloatStr(0.0001)).to.equal('0.0001');
    expect(pyFloatStr(0.00001)).to.equal('1e-05');
    expect(pyFloatStr(1.5e-7)).to.equal('1.5e-07');
    expect(pyFloatStr(1e16)).to.equal('1e+16');
    expect(pyFloatStr(123456789012345.6)).to.equal('123456789012345.6');
  });

  it('round(): the exact binary value, exact ties to even', () => {
    expect(pyRound(2.675, 2)).to.equal(2.67); // 2.67499999... in binary
    expect(pyRound(0.125, 2)).to.equal(0.12); // exact tie, 2 is even
    expect(pyRound(0.375, 2)).to.equal(0.38); // exact tie, 8 is even
    expect(pyRound(2.5, 0)).to.equal(2);
    expect(pyRound(3.5, 0)).to.equal(4);
    expect(pyRound(-0.125, 2)).to.equal(-0.12);
    expect(pyRound(1.005, 2)).to.equal(1); // 1.00499999...
    expect(pyRound(2.25, 1)).to.equal(2.2);
    expect(pyRound(1.23456, 3)).to.equal(1.235);
  });
});

describe('eval rules: ChartQA relaxed accuracy', () => {
  const cases: [string, string, boolean, string][] = [
    ['100', '104', true, '4% off'],
    ['100', '105', true, 'exactly 5% off'],
    ['100', '106', false, '6% off'],
    ['12%', '0.12', true, '"%" divides by 100'],
    ['0.12', '12%', true, 'also on the answer side'],
    ['-20', '-19.5', true, 'relative to |label|'],
    ['0', '0.0', false, 'a zero label falls back to string equality'],
    ['0', '0', true, 'equal strings'],
    ['Yes', 'yes', true, 'case-insensitive string match'],
    ['5', 'five', false, 'words are not numbers'],
    ['1,000', '1000', false, 'Python float() refuses commas: string compare'],
    ['2019', ' 2019 ', true, 'float() strips spaces'],
  ];
  for (const [label, answer, right, why] of cases) {
    it(`label ${JSON.stringify(label)}, answer ${JSON.stringify(answer)}: ${right ? 'right' : 'wrong'} (${why})`, () => {
      expect(relaxedCorrect(label, answer)).to.equal(right);
    });
  }
});

describe('eval rules: POPE yes/no reading and metrics', () => {
  const cases: [string, 'yes' | 'no'][] = [
    ['No.', 'no'],
    ['Yes, there is a dog.', 'yes'],
    ['There is no dog in the image', 'no'],
    ['NO', 'yes'], // only "No", "no" and "not" count
    ['not sure', 'no'],
    ['Yes. But there is no cat.', 'yes'], // only the first sentence
    ['no,', 'no'], // commas deleted
    ["I don't know", 'yes'],
    ['', 'yes'],
  ];
  for (const [text, answer] of cases) it(`${JSON.stringify(text)} -> ${answer}`, () => expect(popeAnswer(text)).to.equal(answer));

  it('accuracy, precision, recall, F1 and yes ratio from the counts', () => {
    const m = popeMetrics({ tp: 3, fp: 1, tn: 2, fn: 2 });
    expect(m.accuracy).to.equal(62.5);
    expect(m.precision).to.equal(75);
    expect(m.recall).to.equal(60);
    expect(m.f1).to.be.closeTo((2 * 75 * 60) / 135, 1e-12);
    expect(m['yes ratio']).to.equal(50);
    expect(popeMetrics({ tp: 0, fp: 0, tn: 4, fn: 2 }).precision).to.equal(null); // never said yes
  });
});

describe('eval rules: ScienceQA answer reading (LLaVA)', () => {
  const cases: [string, string][] = [
    ['B', 'B'],
    ['B. red', 'B'],
    ['The answer is C.', 'C'],
    ['Because of X, The answer is D!', 'D'],
    ['The answer is C', 'FAILED'], // the pattern needs a character after the letter
    ['The answer is A. The answer is B.', 'FAILED'], // twice: ambiguous
    ['b', 'FAILED'],
    ['(B)', 'FAILED'],
    ['B.red', 'FAILED'],
  ];
  for (const [text, letter] of cases) it(`${JSON.stringify(text)} -> ${letter}`, () => expect(scienceQaLetter(text)).to.equal(letter));

  it('a letter beyond the problem\'s choices is wrong', () => {
    expect(scienceQaChoice('C', 3)).to.equal(2);
    expect(scienceQaChoice('D', 3)).to.equal(-1);
    expect(scienceQaChoice('FAILED', 3)).to.equal(-1);
  });
});

describe('eval rules: MMBench option extraction (VLMEvalKit)', () => {
  const options = { A: 'red', B: 'blue', C: 'green' };
  const cases: [string, string | null, string][] = [
    ['B', 'B', 'a bare letter'],
    ['The answer is (C).', 'C', 'brackets and periods are separators'],
    ['A red apple', 'A', 'the article "A" reads as option A (as in VLMEvalKit)'],
    ['I think it is blue', 'B', 'no letter: the one option text quoted'],
    ['red or blue', null, 'two option texts: nothing'],
    ['A or B', null, 'two letters, no text: nothing'],
    ['Cannot determine the answer', 'Z', 'a refusal'],
    ['Z', 'Z', 'the "none" letter'],
    ['D', null, 'a letter the question does not have'],
  ];
  for (const [text, letter, why] of cases) {
    it(`${JSON.stringify(text)} -> ${letter} (${why})`, () => expect(extractOption(text, options)).to.equal(letter));
  }
});

describe('eval rules: MathVista extraction and normalisation', () => {
  const base: MathVistaProblem = { id: '1', query: 'q', image: 'x', choices: null, questionType: 'free_form', answerType: 'integer', precision: null, answer: '3', task: '', skills: [] };
  const mc: MathVistaProblem = { ...base, questionType: 'multi_choice', answerType: 'text', choices: ['circle', 'square', 'triangle'], answer: 'square' };
  const float2: MathVistaProblem = { ...base, answerType: 'float', precision: 2, answer: '1.0' };

  it('quick extraction: empty, an exact choice, Python int()/float() of the whole response, else the judge', () => {
    expect(quickExtract('', base)).to.equal('');
    expect(quickExtract('12', base)).to.equal('12');
    expect(quickExtract('012', base)).to.equal('12');
    expect(quickExtract('12.0', base)).to.equal(null);
    expect(quickExtract('3', float2)).to.equal('3.0');
    expect(quickExtract('square', mc)).to.equal('square');
    expect(quickExtract('The answer is square', mc)).to.equal(null);
  });

  it('multiple choice: "(x)" letter, option letter, else the nearest choice by edit distance (first on ties)', () => {
    expect(normalizeExtraction('(B) square', mc)).to.equal('square');
    expect(normalizeExtraction('(b)', mc)).to.equal('square');
    expect(normalizeExtraction(' C ', mc)).to.equal('triangle');
    expect(normalizeExtraction('squares', mc)).to.equal('square');
    expect(normalizeExtraction('xxxxxx', mc)).to.equal('circle'); // 6 / 6 / 8: the first of the two nearest
  });

  it('numbers: int(float(x)) for integers, str(round(float(x), precision)) for floats, failures are null', () => {
    expect(normalizeExtraction('3.7', base)).to.equal('3');
    expect(normalizeExtraction('-3.7', base)).to.equal('-3');
    expect(normalizeExtraction('three', base)).to.equal(null);
    expect(normalizeExtraction('1.005', float2)).to.equal('1.0');
    expect(normalizeExtraction('0.125', float2)).to.equal('0.12');
    expect(normalizeExtraction('2', { ...float2, precision: 1 })).to.equal('2.0');
  });

  it('Levenshtein distance', () => {
    expect(levenshtein('kitten', 'sitting')).to.equal(3);
    expect(levenshtein('', 'abc')).to.equal(3);
    expect(levenshtein('é', 'e')).to.equal(1);
  });
});

describe('eval rules: judge replies', () => {
  it('MM-Vet: the reply up to its first space, a number in [0, 1]', () => {
    expect(parseMmvetGrade('0.7')).to.equal(0.7);
    expect(parseMmvetGrade('1.0 because')).to.equal(1);
    expect(parseMmvetGrade('0.8\n')).to.equal(0.8);
    expect(parseMmvetGrade('1.5')).to.equal(null);
    expect(parseMmvetGrade('Score: 1')).to.equal(null);
    expect(parseMmvetGrade('nan')).to.equal(null);
  });

  it('LLaVA-Bench: first line, commas as spaces, exactly two numbers, else (-1, -1)', () => {
    expect(parseReviewScores('8 9\nAssistant 1 was...')).to.deep.equal([8, 9]);
    expect(parseReviewScores('8,9')).to.deep.equal([8, 9]);
    expect(parseReviewScores('7.5 8')).to.deep.equal([7.5, 8]);
    expect(parseReviewScores('8, 9')).to.deep.equal([-1, -1]); // "8  9" splits into three parts
    expect(parseReviewScores('Scores: 8 9')).to.deep.equal([-1, -1]);
    expect(parseReviewScores('eight nine')).to.deep.equal([-1, -1]);
  });
});
