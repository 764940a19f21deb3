// The Python with PyTorch that the benchmarks' baselines run in: $STIC_PYTHON, else Debian's
// /usr/bin/python3 (python3-torch), else python3 on PATH.
import { spawnSync } from 'node:child_process';

export function findTorchPython(): { python: string } | { error: string } {
  const candidates = [process.env.STIC_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  const tried: string[] = [];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return { python };
    tried.push(`${python}: ${r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`)}`);
  }
  return { error: `PyTorch not available (${tried.join('; ')}); install python3-torch or set STIC_PYTHON` };
}
