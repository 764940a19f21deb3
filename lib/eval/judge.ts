// The judge model of the judge-scored benchmarks (MM-Vet grading, LLaVA-Bench reviews, MathVista
// answer extraction): any OpenAI-compatible chat endpoint (`POST <url>/chat/completions`), given by
// URL, model name and the name of the environment variable holding the key.
//  - Retries: network errors, timeouts, HTTP 429 and 5xx are retried with exponential backoff
//    (1 s, 2 s, 4 s... at most 60 s; a Retry-After header wins), up to `maxRetries` times; any other
//    HTTP error stops at once with the server's message.
//  - Rate limit: at most `requestsPerMinute` requests start per minute (requests are sequential).
//  - Cache: every judgment is appended to a JSONL file keyed by a hash of (model, messages,
//    temperature, max tokens), fsync'ed as it is written; a re-run (or an interrupted run) asks the
//    endpoint only for judgments it does not have yet.
import { createHash } from 'node:crypto';

import { JsonlWriter } from '../util/jsonl_writer.ts';
import { readJsonLines } from './read_util.ts';

export interface JudgeOptions {
  /** Endpoint base, e.g. "https://api.openai.com/v1" (or the full .../chat/completions URL). */
  url: string;
  model: string;
  /** Name of the environment variable holding the API key; unset: no Authorization header. */
  apiKeyEnv?: string;
  maxRetries?: number;
  requestsPerMinute?: number;
  /** Per request. */
  timeoutMs?: number;
  /** The judgment cache (JSONL). */
  cacheFile: string;
  /** First backoff delay (tests shorten it). */
  retryBaseMs?: number;
  log?: (text: string) => void;
}

export const JUDGE_DEFAULTS = { maxRetries: 5, requestsPerMinute: 60, timeoutMs: 120_000, retryBaseMs: 1000, apiKeyEnv: 'OPENAI_API_KEY' };

export interface JudgeRequest {
  system?: string;
  user: string;
  temperature: number;
  maxTokens: number;
}

interface CachedJudgment {
  key: string;
  model: string;
  content: string;
}

export class JudgeClient {
  /** Requests sent to the endpoint by this client (not counting cache hits). */
  requests = 0;
  cacheHits = 0;
  private lastStart = 0;

  private constructor(
    private readonly o: Required<Omit<JudgeOptions, 'log' | 'apiKeyEnv'>> & Pick<JudgeOptions, 'log' | 'apiKeyEnv'>,
    private readonly key: string | null,
    private readonly cache: Map<string, string>,
    private readonly writer: JsonlWriter,
  ) {}

  static async open(options: JudgeOptions): Promise<JudgeClient> {
    const o = { ...JUDGE_DEFAULTS, ...options };
    let key: string | null = null;
    if (options.apiKeyEnv !== undefined) {
      key = process.env[options.apiKeyEnv] ?? null;
      if (key === null || key === '') throw new Error(`judge: the environment variable ${options.apiKeyEnv} (named by --judge-key-env) is not set; set it to the API key of ${o.url}`);
    }
    const writer = await JsonlWriter.open(o.cacheFile, { idField: 'key' });
    const cache = new Map<string, string>();
    for (const { value } of await readJsonLines(o.cacheFile)) {
      const c = value as CachedJudgment;
      if (typeof c.content === 'string') cache.set(c.key, c.content);
    }
    return new JudgeClient(o, key, cache, writer);
  }

  get endpoint(): string {
    return this.o.url.replace(/\/+$/, '').endsWith('/chat/completions') ? this.o.url : `${this.o.url.replace(/\/+$/, '')}/chat/completions`;
  }

  /** The judge's reply to one request (from the cache when it was asked before). */
  async complete(req: JudgeRequest): Promise<string> {
    const messages = [...(req.system === undefined ? [] : [{ role: 'system', content: req.system }]), { role: 'user', content: req.user }];
    const body = { model: this.o.model, messages, temperature: req.temperature, max_tokens: req.maxTokens };
    const key = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      this.cacheHits++;
      return hit;
    }
    const content = await this.post(body);
    this.cache.set(key, content);
    await this.writer.append([{ key, model: this.o.model, content } satisfies CachedJudgment]);
    return content;
  }

  async close(): Promise<void> {
    await this.writer.close();
  }

  private async post(body: object): Promise<string> {
    let last = '';
    for (let attempt = 0; attempt <= this.o.maxRetries; attempt++) {
      await this.throttle();
      let retryAfterMs: number | null = null;
      try {
        const res = await fetch(this.endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(this.key === null ? {} : { authorization: `Bearer ${this.key}` }) },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(this.o.timeoutMs),
        });
        this.requests++;
        const text = await res.text();
        if (res.ok) {
          const content = replyContent(text);
          if (content !== null) return content;
          last = `expected a chat completion with choices[0].message.content but received ${text.slice(0, 200)}`;
        } else if (res.status === 429 || res.status >= 500) {
          last = `HTTP ${res.status}: ${text.slice(0, 200)}`;
          const ra = Number(res.headers.get('retry-after'));
          if (Number.isFinite(ra) && ra > 0) retryAfterMs = ra * 1000;
        } else {
          throw new JudgeError(`judge ${this.endpoint}: HTTP ${res.status} (not retried): ${text.slice(0, 300)}`);
        }
      } catch (err) {
        if (err instanceof JudgeError) throw err;
        last = (err as Error).name === 'TimeoutError' ? `no reply within ${this.o.timeoutMs} ms` : `request failed: ${(err as Error).message}`;
      }
      if (attempt < this.o.maxRetries) {
        const wait = retryAfterMs ?? Math.min(60_000, this.o.retryBaseMs * 2 ** attempt);
        this.o.log?.(`judge: ${last}; retrying in ${(wait / 1000).toFixed(1)} s (${attempt + 1}/${this.o.maxRetries})\n`);
        await sleep(wait);
      }
    }
    throw new JudgeError(`judge ${this.endpoint}: gave up after ${this.o.maxRetries + 1} attempts; last: ${last}`);
  }

  // Spaces request starts at least 60/requestsPerMinute seconds apart.
  private async throttle(): Promise<void> {
    if (this.o.requestsPerMinute <= 0) return;
    const gap = 60_000 / this.o.requestsPerMinute;
    const wait = this.lastStart + gap - Date.now();
    if (wait > 0) await sleep(wait);
    this.lastStart = Date.now();
  }
}

export class JudgeError extends Error {
  override name = 'JudgeError';
}

function replyContent(text: string): string | null {
  try {
    const v = JSON.parse(text) as { choices?: { message?: { content?: unknown } }[] };
    const c = v.choices?.[0]?.message?.content;
    return typeof c === 'string' ? c : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
