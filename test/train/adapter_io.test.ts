// PEFT adapter files: the fixture adapters PEFT saved (float64) read back exactly (checked against a
// plain parse of the file), our files round-trip and carry the config PEFT needs, the target pattern
// selects the language model's linears only, older name layouts load, and bad adapters are refused
// with exact messages.
import { expect } from 'chai';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadModelConfig } from '../../lib/model/config.ts';
import { openSafetensors, readTensors, writeSafetensors } from '../../lib/model/safetensors.ts';
import { LORA_TARGETS } from '../../lib/stic/train_options.ts';
import {
  type Adapter, adapterProjector, loraTensorName, loraTensorShapes, peftAdapterConfig, peftProjectorName, readAdapter, targetModulesPattern, writeAdapter,
} from '../../lib/train/adapter_io.ts';
import { checkedProjector } from '../../lib/train/model_load.ts';
import { makeRng } from '../helpers/rng.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = path.join(repo, 'test/fixtures/hf');
const MODELS = ['llava-tiny-llama', 'llava-tiny-mistral-gqa', 'llava-tiny-llama-fullfeat-lastlayer'];

/** A plain safetensors parse (header + little-endian values), the reference for the reader. */
function parseSafetensors(file: string): Map<string, { dtype: string; shape: number[]; values: Float64Array }> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { dtype: string; shape: number[]; values: Float64Array }>();
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const bytes = buf.subarray(8 + n + h.data_offsets[0], 8 + n + h.data_offsets[1]);
    const size = h.dtype === 'F64' ? 8 : 4;
    const values = new Float64Array(bytes.length / size);
    for (let i = 0; i < values.length; i++) values[i] = size === 8 ? bytes.readDoubleLE(i * 8) : bytes.readFloatLE(i * 4);
    out.set(name, { dtype: h.dtype, shape: h.shape, values });
  }
  return out;
}

