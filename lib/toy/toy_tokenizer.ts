// The tokenizer of the built-in toy model: what it is trained on and how it is built. Its corpus is
// the text the model will actually see, rendered with the Vicuna v1 chat template that
// tokenizer_config.json carries: toy questions, answers and captions behind "<image>\n" (the
// whole-word texts), plus the STIC pipeline's own prompts and an infused instruction (encodable
// whatever they say, thanks to byte fallback; trained on so they cost fewer positions).
import { renderChat } from '../model/chat_template.ts';
import { BUILTIN_TEMPLATES } from '../model/templates/index.ts';
import { DEFAULT_PROMPTS, formatInfusion } from '../data/prompts.ts';
import { userTurn } from '../data/records/preference.ts';
import { DESCRIBE_PROMPTS, captions, questions } from './text.ts';
import { type ToyTokenizer, buildToyTokenizer } from './tokenizer_builder.ts';
import { BACKGROUND_NAMES, COLOUR_NAMES, KIND_PLURALS, NUMBER_WORDS, POSITIONS, SHAPE_KINDS, SIZES } from './vocab.ts';
import { generateScenes } from './world.ts';

/** The template every toy conversation is rendered with (and that the tokenizer ships). */
export const TOY_CHAT_TEMPLATE = BUILTIN_TEMPLATES.vicuna_v1;
const TEMPLATE = { name: 'vicuna_v1', source: TOY_CHAT_TEMPLATE };

export interface ToyCorpusOptions {
  /** World seed of the scenes the corpus is drawn from. Default 0. */
  seed?: number;
  /** Scenes in the corpus. Default 200. */
  scenes?: number;
}

export interface ToyCorpus {
  /** Toy conversations and the vocabulary itself: every word of these becomes one token. */
  wholeWordTexts: string[];
  /** The pipeline prompts as the model receives them. */
  promptTexts: string[];
}

/** One user turn with the image and, when given, the assistant's answer, as the template renders it. */
export function toyChatText(question: string, answer?: string): string {
  const messages = [userTurn(question)];
  if (answer === undefined) return renderChat(messages, { template: TEMPLATE, addGenerationPrompt: true });
  return renderChat([...messages, { role: 'assistant', content: answer }], { template: TEMPLATE, eosToken: '</s>' });
}

export function toyTokenizerCorpus(opts: ToyCorpusOptions = {}): ToyCorpus {
  const scenes = generateScenes(opts.seed ?? 0, opts.scenes ?? 200);
  const wholeWordTexts: string[] = [
    [...NUMBER_WORDS, ...SHAPE_KINDS, ...Object.values(KIND_PLURALS), ...COLOUR_NAMES, ...BACKGROUND_NAMES, ...SIZES, ...POSITIONS, 'yes', 'no'].join(' '),
  ];
  for (const scene of scenes) {
    for (const qa of questions(scene)) {
      if (qa.type !== 'describe') wholeWordTexts.push(toyChatText(qa.question, qa.answer));
      // Also alone: later turns of a conversation have no image, so their first word gets a "▁".
      wholeWordTexts.push(qa.question);
    }
    captions(scene).forEach((c, v) => wholeWordTexts.push(toyChatText(DESCRIBE_PROMPTS[v % DESCRIBE_PROMPTS.length], c)));
  }
  const sticPrompts = [DEFAULT_PROMPTS.detailed, ...DEFAULT_PROMPTS.plain, ...DEFAULT_PROMPTS.hallucination];
  const promptTexts = sticPrompts.map((p) => toyChatText(p));
  const infused = questions(scenes[0]).find((q) => q.type === 'count');
  if (infused) promptTexts.push(toyChatText(formatInfusion(DEFAULT_PROMPTS.infusion, captions(scenes[0])[0]) + infused.question, infused.answer));
  return { wholeWordTexts, promptTexts };
}

/** The built-in toy model's tokenizer. */
export function buildToyModelTokenizer(opts: ToyCorpusOptions & { targetVocabSize?: number } = {}): ToyTokenizer {
  const corpus = toyTokenizerCorpus(opts);
  return buildToyTokenizer({
    corpus: corpus.promptTexts,
    wholeWordTexts: corpus.wholeWordTexts,
    targetVocabSize: opts.targetVocabSize,
    chatTemplate: TOY_CHAT_TEMPLATE,
  });
}
