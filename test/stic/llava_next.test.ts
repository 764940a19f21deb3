// Every stage on a LLaVA-NeXT model (the reference fixture's tiny llava-next, anyres images of five
// shapes: 25 to 51 image tokens each): stic pref with reference log-probs (equal to the engine's own
// scoring of each pair with the image's own token count), stic dpo with the shared image + prompt
// prefix, stic describe, stic score, stic eval (POPE on toy-bench scenes), and --image-aspect pad (one
// padded tile, 9 tokens) end to end.
import { expect } from 'chai';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { imagePixels, loadChatModel, userPromptIds } from '../../lib/engine/chat_input.ts';
import { responseTokenIds } from '../../lib/stic/engine_adapters.ts';
import { runCli } from './cli_helpers.ts';
import { NEXT_DIR } from '../engine/next_fixture.ts';

describe('stages on a LLaVA-NeXT model (anyres)', function () {
  this.timeout(300_000);
  let dir: string;
  let images: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-next-'));
    images = path.join(dir, 'images');
    cpSync(path.join(NEXT_DIR, 'images'), images, { recursive: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const aspect of ['anyres', 'pad'] as const) {
    it(`stic pref --image-aspect ${aspect}: reference log-probs equal the engine's scoring with the image's own tokens`, async () => {
      const out = path.join(dir, `pref-${aspect}.jsonl`);
      const r = await runCli(['pref', '--model', NEXT_DIR, '--images', images, '--max-new-tokens', '5', '--temperature', '1', '--ref-logps', '--image-aspect', aspect, '--out', out]);
      expect(r.code, r.stderr).to.equal(0);
      const recs = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
      expect(recs.length).to.be.at.least(3);
      const chat = await loadChatModel(NEXT_DIR);
      const counts = new Set<number>();
      for (const rec of recs) {
        const image = await imagePixels(chat.model.config, path.join(images, rec.image), { aspect });
        counts.add(image.tokens);
        const promptIds = userPromptIds(chat, rec.provenance.prompts.stored, image);
        const [c, j] = await chat.model.logprobs([
          { promptIds, responseIds: responseTokenIds(chat, rec.chosen[1].content), image },
          { promptIds, responseIds: responseTokenIds(chat, rec.rejected[1].content), image },
        ]);
        expect(rec.ref_chosen_logp, rec.id).to.be.closeTo(c.sum, 1e-4);
        expect(rec.ref_rejected_logp, rec.id).to.be.closeTo(j.sum, 1e-4);
      }
      if (aspect === 'pad') expect([...counts]).to.deep.equal([9]);
      else expect(counts.size, 'anyres token counts vary with the image').to.be.at.least(2);
    });
  }

  it('stic dpo trains on anyres pairs (shared prefix) and writes an adapter', async () => {
    const out = path.join(dir, 'dpo');
    const r = await runCli(['dpo', '--model', NEXT_DIR, '--prefs', path.join(dir, 'pref-anyres.jsonl'), '--image-root', images, '--out', out,
      '--lora-r', '2', '--lora-alpha', '4', '--epochs', '1', '--batch-size', '2', '--lr', '1e-3']);
    expect(r.code, r.stderr).to.equal(0);
    expect(readdirSync(out)).to.include('adapter_model.safetensors');
    const metrics = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(metrics.length).to.be.at.least(1);
    for (const m of metrics) expect(Number.isFinite(m.loss)).to.equal(true);
  });

  it('stic describe and stic score run on anyres images', async () => {
    const instructions = path.join(dir, 'instructions.json');
    const files = readdirSync(images);
    writeFileSync(instructions, JSON.stringify(files.slice(0, 3).map((f, i) => ({ id: `s${i}`, image: `images/${f}`, conversations: [{ from: 'human', value: '<image>\nWhat is this?' }, { from: 'gpt', value: 'shapes' }] }))));
    const out = path.join(dir, 'descriptions.jsonl');
    const d = await runCli(['describe', '--model', NEXT_DIR, '--instructions', instructions, '--max-new-tokens', '6', '--temperature', '1', '--out', out]);
    expect(d.code, d.stderr).to.equal(0);
    // A random model may generate only tokens that decode to nothing: those are listed skips.
    const lines = (f: string) => { try { return readFileSync(f, 'utf8').trimEnd().split('\n').filter((l) => l.length > 0); } catch { return []; } };
    const written = lines(out);
    expect(written.length + lines(`${out}.skipped.jsonl`).length, d.stderr).to.equal(3);
    expect(written.length, d.stderr).to.be.at.least(1);
    const s = await runCli(['score', '--model', NEXT_DIR, '--image', path.join(images, files[0]), '--prompt', 'What is this?', '--response', 'shapes', '--json']);
    expect(s.code, s.stderr).to.equal(0);
    expect(Number.isFinite(JSON.parse(s.stdout).sum)).to.equal(true);
  });

  it('stic eval answers and scores a benchmark with anyres and with pad, kept apart in the predictions key', async () => {
    const bench = path.join(dir, 'toy-bench');
    const b = await runCli(['toy-bench', '--out', bench, '--count', '2']);
    expect(b.code, b.stderr).to.equal(0);
    const out = path.join(dir, 'eval');
    const args = (aspect: string, name = `next-${aspect}`) => ['eval', '--model', NEXT_DIR, '--bench', 'pope', '--data', path.join(bench, 'pope', 'coco_pope_random.json'), '--out', out,
      '--name', name, '--instruction', '', '--max-new-tokens', '2', '--threads', '1', '--image-aspect', aspect];
    for (const aspect of ['anyres', 'pad']) {
      const r = await runCli(args(aspect));
      expect(r.code, r.stderr).to.equal(0);
      const run = path.join(out, `next-${aspect}`, 'pope-random');
      expect(readFileSync(path.join(run, 'predictions.jsonl'), 'utf8').trimEnd().split('\n')).to.have.length(4); // 2 scenes x 2 questions
      expect(JSON.parse(readFileSync(path.join(run, 'predictions.meta.json'), 'utf8')).imageAspect).to.equal(aspect);
      expect(JSON.parse(readFileSync(path.join(run, 'results.json'), 'utf8')).metrics.questions).to.equal(4);
    }
    // answers made with one image aspect are not resumed with the other
    const mixed = await runCli(args('pad', 'next-anyres'));
    expect(mixed.code).to.not.equal(0);
    expect(mixed.stderr).to.include('imageAspect: "anyres" -> "pad"');
  });
});
