// A Jinja macro shared by the built-in templates: a message's content as text, whether it is a
// plain string or a list of parts ({type: 'image'} | {type: 'text', text}) as multimodal chat
// APIs send it. An image part becomes the `<image>` placeholder on its own line, where LLaVA puts it.
export const CONTENT_MACRO = [
  '{%- macro content_text(content) -%}',
  '{%- if content is string -%}{{ content }}',
  '{%- else -%}',
  '{%- for part in content -%}',
  "{%- if part.type == 'image' -%}{{ '<image>\\n' }}",
  "{%- elif part.type == 'text' -%}{{ part.text }}",
  "{%- else -%}{{ raise_exception('Expected content parts of type \"image\" or \"text\" but received \"' ~ part.type ~ '\"') }}",
  '{%- endif -%}',
  '{%- endfor -%}',
  '{%- endif -%}',
  '{%- endmacro -%}',
].join('');

/**
 * Checks that the turns after an optional system message alternate user, assistant, user, ...
 * (both built-in formats can only express that), using the `turns` variable set by the template.
 */
export const ALTERNATION_CHECK = [
  '{%- for message in turns -%}',
  "{%- if (message.role == 'user') != (loop.index0 % 2 == 0) -%}",
  "{{ raise_exception('Expected the conversation to alternate user/assistant turns (after an optional system message) but turn ' ~ loop.index0 ~ ' is \"' ~ message.role ~ '\"') }}",
  '{%- endif -%}',
  '{%- endfor -%}',
].join('');

/** Sets `system` (its content, or `fallback`) and `turns` (the messages after it). */
export function systemSplit(fallback: string): string {
  return [
    "{%- if messages | length > 0 and messages[0].role == 'system' -%}",
    '{%- set system = content_text(messages[0].content) -%}',
    '{%- set turns = messages[1:] -%}',
    '{%- else -%}',
    `{%- set system = ${JSON.stringify(fallback)} -%}`,
    '{%- set turns = messages -%}',
    '{%- endif -%}',
  ].join('');
}
