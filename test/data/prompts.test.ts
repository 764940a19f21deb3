// Prompts: the defaults have the shape the method needs, and --prompts overrides are validated
// with exact messages naming the file and the key.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { DEFAULT_PROMPTS, formatInfusion, loadPrompts } from '../../lib/data/prompts.ts';
import { rejectionOf } from '../helpers/rejection.ts';

describe('prompts', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-prompts-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults: a six-step detailed prompt, 8 distinct plain and 8 distinct hallucination prompts, the infusion format', () => {
    const steps = DEFAULT_PROMPTS.detailed.split('\n').filter((l) => /^\d\. /.test(l));
    expect(steps.map((l) => l[0])).to.deep.equal(['1', '2', '3', '4', '5', '6']);
    expect(new Set(DEFAULT_PROMPTS.plain).size).to.equal(8);
    expect(new Set(DEFAULT_PROMPTS.hallucination).size).to.equal(8);
    for (const p of [...DEFAULT_PROMPTS.plain, ...DEFAULT_PROMPTS.hallucination, DEFAULT_PROMPTS.detailed]) expect(p).to.not.contain('<image>');
    expect(formatInfusion(DEFAULT_PROMPTS.infusion, 'A cat on a mat.')).to.equal('Image description:\nA cat on a mat.\n\n');
    // "$&" in a description is text, not a replacement pattern
    expect(formatInfusion(DEFAULT_PROMPTS.infusion, 'costs $& more')).to.equal('Image description:\ncosts $& more\n\n');
  });

  it('no file: the defaults; a file: its keys replace the defaults, the others stay', async () => {
    expect(await loadPrompts()).to.equal(DEFAULT_PROMPTS);
    const p = await loadPrompts(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'stic', 'prompts-override.json'));
    expect(p.plain).to.deep.equal(['Describe the picture.', 'What is in this image?']);
    expect(p.infusion).to.equal('Caption:\n{description}\n\n');
    expect(p.detailed).to.equal(DEFAULT_PROMPTS.detailed);
    expect(p.hallucination).to.equal(DEFAULT_PROMPTS.hallucination);
  });

  const cases: [string, string, string][] = [
    ['unknown key', '{"halucination": ["x"]}', 'unknown key "halucination" (known keys: detailed, plain, hallucination, infusion)'],
    ['not an object', '["a"]', 'expected a JSON object with any of the keys detailed, plain, hallucination, infusion but received an array'],
    ['detailed not a string', '{"detailed": 42}', 'expected a non-empty string for "detailed" but received 42'],
    ['plain empty', '{"plain": []}', 'expected a non-empty list of strings for "plain" but received []'],
    ['plain element', '{"plain": ["ok", 5]}', 'expected a non-empty string for "plain[1]" but received 5'],
    ['blank hallucination prompt', '{"hallucination": ["  "]}', 'expected a non-empty string for "hallucination[0]" but received "  "'],
    ['image token in a prompt', '{"plain": ["<image>\\nDescribe."]}', '"plain[0]" must not contain "<image>" (the pipeline puts the image token in front of the prompt)'],
    ['infusion without the marker', '{"infusion": "Description: "}', 'expected a string containing "{description}" exactly once for "infusion" but received "Description: "'],
    ['infusion with two markers', '{"infusion": "{description} {description}"}', 'expected a string containing "{description}" exactly once for "infusion" but received "{description} {description}"'],
  ];
  for (const [name, text, message] of cases) {
    it(`refuses: ${name}`, async () => {
      const file = path.join(dir, `${name.replace(/\W+/g, '-')}.json`);
      writeFileSync(file, text);
      expect((await rejectionOf(loadPrompts(file))).message).to.equal(`${file}: ${message}`);
    });
  }

  it('refuses a missing file and malformed JSON', async () => {
    const missing = path.join(dir, 'nope.json');
    expect((await rejectionOf(loadPrompts(missing))).message).to.equal(`${missing}: cannot read the prompts file (file not found)`);
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{"plain": [');
    expect((await rejectionOf(loadPrompts(bad))).message).to.match(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: malformed JSON \\(.+\\)$`));
  });
});
