// The model card (README.md) `stic export` writes beside the merged weights, in place of the base
// folder's own card (which describes another model): the Hugging Face front matter (base_model,
// library, pipeline, tags), what differs from the base, how to load it, and the run's summary when
// the adapter folder has one. Nothing in it is an absolute local path.
import type { LoraSpec } from './adapter_io.ts';
import { targetModule } from './adapter_io.ts';

export interface CardFacts {
  /** The base model's hub id, or its folder's name (lib/model/model_name.ts). */
  baseModel: string;
  /** config.json's architecture, e.g. LlavaForConditionalGeneration. */
  architecture: string;
  /** The adapter folder's name and what it holds. */
  adapter: { name: string; spec: LoraSpec; projector: boolean };
  /** Floating-point dtypes of the written tensors, e.g. ["BF16"] (integer tensors aside). */
  dtypes: string[];
  /** The adapter folder's summary.txt, when there is one. */
  summary: string | null;
  version: string;
}

/** README.md of a merged export. */
export function exportCard(f: CardFacts): string {
  const s = f.adapter.spec;
  const targets = s.targets.map(targetModule).join(', ');
  const lines = [
    '---',
    `base_model: ${f.baseModel}`,
    'library_name: transformers',
    'pipeline_tag: image-text-to-text',
    'tags:',
    '- llava',
    '- stic',
    '- dpo',
    '- merged-lora',
    '---',
    '',
    `# ${f.baseModel}, self-trained with STIC`,
    '',
    `${f.baseModel} after STIC (Self-Training on Image Comprehension, arXiv 2405.19716), trained with stic ${f.version} and merged`,
    `from the adapter \`${f.adapter.name}\` by \`stic export\`: an ordinary checkpoint in the base's own layout and tensor names,`,
    'loadable without PEFT.',
    '',
    '## What differs from the base',
    '',
    `- Every LoRA-targeted linear of the language model (${targets}; r ${s.r}, alpha ${s.alpha}) is W + (alpha / r) B A,`,
    '  computed in float32 and rounded once to the output dtype.',
    f.adapter.projector ? '- The multimodal projector is the one trained with the adapter (STIC stage 1, PEFT `modules_to_save`).' : '- The multimodal projector is the base\'s.',
    '- Every other tensor (vision tower, embeddings, norms, head) is the base\'s (rounded to the output dtype where that differs).',
    `- Floating-point tensors are ${f.dtypes.join(', ')}.`,
    '',
    '## Loading',
    '',
    ...loading(f.architecture),
  ];
  if (f.summary !== null) lines.push('', '## Training run', '', 'The adapter\'s `summary.txt`:', '', '```', f.summary.trimEnd(), '```');
  return `${lines.join('\n')}\n`;
}

// transformers classes load the folder directly; the original LLaVA layout loads with its own code.
function loading(architecture: string): string[] {
  if (!/^Llava\w*ForConditionalGeneration$/.test(architecture)) {
    return [`The layout is the base's (architecture \`${architecture}\`): load this folder as you load the base model.`];
  }
  return [
    '```python',
    `from transformers import AutoProcessor, ${architecture}`,
    '',
    `model = ${architecture}.from_pretrained("path/to/this/folder")`,
    'processor = AutoProcessor.from_pretrained("path/to/this/folder")',
    '```',
  ];
}