describe('PEFT adapter files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-adapter-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const m of MODELS) {
    it(`reads the float64 adapter PEFT saved for ${m} (values rounded once to float32)`, async () => {
      const config = loadModelConfig(path.join(fixtures, m));
      const a = await readAdapter(path.join(fixtures, m, 'adapter'), config.decoder);
      expect(a.spec).to.deep.equal({ r: 4, alpha: 8, dropout: 0, targets: [...LORA_TARGETS] });
      const ref = parseSafetensors(path.join(fixtures, m, 'adapter', 'adapter_model.safetensors'));
      expect(a.tensors).to.have.length(ref.size);
      expect(a.tensors.map((t) => t.name)).to.deep.equal(loraTensorShapes(config.decoder, a.spec).map((s) => s.name));
      for (const t of a.tensors) {
        const r = ref.get(t.name);
        expect(r, t.name).to.not.equal(undefined);
        expect(r?.dtype).to.equal('F64');
        expect(t.shape).to.deep.equal(r?.shape);
        expect(Array.from(t.data)).to.deep.equal(Array.from(r?.values ?? [], Math.fround));
        expect(t.data.some((v) => v !== 0)).to.equal(true);
      }
    });
  }

  it('writes what it reads: PEFT config fields and float32 tensors under the canonical names', async () => {
    const config = loadModelConfig(path.join(fixtures, 'llava-tiny-mistral-gqa'));
    const rng = makeRng(3);
    const spec = { r: 3, alpha: 6, dropout: 0.05, targets: ['q', 'v', 'down'] as ('q' | 'v' | 'down')[] };
    const adapter: Adapter = {
      spec,
      baseModel: '/models/llava',
      tensors: loraTensorShapes(config.decoder, spec).map((s) => ({ ...s, data: rng.normalArray(s.shape[0] * s.shape[1]) })),
      projector: [],
    };
    await writeAdapter(dir, adapter);
    const back = await readAdapter(dir, config.decoder);
    expect(back).to.deep.equal(adapter);
    const cfg = JSON.parse(readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    expect(cfg).to.deep.equal(peftAdapterConfig(spec, '/models/llava'));
    expect(cfg).to.include({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 3, lora_alpha: 6, lora_dropout: 0.05, bias: 'none', fan_in_fan_out: false, inference_mode: true, base_model_name_or_path: '/models/llava' });
    expect(cfg.target_modules).to.equal('.*language_model.*\\.(q_proj|v_proj|down_proj)');
    const file = parseSafetensors(path.join(dir, 'adapter_model.safetensors'));
    expect([...file.keys()].sort()).to.deep.equal(adapter.tensors.map((t) => t.name).sort());
    expect([...file.values()].every((t) => t.dtype === 'F32')).to.equal(true);
    // Shapes as PEFT stores them: q_proj A (r, D), B (Hq*hd, r); the GQA v_proj B (Hkv*hd, r); down_proj A (r, F).
    const d = config.decoder;
    expect(file.get(loraTensorName(1, 'q', 'B'))?.shape).to.deep.equal([d.numHeads * d.headDim, 3]);
    expect(file.get(loraTensorName(1, 'v', 'B'))?.shape).to.deep.equal([d.numKvHeads * d.headDim, 3]);
    expect(file.get(loraTensorName(2, 'down', 'A'))?.shape).to.deep.equal([3, d.intermediateSize]);
  });

  it('the target pattern full-matches the language model\'s linears and none of the vision tower\'s', () => {
    const re = new RegExp(`^(?:${targetModulesPattern([...LORA_TARGETS])})$`); // PEFT: re.fullmatch(pattern, module name)
    for (const name of ['model.language_model.layers.0.self_attn.q_proj', 'model.language_model.layers.11.mlp.down_proj', 'language_model.model.layers.3.self_attn.o_proj']) {
      expect(re.test(name), name).to.equal(true);
    }
    for (const name of ['model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj', 'model.vision_tower.vision_model.encoder.layers.0.self_attn.out_proj', 'model.multi_modal_projector.linear_1', 'lm_head', 'model.language_model.layers.0.self_attn']) {
      expect(re.test(name), name).to.equal(false);
    }
    // The fixture's own (PEFT-written) pattern is the same for all targets.
    const fixture = JSON.parse(readFileSync(path.join(fixtures, 'llava-tiny-llama/adapter/adapter_config.json'), 'utf8'));
    expect(targetModulesPattern([...LORA_TARGETS])).to.equal(fixture.target_modules);
  });

  it('reads the older llava-hf and in-memory (.default.) names into the canonical ones', async () => {
    const config = loadModelConfig(path.join(fixtures, 'llava-tiny-llama'));
    const rng = makeRng(4);
    const spec = { r: 2, alpha: 2, dropout: 0, targets: ['k', 'up'] as ('k' | 'up')[] };
    const shapes = loraTensorShapes(config.decoder, spec);
    const tensors = shapes.map((s) => ({ ...s, data: rng.normalArray(s.shape[0] * s.shape[1]) }));
    const old = (n: string, i: number) => n.replace('base_model.model.model.language_model.', 'base_model.model.language_model.model.').replace(i % 2 ? '.weight' : '@', '.default.weight');
    await writeSafetensors(path.join(dir, 'adapter_model.safetensors'), tensors.map((t, i) => ({ name: old(t.name, i), dtype: 'F32', shape: t.shape, data: t.data })));
    writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 2, target_modules: ['k_proj', 'up_proj'] }));
    const back = await readAdapter(dir, config.decoder);
    expect(back.tensors.map((t) => t.name)).to.deep.equal(shapes.map((s) => s.name));
    expect(back.tensors.map((t) => Array.from(t.data))).to.deep.equal(tensors.map((t) => Array.from(t.data)));
    expect(back.baseModel).to.equal(null);
  });

  describe('refuses a bad adapter with an exact message', () => {
    const config = () => loadModelConfig(path.join(fixtures, 'llava-tiny-llama'));
    const fixtureAdapter = path.join(fixtures, 'llava-tiny-llama/adapter');
    function withConfig(patch: Record<string, unknown>): void {
      const cfg = { ...JSON.parse(readFileSync(path.join(fixtureAdapter, 'adapter_config.json'), 'utf8')), ...patch };
      writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify(cfg));
      copyFileSync(path.join(fixtureAdapter, 'adapter_model.safetensors'), path.join(dir, 'adapter_model.safetensors'));
    }
    const cases: [string, Record<string, unknown>, string][] = [
      ['not LoRA', { peft_type: 'IA3' }, 'expected "LORA" for "peft_type" but found "IA3"'],
      ['DoRA', { use_dora: true }, 'expected false (DoRA is not supported) for "use_dora" but found true'],
      ['rsLoRA', { use_rslora: true }, 'expected false (rsLoRA scales by alpha / sqrt(r), not supported) for "use_rslora" but found true'],
      ['per-module ranks', { rank_pattern: { q_proj: 8 } }, 'expected {} (per-module ranks are not supported) for "rank_pattern" but found {"q_proj":8}'],
      ['a bad rank', { r: 0 }, 'expected a positive integer for "r" but found 0'],
    ];
    for (const [what, patch, message] of cases) {
      it(what, async () => {
        withConfig(patch);
        const err = await readAdapter(dir, config().decoder).catch((e: Error) => e);
        expect((err as Error).message).to.equal(`${path.join(dir, 'adapter_config.json')}: ${message}`);
      });
    }
    it('a rank that does not match the tensors', async () => {
      withConfig({ r: 8 });
      const err = await readAdapter(dir, config().decoder).catch((e: Error) => e);
      expect((err as Error).message).to.equal(
        `${path.join(dir, 'adapter_model.safetensors')}: tensor "base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight": expected shape [8, 64] (r = 8 from adapter_config.json) but found [4, 64]`,
      );
    });
    it('a missing config and missing weights', async () => {
      const e1 = await readAdapter(dir, config().decoder).catch((e: Error) => e);
      expect((e1 as Error).message).to.equal(`${path.join(dir, 'adapter_config.json')}: expected a PEFT adapter config but the file does not exist`);
      writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4 }));
      const e2 = await readAdapter(dir, config().decoder).catch((e: Error) => e);
      expect((e2 as Error).message).to.equal(`${path.join(dir, 'adapter_model.safetensors')}: expected the adapter weights beside adapter_config.json but the file does not exist`);
    });
    it('a vision-tower LoRA tensor, a layer past the decoder, a module missing from one layer', async () => {
      writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 1, lora_alpha: 1 }));
      const file = path.join(dir, 'adapter_model.safetensors');
      const t = (name: string, shape: number[]) => ({ name, dtype: 'F32' as const, shape, data: new Float32Array(shape[0] * shape[1]).fill(0.5) });
      const vision = 'base_model.model.model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.lora_A.weight';
      await writeSafetensors(file, [t(vision, [1, 32])]);
      expect(((await readAdapter(dir, config().decoder).catch((e: Error) => e)) as Error).message).to.equal(
        `${file}: expected LoRA tensors of the language model (e.g. base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight) but found "${vision}"`,
      );
      await writeSafetensors(file, [t(loraTensorName(2, 'q', 'A'), [1, 64])]);
      expect(((await readAdapter(dir, config().decoder).catch((e: Error) => e)) as Error).message).to.equal(
        `${file}: tensor "${loraTensorName(2, 'q', 'A')}": expected a layer index below 2 (the model's decoder layers) but found 2`,
      );
      await writeSafetensors(file, [t(loraTensorName(0, 'q', 'A'), [1, 64]), t(loraTensorName(0, 'q', 'B'), [64, 1]), t(loraTensorName(1, 'q', 'A'), [1, 64])]);
      expect(((await readAdapter(dir, config().decoder).catch((e: Error) => e)) as Error).message).to.equal(
        `${file}: expected tensor "${loraTensorName(1, 'q', 'B')}" (every layer of a targeted module) but it is missing`,
      );
    });
  });

  it('the trained projector goes into adapter_model.safetensors as PEFT modules_to_save and comes back', async () => {
    const config = loadModelConfig(path.join(fixtures, 'llava-tiny-mistral-gqa'));
    const rng = makeRng(5);
    const spec = { r: 2, alpha: 4, dropout: 0, targets: ['q', 'v'] as ('q' | 'v')[] };
    const projector = [{ name: 'multi_modal_projector.linear_1.weight', shape: [4, 3] }, { name: 'multi_modal_projector.linear_1.bias', shape: [4] }]
      .map((e) => ({ ...e, data: rng.normalArray(e.shape.reduce((a, b) => a * b, 1)) }));
    const adapter: Adapter = { spec, baseModel: null, tensors: loraTensorShapes(config.decoder, spec).map((s) => ({ ...s, data: rng.normalArray(s.shape[0] * s.shape[1]) })), projector };
    writeFileSync(path.join(dir, 'projector.safetensors'), 'a file of an older version');
    await writeAdapter(dir, adapter);
    expect(existsSync(path.join(dir, 'projector.safetensors')), 'the older file is removed').to.equal(false);
    const cfg = JSON.parse(readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    expect(cfg.modules_to_save).to.deep.equal(['multi_modal_projector']);
    const names = [...(await openSafetensors(path.join(dir, 'adapter_model.safetensors'))).tensors.keys()];
    expect(names).to.include.members(['base_model.model.model.multi_modal_projector.linear_1.weight', 'base_model.model.model.multi_modal_projector.linear_1.bias']);
    expect(peftProjectorName('multi_modal_projector.linear_1.bias')).to.equal('base_model.model.model.multi_modal_projector.linear_1.bias');
    expect(await readAdapter(dir, config.decoder)).to.deep.equal(adapter);
    expect((await adapterProjector(dir)).map((e) => e.name)).to.deep.equal(projector.map((p) => p.name));
    await writeAdapter(dir, { ...adapter, projector: [] });
    expect(JSON.parse(readFileSync(path.join(dir, 'adapter_config.json'), 'utf8')).modules_to_save).to.equal(null);
    expect(await adapterProjector(dir)).to.deep.equal([]);
  });

  it('reads the projector.safetensors of an older version beside the adapter', async () => {
    const rng = makeRng(6);
    const projector = [{ name: 'multi_modal_projector.linear_2.weight', shape: [2, 5] }].map((e) => ({ ...e, data: rng.normalArray(10) }));
    await writeSafetensors(path.join(dir, 'projector.safetensors'), projector.map((t) => ({ ...t, dtype: 'F32' as const })));
    const entries = await adapterProjector(dir);
    expect(entries.map((e) => [e.name, e.shape])).to.deep.equal([['multi_modal_projector.linear_2.weight', [2, 5]]]);
    expect(Array.from((await readTensors(entries, { as: 'F32' }))[0])).to.deep.equal(Array.from(projector[0].data));
    const file = path.join(dir, 'projector.safetensors');
    const wrongShape = (() => { try { return checkedProjector(entries, [{ name: 'multi_modal_projector.linear_2.weight', shape: [2, 6] }]); } catch (e) { return e as Error; } })();
    expect((wrongShape as Error).message).to.equal(`${file}: tensor "multi_modal_projector.linear_2.weight": expected shape [2, 6] (the model's projector) but found [2, 5]`);
    const missing = (() => { try { return checkedProjector(entries, [{ name: 'multi_modal_projector.linear_2.weight', shape: [2, 5] }, { name: 'multi_modal_projector.linear_2.bias', shape: [2] }]); } catch (e) { return e as Error; } })();
    expect((missing as Error).message).to.equal(`${file}: expected projector tensor "multi_modal_projector.linear_2.bias" but it is missing`);
  });
});
