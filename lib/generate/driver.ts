// Drives one native generation (a batch of requests) to the end. Without stop strings it asks for
// every token in one native call; with them it asks for `chunkTokens` at a time, decodes the text
// of each item between chunks and stops an item at the first stop string (see stop_strings.ts).
import type { LlavaGenerationNative } from '../native/contract.ts';
import type { ResolvedSampling } from './sampling.ts';
import { cutAtStop } from './stop_strings.ts';

/** What turns ids into text (a TextTokenizer of lib/model/tokenizer.ts, wrapped to skip special tokens). */
export interface TokenDecoder {
  decode(ids: number[]): string;
}

export type FinishReason = 'eos' | 'length' | 'stop';

export interface GenerateResult {
  /**
   * The new tokens. The EOS that ended a generation is not included; with finishReason 'stop',
   * the tokens up to and including the one that completed the stop string.
   */
  ids: number[];
  /** Decoded text of ids (cut before the stop string), or null when the model has no tokenizer. */
  text: string | null;
  finishReason: FinishReason;
}

/** Tokens per native call while stop strings are being watched for. */
export const DEFAULT_STOP_CHUNK = 16;

export async function runGeneration(
  gen: LlavaGenerationNative,
  sampling: ResolvedSampling[],
  decoder: TokenDecoder | null,
  stopChunk = DEFAULT_STOP_CHUNK,
): Promise<GenerateResult[]> {
  const watching = sampling.some((s) => s.stop.length > 0);
  const chunk = watching ? stopChunk : Math.max(...sampling.map((s) => s.maxNewTokens));
  const ids: number[][] = sampling.map(() => []);
  const texts: (string | null)[] = sampling.map(() => null);
  const finish: (FinishReason | null)[] = sampling.map(() => null);
  const decode = decoder ? (x: number[]) => decoder.decode(x) : null;
  while (finish.some((f) => f === null)) {
    const step = await gen.step(chunk);
    for (let i = 0; i < sampling.length; i++) {
      if (finish[i] !== null) continue;
      const before = ids[i].length;
      for (const t of step.tokens[i]) ids[i].push(t);
      const cut = decode ? cutAtStop(ids[i], before, sampling[i].stop, decode) : null;
      if (cut) {
        ids[i].length = cut.length;
        texts[i] = cut.text;
        finish[i] = 'stop';
        if (step.finish[i] === '') gen.stop(i);
      } else if (step.finish[i] !== '') {
        finish[i] = step.finish[i] as FinishReason;
      }
    }
  }
  return sampling.map((_, i) => ({
    ids: ids[i],
    text: texts[i] ?? (decode ? decode(ids[i]) : null),
    finishReason: finish[i] as FinishReason,
  }));
}
