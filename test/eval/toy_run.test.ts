// The one toy evaluation runner (lib/eval/toy_run.ts runToyEval), against a fake model that answers
// every question with its expected answer and describes each scene with its caption: the batches it
// asks (sizes, order, token budgets by question type), how the texts come back as answers and
// descriptions, a perfect score for perfect answers, and its refusals.
import { expect } from 'chai';

import { userTurn } from '../../lib/data/records/preference.ts';
import { evaluateToy } from '../../lib/eval/toy_score.ts';
import { TOY_EVAL_DEFAULTS, type ToyAsk, evaluateToyEngine, runToyEval, toyEvalSet } from '../../lib/eval/toy_run.ts';
import type { ChatGenerateRequest, InferenceEngine, RgbImage } from '../../lib/engine/inference_api.ts';
import { caption } from '../../lib/toy/text.ts';

const set = toyEvalSet(9001, 5);
const sceneOf = new Map(set.scenes.map((s) => [s.id, s]));
const perfect = (a: ToyAsk) => (a.qa.type === 'describe' ? caption(sceneOf.get(a.qa.sceneId)!) : a.qa.answer);

describe('toy eval runner: every held-out question through one batch function', () => {
  it('asks every question once, in order, batchSize at a time, with the budget of its type', async () => {
    const batches: ToyAsk[][] = [];
    await runToyEval(set, { answerTokens: 5, describeTokens: 70, batchSize: 7 }, async (batch) => {
      batches.push(batch);
      return batch.map(perfect);
    });
    const n = set.questions.length;
    expect(batches.map((b) => b.length)).to.deep.equal(Array.from({ length: Math.ceil(n / 7) }, (_, i) => Math.min(7, n - 7 * i)));
    const asked = batches.flat();
    expect(asked.map((a) => a.qa)).to.deep.equal(set.questions);
    expect(asked.map((a) => a.maxNewTokens)).to.deep.equal(set.questions.map((q) => (q.type === 'describe' ? 70 : 5)));
  });

  it('returns the short answers and the descriptions in question order, scored by lib/eval/toy_score.ts', async () => {
    const out = await runToyEval(set, TOY_EVAL_DEFAULTS, async (batch) => batch.map(perfect));
    const short = set.questions.filter((q) => q.type !== 'describe');
    expect(out.answers).to.deep.equal(short.map((q) => ({ id: q.id, response: q.answer })));
    expect(out.descriptions).to.deep.equal(set.scenes.map((s) => ({ sceneId: s.id, text: caption(s) })));
    expect(out.report).to.deep.equal(evaluateToy(set.scenes, set.questions, out.answers, out.descriptions));
    expect(out.report.vqa.correct).to.equal(short.length);
    expect(out.report.descriptions.levels.shape.precision).to.equal(1);
  });

  it('refuses a batch function that loses responses, and settings below 1', async () => {
    let err = await runToyEval(set, { ...TOY_EVAL_DEFAULTS, batchSize: 4 }, async (batch) => batch.slice(1).map(perfect)).catch((e: Error) => e);
    expect((err as Error).message).to.equal('Expected 4 responses to a batch of toy questions but received 3');
    err = await runToyEval(set, { ...TOY_EVAL_DEFAULTS, batchSize: 0 }, async (batch) => batch.map(perfect)).catch((e: Error) => e);
    expect((err as Error).message).to.equal('Expected an integer >= 1 for toy evaluation batchSize but received 0');
  });
});

describe('toy eval runner through an inference engine (evaluateToyEngine)', () => {
  const imageOf = (i: number): RgbImage => ({ width: 1, height: 1, data: new Uint8Array([i, i, i]) });
  const images = new Map(set.scenes.map((s, i) => [s.id, imageOf(i)]));
  const byId = new Map(set.questions.map((q) => [q.id, q]));

  /** An engine that answers like `perfect`, with spaces around the text, and records its calls. */
  function perfectEngine(calls: ChatGenerateRequest[][]): InferenceEngine {
    return {
      modelId: 'fake',
      async generate(requests) {
        calls.push(requests);
        return requests.map((r) => {
          const qa = byId.get(r.id)!;
          return { text: ` ${perfect({ qa, maxNewTokens: r.sampling.maxNewTokens })} `, finish: 'eos' as const, newTokens: 1 };
        });
      },
    };
  }

  it("asks each question greedily with its scene's image and the budget of its type, and scores the trimmed answers", async () => {
    const calls: ChatGenerateRequest[][] = [];
    const answered: number[] = [];
    const s = { answerTokens: 5, describeTokens: 70, batchSize: 7 };
    const out = await evaluateToyEngine(perfectEngine(calls), set, images, s, (n) => answered.push(n));
    expect(calls.map((c) => c.length)).to.deep.equal(answered);
    const asked = calls.flat();
    expect(asked.map((r) => r.id)).to.deep.equal(set.questions.map((q) => q.id));
    expect(asked.map((r) => r.image)).to.deep.equal(set.questions.map((q) => images.get(q.sceneId)));
    expect(asked.map((r) => r.messages)).to.deep.equal(set.questions.map((q) => [userTurn(q.question)]));
    expect(asked.map((r) => r.sampling)).to.deep.equal(set.questions.map((q) => ({ temperature: 0, topP: 1, topK: 0, maxNewTokens: q.type === 'describe' ? 70 : 5 })));
    const direct = await runToyEval(set, s, async (batch) => batch.map(perfect));
    expect(out).to.deep.equal(direct);
  });

  it('refuses a set with a scene that has no image, naming the question and the scene', async () => {
    const some = new Map([...images].slice(1));
    const first = set.questions.find((q) => q.sceneId === set.scenes[0].id)!;
    const err = await evaluateToyEngine(perfectEngine([]), set, some, TOY_EVAL_DEFAULTS).catch((e: Error) => e);
    expect((err as Error).message).to.equal(
      `Expected an image for every scene of the toy evaluation but question "${first.id}" is about scene "${set.scenes[0].id}", which has none`,
    );
  });
});
