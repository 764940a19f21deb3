// LLaVA-1.5's conversation format (Vicuna v1): a system line, then "USER: ... ASSISTANT: ...</s>"
// turns, the generation prompt being "ASSISTANT:". Written as a Jinja template so that built-in and
// checkpoint templates go through one renderer. Example, one image and a generation prompt:
//   "<system> USER: <image>\nDescribe the image. ASSISTANT:"
// BOS is not part of the text: the tokenizer adds it.
import { ALTERNATION_CHECK, CONTENT_MACRO, systemSplit } from './content_macro.ts';

/** The system line LLaVA-1.5 was trained with (the original repository's conv_vicuna_v1). */
export const VICUNA_V1_SYSTEM =
  "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";

export const VICUNA_V1_TEMPLATE = [
  CONTENT_MACRO,
  systemSplit(VICUNA_V1_SYSTEM),
  ALTERNATION_CHECK,
  "{%- if system -%}{{ system ~ ' ' }}{%- endif -%}",
  '{%- for message in turns -%}',
  "{%- if message.role == 'user' -%}{{ 'USER: ' ~ content_text(message.content) ~ ' ' }}",
  "{%- else -%}{{ 'ASSISTANT: ' ~ content_text(message.content) ~ eos_token }}",
  '{%- endif -%}',
  '{%- endfor -%}',
  "{%- if add_generation_prompt -%}{{ 'ASSISTANT:' }}{%- endif -%}",
].join('');
