// Peak resident memory of the benchmark child processes.
import { readFileSync } from 'node:fs';

/**
 * This process's peak RSS: /proc/self/status VmHWM, the high-water mark of this process's own
 * memory map. Not getrusage's ru_maxrss: on Linux it carries over the parent's RSS at fork (the
 * forked copy's high-water mark is folded in at exec), so a child of a big benchmark process would
 * report the parent's size.
 */
export function peakRss(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error('/proc/self/status has no VmHWM line: peak RSS cannot be measured here');
  return Number(m[1]) * 1024;
}
