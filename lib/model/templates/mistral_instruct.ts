// The Mistral-Instruct conversation format LLaVA-v1.6-Mistral uses: "[INST] user [/INST] answer</s>",
// a system message folded into the first user turn. The model writes its answer right after
// "[/INST]", so the generation prompt adds nothing. Example, one image:
//   "[INST] <image>\nDescribe the image. [/INST]"
// BOS is not part of the text: the tokenizer adds it.
import { ALTERNATION_CHECK, CONTENT_MACRO, systemSplit } from './content_macro.ts';

export const MISTRAL_INSTRUCT_TEMPLATE = [
  CONTENT_MACRO,
  systemSplit(''),
  ALTERNATION_CHECK,
  '{%- for message in turns -%}',
  "{%- if message.role == 'user' -%}",
  "{%- set prefix = system ~ '\\n\\n' if (loop.first and system) else '' -%}",
  "{{ '[INST] ' ~ prefix ~ content_text(message.content) ~ ' [/INST]' }}",
  // LLaVA's Mistral format puts one space between [/INST] and the answer.
  "{%- else -%}{{ ' ' ~ content_text(message.content) ~ eos_token }}",
  '{%- endif -%}',
  '{%- endfor -%}',
].join('');
