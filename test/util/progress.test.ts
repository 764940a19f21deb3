// Progress bars: the line format (rate and ETA from this run's items only), and clean line-based
// output with ASCII bars on a stream that is not a terminal.
import { expect } from 'chai';
import { Writable } from 'node:stream';

import { formatDuration, formatProgressLine, startProgress } from '../../lib/util/progress.ts';

class Capture extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('progress', () => {
  it('formats rate and ETA from the items done in this run', () => {
    const line = formatProgressLine({ label: 'pref', unit: 'images', value: 30, total: 40, startValue: 10, elapsedMs: 8000, bar: '##################------' });
    // 20 items in 8 s = 2.5/s; 10 left -> 4 s
    expect(line).to.equal('pref |##################------| 30/40 75% | 2.50 images/s | ETA 4s');
    const start = formatProgressLine({ label: 'dpo', unit: 'steps', value: 5, total: 750, startValue: 5, elapsedMs: 100, bar: '' });
    expect(start).to.equal('dpo || 5/750 0% | -- steps/s | ETA --');
    const slow = formatProgressLine({ label: 'sft', unit: 'steps', value: 3, total: 1000, startValue: 0, elapsedMs: 60000, bar: '' });
    expect(slow).to.equal('sft || 3/1000 0% | 0.050 steps/s | ETA 5h32m');
  });

  it('formats durations', () => {
    expect([0, 42, 185, 7620].map(formatDuration)).to.deep.equal(['0s', '42s', '3m05s', '2h07m']);
  });

  it('writes plain lines with an ASCII bar when the stream is not a TTY', async () => {
    const out = new Capture();
    const bar = startProgress('pref', 10, 2, { stream: out, unit: 'images', notTTYScheduleMs: 10 });
    for (let i = 0; i < 8; i++) {
      bar.tick();
      await new Promise((r) => setTimeout(r, 4));
    }
    await new Promise((r) => setTimeout(r, 25));
    bar.stop();
    bar.stop(); // twice is harmless
    const lines = out.text.split('\n').filter((l) => l.length > 0);
    expect(lines.length).to.be.at.least(2);
    expect(out.text).to.not.match(/\u001b/); // no escape codes
    for (const l of lines) expect(l).to.match(/^pref \|[#-]{24}\| \d+\/10 \d+% \| (--|[\d.]+) images\/s \| ETA \S+$/);
    expect(lines[lines.length - 1]).to.match(/^pref \|#{24}\| 10\/10 100% \| [\d.]+ images\/s \| ETA 0s$/);
  });
});
