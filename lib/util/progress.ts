// Progress bars for every long step (generation batches, training steps), built on cli-progress.
// On a terminal: one redrawn line with a Unicode bar. When stderr is not a TTY (CI, `2> log`,
// `| tee`): plain lines with an ASCII bar every few seconds (cli-progress's noTTYOutput mode), so a
// log file holds readable progress instead of carriage returns and escape codes. Rate and ETA are
// computed here from the items done in *this* process, so a resumed run's ETA is not inflated by
// the items an earlier run already did.
import cliProgress from 'cli-progress';

export interface Progress {
  /** Marks n more items done. */
  tick(n?: number): void;
  /** Stops the bar (prints its final state); safe to call twice. */
  stop(): void;
}

/** Starts a bar (unit: shown in the rate, default the factory's); tests and library callers inject their own (or `silentProgress`). */
export type ProgressFactory = (label: string, total: number, alreadyDone?: number, unit?: string) => Progress;

export interface ProgressOptions {
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Unit shown in the rate, e.g. "images" or "steps". */
  unit?: string;
  /** Milliseconds between lines when the stream is not a TTY (default 5000). */
  notTTYScheduleMs?: number;
}

/** A factory of real bars on `stream` (default process.stderr). */
export function progressFactory(options: ProgressOptions = {}): ProgressFactory {
  return (label, total, alreadyDone = 0, unit) => startProgress(label, total, alreadyDone, unit === undefined ? options : { ...options, unit });
}

/** A factory whose bars print nothing (library use without a terminal, tests). */
export const silentProgress: ProgressFactory = () => ({ tick: () => undefined, stop: () => undefined });

export function startProgress(label: string, total: number, alreadyDone: number, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const unit = options.unit ?? 'items';
  const startMs = Date.now();
  const bar = new cliProgress.SingleBar({
    stream,
    noTTYOutput: true,
    notTTYSchedule: options.notTTYScheduleMs ?? 5000,
    hideCursor: tty,
    // No SIGINT handler: cli-progress's would swallow Ctrl-C (a listener disables Node's default exit).
    gracefulExit: false,
    barsize: 24,
    barCompleteChar: tty ? '\u2588' : '#',
    barIncompleteChar: tty ? '\u2591' : '-',
    format: (opts, params) =>
      formatProgressLine({
        label,
        unit,
        value: params.value,
        total: params.total,
        startValue: alreadyDone,
        elapsedMs: (params.stopTime ?? Date.now()) - startMs,
        bar: (opts.barCompleteString ?? '').slice(0, Math.round(params.progress * 24)) +
          (opts.barIncompleteString ?? '').slice(0, 24 - Math.round(params.progress * 24)),
      }),
  });
  bar.start(total, alreadyDone);
  let stopped = false;
  return {
    tick: (n = 1) => bar.increment(n),
    stop: () => {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}

export interface ProgressLine {
  label: string;
  unit: string;
  value: number;
  total: number;
  /** Items already done when the bar started (resumed work: not counted in the rate). */
  startValue: number;
  elapsedMs: number;
  bar: string;
}

/** "label |####------| 12/40 30% | 2.50 images/s | ETA 11s" (rate and ETA "--" until one item is done). */
export function formatProgressLine(p: ProgressLine): string {
  const pct = p.total > 0 ? Math.floor((100 * p.value) / p.total) : 100;
  const doneHere = p.value - p.startValue;
  const secs = p.elapsedMs / 1000;
  const rate = doneHere > 0 && secs > 0 ? doneHere / secs : 0;
  const rateText = rate > 0 ? `${formatRate(rate)} ${p.unit}/s` : `-- ${p.unit}/s`;
  const eta = rate > 0 ? formatDuration((p.total - p.value) / rate) : '--';
  return `${p.label} |${p.bar}| ${p.value}/${p.total} ${pct}% | ${rateText} | ETA ${eta}`;
}

function formatRate(r: number): string {
  if (r >= 100) return r.toFixed(0);
  if (r >= 1) return r.toFixed(2);
  return r.toPrecision(2);
}

/** 0s, 42s, 3m05s, 2h07m. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
