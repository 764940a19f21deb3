// `stic toy pretrain` end to end on a few steps of the real toy model: the folder it leaves is a
// Hugging Face model lib/engine loads and generates with; a run stopped after a checkpoint and
// resumed ends bit-identical to an uninterrupted one (weights, metrics); resumes with other options
// and held-out scenes from the training seed are refused with exact messages.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { expect } from 'chai';

import { loadChatModel, userPromptIds } from '../../lib/engine/chat_input.ts';
import { openSafetensors, readTensor } from '../../lib/model/safetensors.ts';
import { runToyPretrain } from '../../lib/pretrain/toy_pretrain.ts';
import { native } from '../../lib/native/index.ts';
import { TOY_MODEL_SIZE, initialWeights, toyConfigJson, toyEngineConfig, toyPreprocessorJson } from '../../lib/toy/pretrain_model.ts';
import { buildToyModelTokenizer } from '../../lib/toy/toy_tokenizer.ts';
import { readMetrics } from '../../lib/util/metrics_log.ts';

const SMALL = { steps: 4, batchSize: 2, evalEvery: 2, evalScenes: 2, finalEvalScenes: 2, checkpointEvery: 2, seed: 11 };

describe('stic toy pretrain (lib/pretrain/toy_pretrain.ts)', function () {
  this.timeout(60000);
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'stic-toy-pretrain-'));
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('writes a Hugging Face LLaVA folder that the engine loads and generates with, plus its record', async () => {
    const out = tmp();
    const r = await runToyPretrain({ ...SMALL, out });
    const chat = await loadChatModel(out);
    expect(chat.model.config.architecture).to.equal('LlavaForConditionalGeneration');
    expect(chat.model.config.imageTokenCount).to.equal(36);
    expect(chat.template.name).to.equal('checkpoint'); // the vicuna_v1 template shipped in tokenizer_config.json
    const ids = userPromptIds(chat, 'How many shapes are there?', true);
    const [g] = await chat.model.generate([{ ids, image: new Float32Array(3 * 84 * 84).fill(0.1), maxNewTokens: 3 }]);
    expect(g.ids.length).to.be.at.most(3);
    expect(['eos', 'length']).to.include(g.finishReason);
    expect(g.text).to.be.a('string');
    const weights = await openSafetensors(path.join(out, 'model.safetensors'));
    expect(new Set([...weights.tensors.values()].map((t) => t.dtype))).to.deep.equal(new Set(['F16']));
    const rows = await readMetrics(path.join(out, 'metrics.jsonl'));
    expect(rows.map((x) => x.step)).to.deep.equal([0, 1, 2, 3]);
    expect(rows.every((x) => Number.isFinite(x.loss) && (x.grad_norm as number) > 0)).to.equal(true);
    const evals = await readMetrics(path.join(out, 'eval.jsonl'));
    expect(evals.map((x) => x.step)).to.deep.equal([2, 4]);
    const record = JSON.parse(readFileSync(path.join(out, 'training.json'), 'utf8'));
    expect(record.steps).to.equal(4);
    expect(record.parameters).to.equal(1_170_496);
    expect(record.final_eval.scenes).to.equal(2);
    expect(r.final.report.vqa.asked).to.equal(r.final.answers.length);
  });

  it('builds the model in the shape `size` asks for and records it', async () => {
    const out = tmp();
    const size = { vision: { ...TOY_MODEL_SIZE.vision, patchSize: 12, hiddenSize: 32, intermediateSize: 64, numHeads: 2 }, decoder: { ...TOY_MODEL_SIZE.decoder, hiddenSize: 64, intermediateSize: 96, numLayers: 2 } };
    await runToyPretrain({ ...SMALL, steps: 2, evalEvery: 0, out, size });
    const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect([config.image_seq_length, config.vision_config.patch_size, config.vision_config.hidden_size, config.text_config.hidden_size, config.text_config.num_hidden_layers]).to.deep.equal([49, 12, 32, 64, 2]);
    const record = JSON.parse(readFileSync(path.join(out, 'training.json'), 'utf8'));
    expect(record.options.size).to.deep.equal(size);
    expect(record.parameters).to.be.below(500_000);
    expect((await loadChatModel(out)).model.config.imageTokenCount).to.equal(49);
  });

  it('a run stopped after step 2 and resumed ends bit-identical to an uninterrupted run', async () => {
    const [a, b] = [tmp(), tmp()];
    await runToyPretrain({ ...SMALL, out: a });
    const stop = new AbortController();
    const err = await runToyPretrain({ ...SMALL, out: b, signal: stop.signal, onStep: (done) => done === 2 && stop.abort() }).then(() => null, (e: Error) => e);
    expect(err?.message).to.equal('toy pretraining stopped after step 2 of 4 (resume with --resume)');
    await runToyPretrain({ ...SMALL, out: b, resume: true });
    for (const f of ['model.safetensors', 'metrics.jsonl', 'eval.jsonl']) {
      const strip = (s: string) => s.replace(/"(ms|eval_ms)":\d+/g, '');
      const [x, y] = [readFileSync(path.join(a, f)), readFileSync(path.join(b, f))];
      if (f.endsWith('.safetensors')) expect(x.equals(y), f).to.equal(true);
      else expect(strip(y.toString()), f).to.equal(strip(x.toString()));
    }
  });

  it('refuses a resume with other options and held-out scenes drawn from the training seed', async () => {
    const out = tmp();
    await runToyPretrain({ ...SMALL, out, steps: 2 });
    const err = await runToyPretrain({ ...SMALL, out, steps: 2, lr: 1e-3, resume: true }).then(() => null, (e: Error) => e);
    expect(err?.message).to.equal(
      `cannot resume from ${path.join(out, 'checkpoints', 'step-00000002')}: lr: the checkpoint was written with 0.002, this run has 0.001 (start without --resume, or repeat the checkpoint's options)`,
    );
    // A checkpoint written before the AdamW and drill options existed (its state has none) ran at their defaults.
    const stateFile = path.join(out, 'checkpoints', 'step-00000002', 'state.json');
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    for (const k of ['adamBeta1', 'adamBeta2', 'adamEps', 'drillSteps']) delete state.options[k];
    writeFileSync(stateFile, JSON.stringify(state));
    const e3 = await runToyPretrain({ ...SMALL, out, steps: 2, adamBeta2: 0.99, resume: true }).then(() => null, (e: Error) => e);
    expect(e3?.message).to.contain(': adamBeta2: the checkpoint was written with 0.999, this run has 0.99 (');
    expect((await runToyPretrain({ ...SMALL, out, steps: 2, resume: true })).steps).to.equal(2);
    const e2 = await runToyPretrain({ ...SMALL, out, evalSeed: 11 }).then(() => null, (e: Error) => e);
    expect(e2?.message).to.equal('Expected an evalSeed other than the training seed (11): held-out scenes must not be training scenes');
    const e4 = await runToyPretrain({ ...SMALL, out, steps: 2, drillSteps: 2 }).then(() => null, (e: Error) => e);
    expect(e4?.message).to.equal('Expected fewer drill steps than steps (2) but received 2');
    // A resumed run must repeat the drill of its checkpoint.
    const e5 = await runToyPretrain({ ...SMALL, out, steps: 2, drillSteps: 1, resume: true }).then(() => null, (e: Error) => e);
    expect(e5?.message).to.equal(
      `cannot resume from ${path.join(out, 'checkpoints', 'step-00000002')}: drillSteps: the checkpoint was written with 0, this run has 1 (start without --resume, or repeat the checkpoint's options)`,
    );
  });

  it('the fixed patch embedding: channel-shared filters that training leaves as drawn; an older checkpoint ran with learned ones', async () => {
    const config = toyEngineConfig(toyConfigJson(buildToyModelTokenizer()), toyPreprocessorJson());
    const specs = native().llavaTensorSpecs(config);
    const patch = (kind: 'fixed' | 'learned') => initialWeights(specs, config, SMALL.seed, kind).find((t) => t.name.endsWith('patch_embedding.weight'))!.data;
    // (64 filters, 3 channels, 14 x 14): the mean correlation of a filter's channels.
    const channelCorrelation = (w: Float32Array) => {
      const P = 14 * 14;
      let sum = 0;
      for (let o = 0; o < 64; o++) {
        const [r, g] = [w.subarray(o * 3 * P, o * 3 * P + P), w.subarray(o * 3 * P + P, o * 3 * P + 2 * P)];
        const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);
        sum += dot(r, g) / Math.sqrt(dot(r, r) * dot(g, g));
      }
      return sum / 64;
    };
    expect(channelCorrelation(patch('fixed'))).to.be.above(0.85); // 1 / (1 + 0.3^2) = 0.92 expected
    expect(Math.abs(channelCorrelation(patch('learned')))).to.be.below(0.05);
    const out = tmp();
    await runToyPretrain({ ...SMALL, steps: 2, evalEvery: 0, out });
    const saved = await openSafetensors(path.join(out, 'model.safetensors'));
    const entry = [...saved.tensors.values()].find((t) => t.name.endsWith('patch_embedding.weight'))!;
    const half = (await readTensor(entry)) as Uint16Array;
    const want = new Uint16Array(half.length);
    await native().convertDType(patch('fixed'), 'F32', want, 'F16');
    expect(Buffer.from(want.buffer).equals(Buffer.from(half.buffer, half.byteOffset, half.byteLength)), 'patch embedding after 2 steps').to.equal(true);
    // A checkpoint from before the option existed ran with learned filters: resuming must say so.
    const stateFile = path.join(out, 'checkpoints', 'step-00000002', 'state.json');
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    delete state.options.patchEmbedding;
    writeFileSync(stateFile, JSON.stringify(state));
    const err = await runToyPretrain({ ...SMALL, steps: 2, evalEvery: 0, out, resume: true }).then(() => null, (e: Error) => e);
    expect(err?.message).to.contain(': patchEmbedding: the checkpoint was written with "learned", this run has "fixed" (');
    expect((await runToyPretrain({ ...SMALL, steps: 2, evalEvery: 0, out, resume: true, patchEmbedding: 'learned' })).steps).to.equal(2);
  });
});
