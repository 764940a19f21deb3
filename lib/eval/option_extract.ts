// Reading a chosen option out of a free-text answer, as VLMEvalKit's MMBench evaluation does before
// it would fall back to an LLM:
//  1. refusals ("Cannot determine the answer", ...) read as "Z" (no option);
//  2. option letters: replace each of . ( ) [ ] , : ; ! * # { } by a space and split on whitespace;
//     when exactly one of the question's letters appears as a word, that letter;
//     when none does but the word "Z" does, "Z";
//  3. option texts: when exactly one option's text (lower-cased) occurs inside the lower-cased
//     answer, that option;
//  4. otherwise nothing could be read (null): the answer is wrong.
// `options` maps each letter of the question ("A", "B", ...) to its text.

const REFUSALS = [
  "Sorry, I can't help with images of people yet.",
  "I can't process this file.",
  "I'm sorry, but without the image provided",
  'Cannot determine the answer',
];

const SEPARATORS = /[.()[\],:;!*#{}]/g;

/** Step 1 + 2: a letter named as a word. */
export function optionByLetter(answer: string, options: Record<string, string>): string | null {
  if (REFUSALS.some((r) => answer.includes(r))) return 'Z';
  const words = answer.replace(SEPARATORS, ' ').split(/\s+/).filter((w) => w !== '');
  const named = Object.keys(options).filter((letter) => words.includes(letter));
  if (named.length === 1) return named[0];
  if (named.length === 0 && words.includes('Z')) return 'Z';
  return null;
}

/** Step 3: an option's text quoted in the answer. */
export function optionByText(answer: string, options: Record<string, string>): string | null {
  const a = answer.toLowerCase();
  const found = Object.entries(options).filter(([, text]) => a.includes(text.toLowerCase()));
  return found.length === 1 ? found[0][0] : null;
}

/** The option letter the answer names ("Z" for a refusal), or null when none can be read. */
export function extractOption(answer: string, options: Record<string, string>): string | null {
  return optionByLetter(answer, options) ?? optionByText(answer, options);
}
