// `stic toy pretrain` end to end on a few steps of the real toy model: the folder it leaves is a
// Hugging Face model lib/engine loads and generates with; a run stopped after a checkpoint and
// resumed ends bit-identical to an uninterrupted one (weights, metrics); resumes with other options
// and held-out scenes from the training seed are refused with exact messages.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { expect } from 'chai';

import { loadChatModel, userPromptIds } from '../../lib/engine/chat_input.ts';
import { openSafetensors } from '../../lib/model/safetensors.ts';
import { runToyPretrain } from '../../lib/toy/pretrain.ts';
import { TOY_MODEL_SIZE } from '../../lib/toy/pretrain_model.ts';
import { readMetrics } from '../../lib/util/metrics_log.ts';

const SMALL = { steps: 4, batchSize: 2, evalEvery: 2, evalScenes: 2, finalEvalScenes: 2, checkpointEvery: 2, seed: 11 };

describe('stic toy pretrain (lib/toy/pretrain.ts)', function () {
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
});
