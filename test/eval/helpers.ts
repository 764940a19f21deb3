// Shared by the eval tests: random images written by the test, small files, a local judge server.
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import sharp from 'sharp';

import { makeRng } from '../helpers/rng.ts';

/** A random 16x12 RGB image, PNG or JPEG, written to `file` (folders created). */
export async function writeImage(file: string, seed: number, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const rng = makeRng(seed);
  const raw = Buffer.from(Array.from({ length: 16 * 12 * 3 }, () => rng.int(0, 256)));
  const img = sharp(raw, { raw: { width: 16, height: 12, channels: 3 } });
  const bytes = await (format === 'png' ? img.png() : img.jpeg()).toBuffer();
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  return bytes;
}

export function writeText(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

export const jsonl = (rows: object[]): string => rows.map((r) => `${JSON.stringify(r)}\n`).join('');

/** A message-capturing assertion helper: the error a promise rejects with. */
export { rejectionOf as rejection } from '../helpers/rejection.ts';

export interface JudgeServer {
  url: string;
  /** Every request body received, in order. */
  requests: { body: Record<string, unknown>; auth: string | undefined }[];
  close(): Promise<void>;
}

/** Replies of a scripted server: an HTTP status and a body (a string, or the content of a chat completion). */
export type Reply = { status: number; body?: string; content?: string; headers?: Record<string, string> };

/**
 * An OpenAI-compatible chat endpoint on 127.0.0.1: POST /v1/chat/completions answers with
 * `respond(body)` (a scripted reply per request).
 */
export async function startJudgeServer(respond: (body: Record<string, unknown>, n: number) => Reply): Promise<JudgeServer> {
  const requests: JudgeServer['requests'] = [];
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404).end('not found');
        return;
      }
      const body = JSON.parse(data) as Record<string, unknown>;
      requests.push({ body, auth: req.headers.authorization });
      const r = respond(body, requests.length);
      const text = r.body ?? JSON.stringify({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: r.content ?? '' }, finish_reason: 'stop' }] });
      res.writeHead(r.status, { 'content-type': 'application/json', ...(r.headers ?? {}) }).end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The last user message of a chat request. */
export function userText(body: Record<string, unknown>): string {
  const messages = body.messages as { role: string; content: string }[];
  return messages[messages.length - 1].content;
}
