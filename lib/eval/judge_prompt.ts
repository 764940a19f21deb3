// Judge prompts live in files the user can replace (`--judge-prompt FILE`): a JSON object with
// "system" (a string, or null for none), "template" (the user message, with {placeholders}) and, for
// LLaVA-Bench, "rules" (one instruction per question category). The defaults in judge_prompts/ are
// our own wording; swapping in a benchmark's official prompt reproduces its published numbers.
import path from 'node:path';

import { packageRoot } from '../native/loader.ts';
import { Fields, kindOf, readJsonObject } from './read_util.ts';
import { BenchFileError } from './types.ts';

export interface JudgePrompt {
  file: string;
  system: string | undefined;
  template: string;
  rules: Record<string, string>;
}

export function defaultJudgePromptFile(bench: 'mmvet' | 'llava_bench' | 'mathvista'): string {
  // From the package root: the compiled JavaScript (dist/) runs with the prompts of lib/eval/.
  return path.join(packageRoot, 'lib', 'eval', 'judge_prompts', `${bench}.json`);
}

/** Reads and checks a prompt file: `placeholders` must all occur in the template, `rules` (when given) must be present. */
export async function loadJudgePrompt(file: string, placeholders: string[], rules: string[] = []): Promise<JudgePrompt> {
  const o = await readJsonObject(file, 'prompt parts ("system", "template", "rules")');
  const f = new Fields(file, 'prompt', o);
  const template = f.string('template');
  for (const p of placeholders) {
    if (!template.includes(`{${p}}`)) throw new BenchFileError(file, 'template', `expected the placeholder {${p}} in the template (placeholders: ${placeholders.map((x) => `{${x}}`).join(', ')})`);
  }
  const system = f.optionalString('system') ?? undefined;
  const out: Record<string, string> = {};
  if (rules.length > 0) {
    const r = o.rules;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new BenchFileError(file, 'rules', `expected an object with one rule per category (${rules.join(', ')}) but received ${kindOf(r)}`);
    for (const k of rules) {
      const v = (r as Record<string, unknown>)[k];
      if (typeof v !== 'string') throw new BenchFileError(file, `rules.${k}`, `expected a string rule for category "${k}" but received ${kindOf(v)}`);
      out[k] = v;
    }
  }
  return { file, system, template, rules: out };
}

/** The template with each {name} of `values` replaced (other braces are left alone). */
export function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{([a-z_]+)\}/g, (m, name: string) => (name in values ? values[name] : m));
}
