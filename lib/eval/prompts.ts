// The instructions appended to benchmark questions. They are the phrasings LLaVA-1.5's instruction
// data teaches (and LLaVA's evaluation scripts append), so a LLaVA model answers in the form each
// scorer reads: a short phrase, or an option letter.

export const SHORT_ANSWER = 'Answer the question using a single word or phrase.';

export const OPTION_LETTER = "Answer with the option's letter from the given choices directly.";

/**
 * Describe-and-respond (STIC.md, evaluation): the model's own description goes before the question,
 * written as stage 2b infuses one (lib/data/prompts.ts DEFAULT_PROMPTS.infusion).
 */
export const DESCRIBE_PROMPT = 'Describe the image in detail.';

/** The question with the instruction on its own line ("" = no instruction). */
export function withInstruction(question: string, instruction: string): string {
  return instruction === '' ? question : `${question}\n${instruction}`;
}

/** Question lines followed by lettered options ("A. text"), then the instruction ("" = none). */
export function multipleChoicePrompt(lines: string[], options: string[], instruction: string = OPTION_LETTER): string {
  const letters = options.map((o, i) => `${String.fromCharCode(65 + i)}. ${o}`);
  return withInstruction([...lines, ...letters].join('\n'), instruction);
}
