// `stic info`: what this installation can do (backends, threads, SIMD) and, with --model, what a
// checkpoint is and what it will cost to run and to train with STIC before any weight is read.
import type { CommandModule } from 'yargs';

import { distInfo, distInfoRows } from '../../lib/dist/info.ts';
import { assertRunnable, loadModelConfig } from '../../lib/model/config.ts';
import type { EngineConfig } from '../../lib/model/engine_config.ts';
import { countLoraParams, countParams, estimateDpoMemory, formatBytes, kvBytesPerToken } from '../../lib/model/memory_estimate.ts';
import { native } from '../../lib/native/index.ts';

interface InfoArgs {
  json: boolean;
  model?: string;
  'vision-tower'?: string;
  device: 'cpu' | 'cuda';
  'lora-r': number;
  'batch-pairs': number;
  'seq-len': number;
  'gen-batch': number;
}

export const command: CommandModule<object, InfoArgs> = {
  command: 'info',
  describe: 'Show the native build, backends and threads; with --model, the model and a memory estimate for a run',
  builder: (y) =>
    y
      .option('json', { type: 'boolean', default: false, describe: 'Print machine-readable JSON instead of a table' })
      .option('model', { type: 'string', describe: 'A Hugging Face LLaVA checkpoint directory to describe (only config files are read)' })
      .option('vision-tower', { type: 'string', describe: 'Original LLaVA layout: directory of the separate CLIP checkpoint' })
      .option('device', { choices: ['cpu', 'cuda'] as const, default: 'cpu' as const, describe: 'Backend to estimate for: cpu keeps fp32 weights, cuda bf16' })
      .option('lora-r', { type: 'number', default: 128, describe: 'LoRA rank for the training estimate (STIC: 128)' })
      .option('batch-pairs', { type: 'number', default: 1, describe: 'Preference pairs per micro-batch for the training estimate' })
      .option('seq-len', { type: 'number', default: 1024, describe: 'Tokens per sequence (image tokens included) for the estimates' })
      .option('gen-batch', { type: 'number', default: 16, describe: 'Generation batch for the KV-cache estimate' }) as never,
  handler: (args) => {
    const info = native().buildInfo();
    const model = args.model ? describeModel(args) : undefined;
    const dist = distInfo();
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ build: info, dist, model }, null, 2)}\n`);
      return;
    }
    const rows: [string, string][] = [
      ['backends', info.backends.join(', ')],
      ['cuda', info.cuda ? 'built' : 'not built (no CUDA toolkit with cuBLASLt at build time)'],
      ['cpu threads', `${info.threads} of ${info.maxThreads} (set STIC_THREADS to change)`],
      ['simd', info.simd],
      ['compiler', info.compiler],
      ['node-api', String(info.napiVersion)],
      ...distInfoRows(dist),
    ];
    if (model) rows.push(...model.rows);
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(16)} ${v}\n`);
  },
};

function describeModel(args: InfoArgs): { config: EngineConfig; runnable: string; rows: [string, string][]; estimate: object } {
  const config = loadModelConfig(args.model!, { visionTowerPath: args['vision-tower'] });
  let runnable = 'yes';
  try {
    assertRunnable(config);
  } catch (e) {
    runnable = (e as Error).message;
  }
  const bytes = args.device === 'cuda' ? 2 : 4;
  const p = countParams(config);
  const d = config.decoder;
  const kv = kvBytesPerToken(config, bytes) * args['seq-len'] * args['gen-batch'];
  const train = estimateDpoMemory(config, {
    bytesPerValue: bytes,
    loraRank: args['lora-r'],
    trainProjector: true,
    pairsPerStep: args['batch-pairs'],
    seqLen: args['seq-len'],
  });
  const m = (n: number) => `${(n / 1e6).toFixed(1)}M`;
  const rows: [string, string][] = [
    ['model', `${config.architecture} (${d.family}, ${config.weights.naming} names)`],
    ['runnable', runnable],
    ['vision', `CLIP ${config.vision.imageSize}px/${config.vision.patchSize}, ${config.vision.numLayers} layers, layer ${config.vision.featureLayer} (${config.vision.selectStrategy}), ${config.imageTokenCount} image tokens${config.anyres ? ' per tile' : ''}`],
    ...(config.anyres ? [['anyres', `grids ${config.anyres.gridPinpoints.map(([h, w]) => `${h}x${w}`).join(', ')} (height x width); tokens per image depend on its size`] as [string, string]] : []),
    ['decoder', `${d.numLayers} layers, hidden ${d.hiddenSize}, heads ${d.numHeads}/${d.numKvHeads} kv, vocab ${d.vocabSize}, rope ${d.ropeTheta}`],
    ['parameters', `${p.total.toLocaleString('en-US')} = ${m(p.total)} (vision ${m(p.vision)}, projector ${m(p.projector)}${p.imageNewline ? `, image_newline ${p.imageNewline}` : ''}, decoder ${m(p.decoder)})`],
    ['weights', `${formatBytes(p.total * bytes)} on ${args.device} (${bytes === 2 ? 'bf16' : 'fp32'})`],
    ['kv cache', `${formatBytes(kv)} for ${args['gen-batch']} x ${args['seq-len']} tokens`],
    ['lora', `${m(countLoraParams(config, args['lora-r']))} trainable at r=${args['lora-r']} (+ projector ${m(p.projector)})`],
    ['dpo step', `~${formatBytes(train.total)} (weights ${formatBytes(train.weights)}, grads+adam ${formatBytes(train.gradients + train.optimizerState)}, activations ~${formatBytes(train.activations)} for ${args['batch-pairs']} pair(s))`],
  ];
  return { config, runnable, rows, estimate: { params: p, kvCacheBytes: kv, dpo: train } };
}
