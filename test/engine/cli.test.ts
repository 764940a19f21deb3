// `stic generate` and `stic score` on a small random model that shares the fixture tokenizer
// (test/fixtures/hf/tokenizer-llama-style: <image> = 420, 421 ids) and a real image file. The CLI
// must give what the library gives for the same chat-rendered ids.
import { expect } from 'chai';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { imagePixels, loadChatModel, userPromptIds } from '../../lib/engine/chat_input.ts';
import { writeRandomLlava } from '../../lib/engine/random_model.ts';
import { loadModelConfig } from '../../lib/model/config.ts';
import { loraTensorShapes, writeAdapter } from '../../lib/train/adapter_io.ts';
import { exportMerged } from '../../lib/train/merge_export.ts';
import { makeRng } from '../helpers/rng.ts';
import { hfFixtures } from './fixture_util.ts';
import { runCli } from '../stic/cli_helpers.ts';


describe('stic generate / stic score', () => {
  let dir: string;
  const image = path.join(hfFixtures, 'images', 'scene.png');
  const prompt = 'Describe the image.';
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-cli-'));
    await writeRandomLlava(
      dir,
      {
        vision: { imageSize: 28, patchSize: 14, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 2 },
        decoder: { family: 'llama', hiddenSize: 48, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 421 },
        std: 0.3, // peaked distributions, so greedy text is not a tie-break lottery
      },
      5,
    );
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(hfFixtures, 'tokenizer-llama-style', f), path.join(dir, f));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('generate --json gives the library result for the chat-rendered prompt', async () => {
    const { code, stdout } = await runCli(['generate', '--model', dir, '--image', image, '--prompt', prompt, '--max-new-tokens', '6', '--json']);
    expect(code).to.equal(0);
    const out = JSON.parse(stdout);
    const chat = await loadChatModel(dir);
    const pixels = await imagePixels(chat.model.config, image);
    const ids = userPromptIds(chat, prompt, true);
    const [ref] = await chat.model.generate([{ ids, image: pixels }], { maxNewTokens: 6 });
    expect(ids.filter((id) => id === 420).length).to.equal(4); // <image> expanded to (28/14)^2 tokens
    expect(out.promptTokens).to.equal(ids.length);
    expect(out.ids).to.deep.equal(ref.ids);
    expect(out.text).to.equal(ref.text);
    expect(out.finishReason).to.equal(ref.finishReason);
    expect(out.ids.length).to.be.greaterThan(0);
  });

  it('generate prints the text, sampling with a seed reproducibly', async () => {
    const args = ['generate', '--model', dir, '--image', image, '--prompt', prompt, '--max-new-tokens', '5', '--temperature', '0.8', '--seed', '3'];
    const a = await runCli(args);
    const b = await runCli(args);
    expect(a.code).to.equal(0);
    expect(a.stdout).to.equal(b.stdout);
    expect(a.stderr).to.match(/^\[\d+ tokens, finish: (eos|length), prompt \d+ tokens, /);
  });

  it('score --json gives summed and per-token log-probs of the response', async () => {
    const response = 'a red circle';
    const { code, stdout } = await runCli(['score', '--model', dir, '--image', image, '--prompt', prompt, '--response', response, '--append-eos', '--json']);
    expect(code).to.equal(0);
    const out = JSON.parse(stdout);
    const chat = await loadChatModel(dir);
    const pixels = await imagePixels(chat.model.config, image);
    const responseIds = [...chat.tokenizer.encode(response, { addSpecialTokens: false }), 2];
    const [ref] = await chat.model.logprobs([{ promptIds: userPromptIds(chat, prompt, true), responseIds, image: pixels }]);
    expect(out.tokens.map((t: { id: number }) => t.id)).to.deep.equal(responseIds);
    expect(out.sum).to.be.closeTo(ref.sum, 1e-9);
    out.tokens.forEach((t: { logp: number }, i: number) => expect(t.logp).to.be.closeTo(ref.tokenLogps[i], 1e-9));
    expect(out.sum).to.be.below(0);
  });

  it('generate/score --adapter: base + a random LoRA adapter in memory, as its merged export gives', async () => {
    const adapter = path.join(dir, 'adapter');
    mkdirSync(adapter);
    const spec = { r: 4, alpha: 8, dropout: 0, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const };
    const rng = makeRng(11);
    const tensors = loraTensorShapes(loadModelConfig(dir).decoder, { ...spec, targets: [...spec.targets] }).map((t) => ({ ...t, data: rng.normalArray(t.shape[0] * t.shape[1], 0.3) }));
    await writeAdapter(adapter, { spec: { ...spec, targets: [...spec.targets] }, tensors, baseModel: null });
    const merged = path.join(dir, 'merged');
    await exportMerged({ model: dir, adapter, out: merged });
    const response = 'a red circle';
    const score = async (m: string, extra: string[]) => JSON.parse((await runCli(['score', '--model', m, ...extra, '--image', image, '--prompt', prompt, '--response', response, '--json'])).stdout) as { sum: number };
    const [withAdapter, exported, base] = [await score(dir, ['--adapter', adapter]), await score(merged, []), await score(dir, [])];
    expect(withAdapter.sum).to.be.closeTo(exported.sum, 1e-5);
    expect(Math.abs(withAdapter.sum - base.sum)).to.be.above(1e-2); // the adapter is applied
    const gen = async (m: string, extra: string[]) => (await runCli(['generate', '--model', m, ...extra, '--image', image, '--prompt', prompt, '--max-new-tokens', '6', '--json'])).stdout;
    expect(JSON.parse(await gen(dir, ['--adapter', adapter])).ids).to.deep.equal(JSON.parse(await gen(merged, [])).ids);
    rmSync(merged, { recursive: true });
  });

  it('reports a missing image file with its path', async () => {
    const missing = path.join(dir, 'nope.png');
    const { code, stderr } = await runCli(['score', '--model', dir, '--image', missing, '--prompt', prompt, '--response', 'x']);
    expect(code).to.equal(1);
    expect(stderr).to.equal(`stic: Cannot load image ${missing}: file does not exist\n`);
  });
});
