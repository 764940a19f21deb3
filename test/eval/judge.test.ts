// The judge client against a local OpenAI-compatible server on 127.0.0.1 (retries, rate limit,
// cache, errors), and the three judge-scored benchmarks on tiny files in their official formats.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { expect } from 'chai';

import { JudgeClient, type JudgeOptions } from '../../lib/eval/judge.ts';
import { llavaBenchBenchmark } from '../../lib/eval/llava_bench.ts';
import { mathVistaBenchmark } from '../../lib/eval/mathvista.ts';
import { mmvetBenchmark } from '../../lib/eval/mmvet.ts';
import { type JudgeServer, jsonl, rejection, startJudgeServer, userText, writeImage, writeText } from './helpers.ts';

describe('eval judge: OpenAI-compatible client and judge-scored benchmarks', () => {
  let dir: string;
  let server: JudgeServer | null = null;
  const open = (o: Partial<JudgeOptions> = {}) => JudgeClient.open({ url: (server as JudgeServer).url, model: 'judge-1', cacheFile: path.join(dir, 'cache.jsonl'), retryBaseMs: 5, requestsPerMinute: 0, ...o });

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-eval-judge-'));
  });
  afterEach(async () => {
    await server?.close();
    server = null;
    rmSync(dir, { recursive: true, force: true });
    delete process.env.STIC_TEST_JUDGE_KEY;
  });

  it('retries 5xx and 429, sends the key, and caches the judgment across clients', async () => {
    server = await startJudgeServer((_, n) => (n === 1 ? { status: 500, body: 'boom' } : n === 2 ? { status: 429, body: 'slow down', headers: { 'retry-after': '0' } } : { status: 200, content: 'ok!' }));
    process.env.STIC_TEST_JUDGE_KEY = 'sk-test';
    const logs: string[] = [];
    const judge = await open({ apiKeyEnv: 'STIC_TEST_JUDGE_KEY', log: (t) => logs.push(t) });
    const req = { system: 'be fair', user: 'grade this', temperature: 0, maxTokens: 3 };
    expect(await judge.complete(req)).to.equal('ok!');
    expect(server.requests).to.have.length(3);
    expect(server.requests[2].auth).to.equal('Bearer sk-test');
    expect(server.requests[2].body).to.deep.equal({ model: 'judge-1', messages: [{ role: 'system', content: 'be fair' }, { role: 'user', content: 'grade this' }], temperature: 0, max_tokens: 3 });
    expect(logs[0]).to.match(/^judge: HTTP 500: boom; retrying in 0\.0 s \(1\/5\)/);
    expect(await judge.complete(req)).to.equal('ok!');
    expect(server.requests).to.have.length(3);
    await judge.close();
    const again = await open({ apiKeyEnv: 'STIC_TEST_JUDGE_KEY' });
    expect(await again.complete(req)).to.equal('ok!');
    expect(await again.complete({ ...req, temperature: 0.5 })).to.equal('ok!');
    expect([again.cacheHits, again.requests]).to.deep.equal([1, 1]);
    await again.close();
  });

  it('stops at once on other HTTP errors, gives up after the retries, refuses an unset key variable', async () => {
    server = await startJudgeServer((body) => (userText(body) === 'bad' ? { status: 400, body: '{"error": "no such model"}' } : { status: 503, body: 'down' }));
    const judge = await open({ maxRetries: 2 });
    const e1 = await rejection(judge.complete({ user: 'bad', temperature: 0, maxTokens: 3 }));
    expect(e1.message).to.equal(`judge ${server.url}/chat/completions: HTTP 400 (not retried): {"error": "no such model"}`);
    const e2 = await rejection(judge.complete({ user: 'x', temperature: 0, maxTokens: 3 }));
    expect(e2.message).to.equal(`judge ${server.url}/chat/completions: gave up after 3 attempts; last: HTTP 503: down`);
    expect(server.requests).to.have.length(4);
    await judge.close();
    const e3 = await rejection(open({ apiKeyEnv: 'STIC_TEST_JUDGE_KEY' }));
    expect(e3.message).to.equal(`judge: the environment variable STIC_TEST_JUDGE_KEY (named by --judge-key-env) is not set; set it to the API key of ${server.url}`);
  });

  it('spaces requests by the rate limit', async () => {
    server = await startJudgeServer(() => ({ status: 200, content: 'x' }));
    const judge = await open({ requestsPerMinute: 600 }); // one per 100 ms
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) await judge.complete({ user: `q${i}`, temperature: 0, maxTokens: 3 });
    expect(Date.now() - t0).to.be.at.least(195);
    await judge.close();
  });

  it('MM-Vet: grades per question, re-asks an unreadable grade with a higher temperature, capability scores', async () => {
    writeText(path.join(dir, 'mm-vet.json'), JSON.stringify({
      v1_0: { imagename: 'v1_0.png', capability: ['rec', 'ocr'], question: 'What is written?', answer: 'stop<OR>halt' },
      v1_1: { imagename: 'v1_1.png', capability: ['rec'], question: 'What animal?', answer: 'dog<AND>cat' },
    }));
    await writeImage(path.join(dir, 'images/v1_0.png'), 11);
    await writeImage(path.join(dir, 'images/v1_1.png'), 12);
    server = await startJudgeServer((body) => {
      const u = userText(body);
      if (u.includes('What is written?')) return { status: 200, content: '1.0' };
      return { status: 200, content: body.temperature === 0 ? 'Great answer' : '0.5 partly' };
    });
    const b = await mmvetBenchmark(path.join(dir, 'mm-vet.json'), undefined);
    expect(b.items.map((it) => it.question)).to.deep.equal(['What is written?', 'What animal?']);
    const judge = await open();
    const r = await b.score(new Map([['v1_0', 'It says STOP'], ['v1_1', 'a dog']]), { judge });
    expect(server.requests.map((q) => q.body.temperature)).to.deep.equal([0, 0, 0.5]);
    expect(userText(server.requests[0].body).endsWith('What is written? | stop <OR> halt | It says STOP |')).to.equal(true);
    expect(r.headline.value).to.equal(75);
    expect(r.tables[0].rows).to.deep.equal([{ label: 'ocr', n: 1, values: [100] }, { label: 'rec', n: 2, values: [75] }]);
    await judge.close();
  });

  it('LLaVA-Bench: reviews with context and reference, relative score per category', async () => {
    writeText(path.join(dir, 'questions.jsonl'), jsonl([
      { question_id: 0, image: '001.jpg', text: 'What is unusual?', category: 'complex' },
      { question_id: 1, image: '001.jpg', text: 'Describe it.', category: 'detail' },
      { question_id: 2, image: '001.jpg', text: 'What colour?', category: 'conv' },
    ]));
    writeText(path.join(dir, 'context.jsonl'), jsonl([{ id: '001', image: '001.jpg', caption: 'A man irons clothes on a taxi.' }]));
    writeText(path.join(dir, 'answers_gpt4.jsonl'), jsonl([0, 1, 2].map((i) => ({ question_id: i, text: `reference ${i}` }))));
    await writeImage(path.join(dir, 'images/001.jpg'), 13, 'jpeg');
    server = await startJudgeServer((body) => {
      const u = userText(body);
      return { status: 200, content: u.includes('What colour?') ? 'I think 8 and 4' : u.includes('Describe it.') ? '8 4\nwhy' : '10 9\nbecause' };
    });
    const b = await llavaBenchBenchmark(dir, undefined);
    const judge = await open();
    const r = await b.score(new Map([['0', 'He irons on a car.'], ['1', 'A taxi.'], ['2', 'Yellow.']]), { judge });
    const u0 = userText(server.requests[0].body);
    expect(u0.startsWith('[Context]\nA man irons clothes on a taxi.\n\n[Question]\nWhat is unusual?\n\n[Assistant 1]\nreference 0\n\n[End of Assistant 1]\n\n[Assistant 2]\nHe irons on a car.')).to.equal(true);
    expect(server.requests[0].body.temperature).to.equal(0.2);
    // conv: unreadable -> (-1, -1); detail 8/4 -> 50%; complex 10/9 -> 90%; all: ref (10+8-1)/3 = 5.667, model (9+4-1)/3 = 4
    const rows = Object.fromEntries(r.tables[0].rows.map((row) => [row.label, row.values]));
    expect(rows.detail).to.deep.equal([50, 8, 4]);
    expect(rows.complex[0]).to.be.closeTo(90, 1e-9);
    expect(rows.conv).to.deep.equal([100, -1, -1]);
    expect(rows.all[1]).to.equal(5.667);
    expect(r.headline.value).to.be.closeTo((100 * 4) / 5.667, 1e-9);
    expect(r.metrics['unreadable reviews']).to.equal(1);
    await judge.close();
  });

  it('MM-Vet and LLaVA-Bench: a bad file names the file, the question or line, and what was expected', async () => {
    await writeImage(path.join(dir, 'images/v1_0.png'), 14);
    writeText(path.join(dir, 'mm-vet.json'), JSON.stringify({ v1_0: { imagename: 'v1_0.png', capability: [], question: 'Q?', answer: 'a' } }));
    expect((await rejection(mmvetBenchmark(path.join(dir, 'mm-vet.json'), undefined))).message).to.equal(
      `${path.join(dir, 'mm-vet.json')}:question "v1_0": expected "capability" to name at least one capability but it is empty`,
    );
    writeText(path.join(dir, 'mm-vet.json'), JSON.stringify({ v1_0: { imagename: 'v1_9.png', capability: ['rec'], question: 'Q?', answer: 'a' } }));
    expect((await rejection(mmvetBenchmark(path.join(dir, 'mm-vet.json'), undefined))).message).to.include(`${path.join(dir, 'mm-vet.json')}:question "v1_0": `).and.include('v1_9.png');

    writeText(path.join(dir, 'context.jsonl'), jsonl([{ id: '001', image: '001.jpg', caption: 'A caption.' }]));
    writeText(path.join(dir, 'answers_gpt4.jsonl'), jsonl([{ question_id: 0, text: 'reference' }]));
    await writeImage(path.join(dir, 'images/001.jpg'), 15, 'jpeg');
    const questions = (rows: object[]) => writeText(path.join(dir, 'questions.jsonl'), jsonl(rows));
    const q = { question_id: 0, image: '001.jpg', text: 'Q?', category: 'conv' };
    questions([q, { ...q, category: 'chat' }]);
    expect((await rejection(llavaBenchBenchmark(dir, undefined))).message).to.equal(
      `${path.join(dir, 'questions.jsonl')}:2: expected "category" to be one of conv, detail, complex but received "chat"`,
    );
    questions([{ ...q, image: '002.jpg' }]);
    expect((await rejection(llavaBenchBenchmark(dir, undefined))).message).to.equal(
      `${path.join(dir, 'questions.jsonl')}:1: image 002.jpg has no caption in ${path.join(dir, 'context.jsonl')}`,
    );
    questions([q, { ...q, question_id: 7 }]);
    expect((await rejection(llavaBenchBenchmark(dir, undefined))).message).to.equal(
      `${path.join(dir, 'questions.jsonl')}:2: question_id 7 has no reference answer in ${path.join(dir, 'answers_gpt4.jsonl')}`,
    );
  });

  it('MathVista: rule-based extraction first, the judge only for the rest; a replaced prompt file is used and checked', async () => {
    const problems = {
      1: { pid: '1', query: 'Hint: integer.\nQuestion: How many?', image: 'images/1.jpg', choices: null, question_type: 'free_form', answer_type: 'integer', precision: null, answer: '4', metadata: { task: 'figure question answering', skills: ['arithmetic reasoning'] } },
      2: { pid: '2', query: 'Hint: option.\nQuestion: Which?\nChoices:\n(A) cat\n(B) dog', image: 'images/2.jpg', choices: ['cat', 'dog'], question_type: 'multi_choice', answer_type: 'text', precision: null, answer: 'dog', metadata: { task: 'textbook question answering', skills: [] } },
      3: { pid: '3', query: 'Hint: float.\nQuestion: How long?', image: 'images/3.jpg', choices: null, question_type: 'free_form', answer_type: 'float', precision: 1, answer: '2.2', metadata: { task: 'figure question answering', skills: ['arithmetic reasoning'] } },
    };
    writeText(path.join(dir, 'testmini.json'), JSON.stringify(problems));
    for (const k of [1, 2, 3]) await writeImage(path.join(dir, `images/${k}.jpg`), 20 + k, 'jpeg');
    writeText(path.join(dir, 'prompt.json'), JSON.stringify({ system: null, template: 'EXTRACT <{query}> FROM <{response}>' }));
    server = await startJudgeServer((body) => ({ status: 200, content: userText(body).includes('I pick (B)') ? '(B) dog' : ' 2.25 ' }));
    const b = await mathVistaBenchmark(path.join(dir, 'testmini.json'), undefined, { judgePrompt: path.join(dir, 'prompt.json') });
    expect(b.items[1].question).to.equal(problems[2].query);
    const judge = await open();
    const r = await b.score(new Map([['1', '4'], ['2', 'I pick (B) because'], ['3', 'It is about 2.25 cm']]), { judge });
    expect(server.requests.map((q) => userText(q.body))).to.deep.equal([`EXTRACT <${problems[2].query}> FROM <I pick (B) because>`, `EXTRACT <${problems[3].query}> FROM <It is about 2.25 cm>`]);
    // 1: int("4") -> "4" right; 2: "(B) dog" -> B -> "dog" right; 3: round(2.25, 1) = 2.2 (exact tie, to even) right
    expect(r.items.map((it) => [it.extracted, it.score])).to.deep.equal([['4', 1], ['dog', 1], ['2.2', 1]]);
    expect(r.metrics['extracted by the judge']).to.equal(2);
    await judge.close();

    writeText(path.join(dir, 'prompt.json'), JSON.stringify({ system: null, template: 'EXTRACT FROM <{response}>' }));
    const e = await rejection(mathVistaBenchmark(path.join(dir, 'testmini.json'), undefined, { judgePrompt: path.join(dir, 'prompt.json') }));
    expect(e.message).to.equal(`${path.join(dir, 'prompt.json')}:template: expected the placeholder {query} in the template (placeholders: {query}, {response})`);
    writeText(path.join(dir, 'bad.json'), JSON.stringify({ 1: { ...problems[1], question_type: 'open' } }));
    const e2 = await rejection(mathVistaBenchmark(path.join(dir, 'bad.json'), undefined));
    expect(e2.message).to.equal(`${path.join(dir, 'bad.json')}:problem 1: expected "question_type" to be multi_choice or free_form but received "open"`);
  });
});
