// Runs a training stage through the training engine and owns what the user sees around it: a
// progress bar over optimizer steps, every step's metrics appended to <out>/metrics.jsonl (trimmed
// back to the resume point first, so a resumed run ends with the same log), and at the end the
// loss/reward chart (<out>/training.svg and .png) and a one-screen summary (<out>/summary.txt).
import path from 'node:path';

import { isWriter } from '../../dist/launch.ts';
import { ADAPTER_WEIGHTS } from '../../train/adapter_io.ts';
import { writeFileAtomic } from '../../util/atomic_write.ts';
import { writeChart } from '../../util/chart.ts';
import { MetricsLog, type MetricsRow, readMetrics, trainingChartSpec, trainingSummary } from '../../util/metrics_log.ts';
import { type Progress, type ProgressFactory, silentProgress } from '../../util/progress.ts';
import type { DpoJob, SftJob, TrainHooks, TrainResult, TrainingEngine } from '../engine_api.ts';

export interface TrainRunOutput {
  result: TrainResult;
  summary: string;
  metricsFile: string;
  chart: { svg: string; png: string };
}

export type TrainStage = { kind: 'dpo'; job: DpoJob } | { kind: 'sft'; job: SftJob };

export function trainingFiles(out: string) {
  return {
    metrics: path.join(out, 'metrics.jsonl'),
    chart: path.join(out, 'training'),
    summary: path.join(out, 'summary.txt'),
  };
}

/** Summary header lines, fixed or from the result (counts known only after training). */
export type SummaryHeader = [string, string][] | ((result: TrainResult) => [string, string][]);

export async function runTraining(trainer: TrainingEngine, stage: TrainStage, header: SummaryHeader, progress: ProgressFactory = silentProgress, onData?: TrainHooks['onData']): Promise<TrainRunOutput> {
  const files = trainingFiles(stage.job.out);
  let log: MetricsLog | null = null;
  let bar: Progress | null = null;
  const hooks: TrainHooks = {
    ...(onData ? { onData } : {}),
    onStart: async (startStep: number, totalSteps: number) => {
      const note = resumeNote(stage.kind, stage.job.out, startStep, totalSteps);
      if (note) process.stderr.write(note);
      log = await MetricsLog.open(files.metrics, startStep);
      bar = progress(stage.kind, totalSteps, startStep);
    },
    onStep: async (row: MetricsRow) => {
      if (!log) throw new Error('internal: the trainer reported a step before onStart');
      await log.append([row]);
      bar?.tick(1);
    },
    onNote: (text: string) => void process.stderr.write(`${stage.kind}: warning: ${text}\n`),
    progress,
    onPlan: (lines: string[]) => {
      if (isWriter()) process.stderr.write(lines.map((l) => `${stage.kind}: ${l}\n`).join(''));
    },
  };
  let result: TrainResult;
  try {
    result = stage.kind === 'dpo' ? await trainer.dpo(stage.job, hooks) : await trainer.sft(stage.job, hooks);
  } finally {
    (bar as Progress | null)?.stop();
    await (log as MetricsLog | null)?.close();
  }
  // Ranks other than 0 wrote nothing (lib/dist): the log, chart and summary are rank 0's.
  if (!isWriter()) return { result, summary: '', metricsFile: files.metrics, chart: { svg: `${files.chart}.svg`, png: `${files.chart}.png` } };
  const rows = await readMetrics(files.metrics);
  const title = stage.kind === 'dpo' ? 'STIC stage 1b: DPO' : 'STIC stage 2b: description-infused SFT';
  const chart = await writeChart(files.chart, trainingChartSpec(title, rows));
  const summary = trainingSummary(rows, {
    header: typeof header === 'function' ? header(result) : header,
    footer: [
      ['adapter', result.adapterDir],
      ...(result.projector ? ([['projector', `in ${path.join(result.adapterDir, ADAPTER_WEIGHTS)} (PEFT modules_to_save)`]] as [string, string][]) : []),
      ['metrics', files.metrics],
      ['chart', `${chart.svg}, ${chart.png}`],
    ],
  });
  await writeFileAtomic(files.summary, summary);
  return { result, summary, metricsFile: files.metrics, chart };
}

/** What a re-run found in its output folder: nothing (a new run), a checkpoint to go on from, or the finished run. */
export function resumeNote(kind: string, out: string, startStep: number, totalSteps: number): string {
  if (startStep === 0) return '';
  if (startStep >= totalSteps) {
    return `${kind}: ${out} is already complete (${totalSteps} of ${totalSteps} steps in its last checkpoint): nothing was trained now; the summary is of that run. To train again, use another --out or delete ${out}\n`;
  }
  return `${kind}: resuming ${out} from its checkpoint at step ${startStep} of ${totalSteps}\n`;
}
