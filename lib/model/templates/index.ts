// The built-in chat templates, used when a checkpoint ships none (see chat_template.ts).
import { MISTRAL_INSTRUCT_TEMPLATE } from './mistral_instruct.ts';
import { VICUNA_V1_TEMPLATE } from './vicuna_v1.ts';

export { VICUNA_V1_SYSTEM } from './vicuna_v1.ts';

export const BUILTIN_TEMPLATES = {
  vicuna_v1: VICUNA_V1_TEMPLATE,
  mistral_instruct: MISTRAL_INSTRUCT_TEMPLATE,
} as const;

export type BuiltinTemplateName = keyof typeof BUILTIN_TEMPLATES;
