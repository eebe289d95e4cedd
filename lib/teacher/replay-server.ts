import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { z } from 'zod';
import { ZsdError } from '../core/errors';
import { readJsonLines } from '../core/jsonl';
import { STUDY_MODEL } from './recorded-responses';
import { countChatTokens, countTextTokens, type ChatMessage } from './tokens';

/**
 * The recorded study behind an OpenAI-compatible server on 127.0.0.1, so that `zsd demo`, `zsd replay-server` and
 * the notebooks run the teacher side offline, with no key and no cost (node:http, no framework).
 *
 * What it answers (JSON bodies in the shapes the official `openai` SDK v6 parses):
 * - POST /v1/chat/completions, POST /v1/completions: the recorded response for the prompt key, with usage counted
 *   by `tokens.ts` (prompt_tokens = countChatTokens(messages), or countTextTokens(prompt) for /v1/completions;
 *   completion_tokens = countTextTokens(answer)). `max_tokens`, `temperature` and the like are accepted and
 *   ignored: a recording is replayed whole. `n` repeats the answer; `stream: true` is refused (400).
 *   An unknown prompt is a 404 `no_recording` error (or what `answerUnrecorded` makes of it).
 * - GET /v1/models, GET /v1/models/:id.
 * Anything else is a 404 with an OpenAI-style error body; a body that is not JSON is a 400.
 *
 * The prompt key is the study's `complete_prompt`: for chat, the content of the system message(s) ('' if none;
 * a 'developer' message counts as system) + "\n" + the content of the user message(s) joined by "\n"
 * (assistant turns are not part of the key); for /v1/completions, the prompt string itself. Every
 * `<root>/query-results/**\/responses.json` of the `replay` roots is indexed, complete_prompt -> response; the
 * first line wins, files in sorted path order, earlier roots first. A torn last line (an interrupted append) is
 * dropped, as the response store drops it; lines without a string complete_prompt and response are skipped.
 *
 * Stats: `requests` counts every request under /v1; `completions` the answers delivered; `misses` the prompts
 * without a recording (answered 404 or by `answerUnrecorded`); `byPrompt` the answers delivered per prompt key.
 *
 * The test double (lib/test-support/fake-openai) is built on the parts exported here: the responder (what to
 * answer) and `serveReplay`'s `intercept` hook (faults, latency, the Files and Batch APIs, run before the routes).
 */

export interface ReplayResponderOptions {
  /** Workspace roots whose query-results/**\/responses.json are replayed, earlier roots first. */
  replay?: readonly string[];
  /** Model name reported when a request names none (default: the study's model). */
  model?: string;
  /** Answers consulted before the recordings; undefined: not covered, look in the recordings. */
  answerFirst?: (prompt: string, request: CompletionRequest) => string | undefined;
  /** The answer for a prompt nothing is recorded for (still counted as a miss); default: a 404 no_recording error. */
  answerUnrecorded?: (prompt: string) => string;
}

export interface ReplayServerOptions extends ReplayResponderOptions {
  /** 0 (default): any free port. */
  port?: number;
}

export interface ReplayStats {
  requests: number;
  completions: number;
  misses: number;
  /** Answers delivered per distinct prompt key (the complete_prompt string). */
  byPrompt: Record<string, number>;
}

export interface ReplayServer {
  /** Base URL for the SDK, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  port: number;
  stats(): ReplayStats;
  resetStats(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Request schemas (the edge: validated here, trusted inside)

const contentPartSchema = z.looseObject({ type: z.string(), text: z.string().optional() });
const messageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(contentPartSchema), z.null()]).optional(),
});
const chatRequestSchema = z.looseObject({
  model: z.string().optional(),
  messages: z.array(messageSchema).min(1),
  n: z.number().int().min(1).max(128).optional(),
  stream: z.boolean().optional(),
});
const textRequestSchema = z.looseObject({
  model: z.string().optional(),
  prompt: z.union([z.string(), z.array(z.string()).length(1)]),
  n: z.number().int().min(1).max(128).optional(),
  stream: z.boolean().optional(),
});

export type CompletionEndpoint = 'chat' | 'text';
/** A validated completion request, with the endpoint it was sent to. */
export type CompletionRequest = ({ endpoint: 'chat' } & z.infer<typeof chatRequestSchema>) | ({ endpoint: 'text' } & z.infer<typeof textRequestSchema>);

/** An answer to send as an HTTP error, in OpenAI's error shape. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string | null,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function invalidRequest(message: string, param: string | null = null, code: string | null = null): HttpError {
  return new HttpError(400, 'invalid_request_error', code, message, param);
}

/** A request body checked against a schema, or a 400 naming the first wrong parameter. */
export function validateBody<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = issue.path.map(String).join('.') || null;
  throw invalidRequest(`${param ? `'${param}': ` : ''}${issue.message}`, param);
}

export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(
      400,
      'invalid_request_error',
      'invalid_json',
      `We could not parse the JSON body of your request (${(error as Error).message}). The server expects a JSON body.`,
    );
  }
}

function messageText(content: z.infer<typeof messageSchema>['content']): string {
  if (typeof content === 'string') return content;
  if (!content) return '';
  return content.map((part) => (part.type === 'text' ? (part.text ?? '') : '')).join('');
}

/** The study's complete_prompt: system message(s) + "\n" + user message(s) joined by "\n". */
function chatPromptKey(messages: readonly ChatMessage[]): string {
  const system = messages.filter((message) => message.role === 'system').map((message) => message.content);
  const user = messages.filter((message) => message.role === 'user').map((message) => message.content);
  return `${system.join('\n')}\n${user.join('\n')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Recordings

interface Recordings {
  responses: Map<string, string>;
  models: Set<string>;
}

function indexRecordings(roots: readonly string[]): Recordings {
  const responses = new Map<string, string>();
  const models = new Set<string>();
  for (const root of roots) {
    if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
      throw new ZsdError('not-found', `replay root ${path.resolve(root)} is not a directory; expected a workspace with query-results/`);
    }
    for (const file of findResponseFiles(path.join(root, 'query-results'))) {
      // A torn tail is left out: the write was interrupted, the response never used.
      for (const { value } of readJsonLines(file).lines) {
        if (typeof value !== 'object' || value === null) continue;
        const record = value as Record<string, unknown>;
        if (typeof record.complete_prompt !== 'string' || typeof record.response !== 'string') continue;
        if (typeof record.model === 'string') models.add(record.model);
        if (!responses.has(record.complete_prompt)) responses.set(record.complete_prompt, record.response);
      }
    }
  }
  return { responses, models };
}

function findResponseFiles(directory: string): string[] {
  if (!fs.existsSync(directory)) return [];
  const found: string[] = [];
  const entries = fs.readdirSync(directory, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = path.join(directory, entry.name);
    const isDirectory = entry.isDirectory() || (entry.isSymbolicLink() && fs.statSync(full).isDirectory());
    if (isDirectory) found.push(...findResponseFiles(full));
    else if (entry.name === 'responses.json') found.push(full);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------------------------
// The responder: what to answer, without HTTP

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** The outcome of one completion request: an answer body, or an error to send. */
export type Completion = { kind: 'answer'; key: string; body: Record<string, unknown> & { usage: Usage } } | { kind: 'error'; error: HttpError };

export interface ReplayResponder {
  /** The model reported when a request names none. */
  readonly defaultModel: string;
  /** The models GET /v1/models lists. */
  readonly models: readonly string[];
  /** A completion request body, validated (a 400 HttpError otherwise; streaming is refused). */
  parseRequest(endpoint: CompletionEndpoint, json: unknown): CompletionRequest;
  /** The answer to a request. With `countMiss` false an unrecorded prompt is not counted (a request not answered). */
  answer(request: CompletionRequest, countMiss?: boolean): Completion;
  /** Counts an answer as delivered. */
  recordAnswered(key: string): void;
  countRequest(): void;
  /** A fresh id with a prefix, e.g. nextId('chatcmpl-replay'). */
  nextId(prefix: string): string;
  stats(): ReplayStats;
  resetStats(): void;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function emptyStats(): ReplayStats {
  return { requests: 0, completions: 0, misses: 0, byPrompt: {} };
}

export function createReplayResponder(options: ReplayResponderOptions = {}): ReplayResponder {
  const recordings = indexRecordings(options.replay ?? []);
  const defaultModel = options.model ?? STUDY_MODEL;
  // Build the tokenizer behind the usage figures now (0.2-0.3 s), not on the first request.
  countTextTokens('', defaultModel);
  let stats = emptyStats();
  let sequence = 0;
  const nextId = (prefix: string): string => `${prefix}${(++sequence).toString(36).padStart(8, '0')}`;

  function lookup(key: string, request: CompletionRequest, countMiss: boolean): string | HttpError {
    const first = options.answerFirst?.(key, request);
    if (first !== undefined) return first;
    const recorded = recordings.responses.get(key);
    if (recorded !== undefined) return recorded;
    if (countMiss) stats.misses++;
    if (options.answerUnrecorded) return options.answerUnrecorded(key);
    return new HttpError(
      404,
      'invalid_request_error',
      'no_recording',
      `no recorded response for this prompt (${key.length} characters); the replay server answers recorded prompts only`,
    );
  }

  function answer(request: CompletionRequest, countMiss = true): Completion {
    const model = request.model ?? defaultModel;
    const n = request.n ?? 1;
    if (request.endpoint === 'chat') {
      const messages: ChatMessage[] = request.messages.map((message) => ({
        role: message.role === 'developer' ? 'system' : message.role,
        content: messageText(message.content),
      }));
      const key = chatPromptKey(messages);
      const text = lookup(key, request, countMiss);
      if (text instanceof HttpError) return { kind: 'error', error: text };
      const usage = usageOf(countChatTokens(messages, model), n * countTextTokens(text, model));
      const choices = Array.from({ length: n }, (_, index) => ({
        index,
        message: { role: 'assistant', content: text, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      }));
      return {
        kind: 'answer',
        key,
        body: { id: nextId('chatcmpl-replay'), object: 'chat.completion', created: nowSeconds(), model, choices, usage, system_fingerprint: 'fp_zsd_replay' },
      };
    }
    const key = typeof request.prompt === 'string' ? request.prompt : request.prompt[0];
    const text = lookup(key, request, countMiss);
    if (text instanceof HttpError) return { kind: 'error', error: text };
    const usage = usageOf(countTextTokens(key, model), n * countTextTokens(text, model));
    const choices = Array.from({ length: n }, (_, index) => ({ text, index, logprobs: null, finish_reason: 'stop' }));
    return { kind: 'answer', key, body: { id: nextId('cmpl-replay'), object: 'text_completion', created: nowSeconds(), model, choices, usage } };
  }

  return {
    defaultModel,
    models: [...new Set([defaultModel, STUDY_MODEL, ...recordings.models])],
    parseRequest(endpoint, json) {
      const request: CompletionRequest =
        endpoint === 'chat' ? { ...validateBody(chatRequestSchema, json), endpoint } : { ...validateBody(textRequestSchema, json), endpoint };
      if (request.stream === true) throw invalidRequest('streaming is not supported by the replay server', 'stream');
      return request;
    },
    answer,
    recordAnswered(key) {
      stats.completions++;
      stats.byPrompt[key] = (stats.byPrompt[key] ?? 0) + 1;
    },
    countRequest() {
      stats.requests++;
    },
    nextId,
    stats: () => ({ requests: stats.requests, completions: stats.completions, misses: stats.misses, byPrompt: { ...stats.byPrompt } }),
    resetStats() {
      stats = emptyStats();
    },
  };
}

function usageOf(promptTokens: number, completionTokens: number): Usage {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

/** One request as the routes see it: the body read whole, the path split into segments. */
export interface Exchange {
  request: http.IncomingMessage;
  response: http.ServerResponse;
  method: string;
  pathname: string;
  segments: readonly string[];
  body: Buffer;
  /** Whether the segments are exactly the pattern ('*' matches any one segment). */
  at(...pattern: string[]): boolean;
  sendJson(status: number, body: unknown, headers?: Record<string, string>): void;
  sendBytes(status: number, data: Buffer, headers: Record<string, string>): void;
}

/** Runs before the replay routes; returns true when it answered the request. */
export type Intercept = (exchange: Exchange) => Promise<boolean>;

const MAX_BODY_BYTES = 256 * 1024 * 1024;

/** Serves a responder on 127.0.0.1; `intercept` sees each request first (the test double's faults and extra APIs). */
export async function serveReplay(
  responder: ReplayResponder,
  options: { port?: number; intercept?: Intercept } = {},
): Promise<Omit<ReplayServer, 'stats' | 'resetStats'>> {
  function sendBytes(response: http.ServerResponse, status: number, data: Buffer, headers: Record<string, string>): void {
    if (response.destroyed || response.writableEnded) return;
    response.writeHead(status, { ...headers, 'content-length': String(data.length), 'x-request-id': responder.nextId('req_replay') });
    response.end(data);
  }
  const sendJson = (response: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void =>
    sendBytes(response, status, Buffer.from(JSON.stringify(body), 'utf8'), { 'content-type': 'application/json', ...headers });

  async function route(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const pathname = new URL(request.url ?? '/', 'http://127.0.0.1').pathname.replace(/\/+$/, '') || '/';
    const segments = pathname.split('/').filter((segment) => segment !== '');
    if (segments[0] === 'v1') responder.countRequest();
    const exchange: Exchange = {
      request,
      response,
      method,
      pathname,
      segments,
      body: await readBody(request),
      at: (...pattern) => segments.length === pattern.length && pattern.every((part, index) => part === '*' || part === segments[index]),
      sendJson: (status, body, headers) => sendJson(response, status, body, headers),
      sendBytes: (status, data, headers) => sendBytes(response, status, data, headers),
    };
    if (options.intercept && (await options.intercept(exchange))) return;
    const { at } = exchange;
    const completionEndpoint: CompletionEndpoint | undefined =
      method !== 'POST' ? undefined : at('v1', 'chat', 'completions') ? 'chat' : at('v1', 'completions') ? 'text' : undefined;
    if (completionEndpoint) {
      const completion = responder.answer(responder.parseRequest(completionEndpoint, parseJsonBody(exchange.body)));
      if (completion.kind === 'error') return sendJson(response, completion.error.status, completion.error.body());
      // A client that gave up meanwhile gets nothing, and nothing is counted as delivered.
      if (request.socket.destroyed) return;
      responder.recordAnswered(completion.key);
      return sendJson(response, 200, completion.body);
    }
    if (method === 'GET' && at('v1', 'models')) return sendJson(response, 200, { object: 'list', data: responder.models.map(modelObject) });
    if (method === 'GET' && at('v1', 'models', '*')) {
      const id = decodeURIComponent(segments[2]);
      if (!responder.models.includes(id)) throw new HttpError(404, 'invalid_request_error', 'model_not_found', `The model '${id}' does not exist`, 'model');
      return sendJson(response, 200, modelObject(id));
    }
    throw new HttpError(404, 'invalid_request_error', 'unknown_url', `Invalid URL (${method} ${pathname})`);
  }

  const server = http.createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      if (error instanceof HttpError) return sendJson(response, error.status, error.body());
      sendJson(response, 500, new HttpError(500, 'server_error', 'replay_server_bug', `replay server failed: ${(error as Error).message}`).body());
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

/** The recorded study (or any workspaces' recordings) on a loopback OpenAI-compatible server. */
export async function startReplayServer(options: ReplayServerOptions = {}): Promise<ReplayServer> {
  const responder = createReplayResponder(options);
  const served = await serveReplay(responder, { port: options.port });
  return { ...served, stats: responder.stats, resetStats: responder.resetStats };
}

function modelObject(id: string): Record<string, unknown> {
  return { id, object: 'model', created: 1677610602, owned_by: 'zsd-replay' };
}

function readBody(request: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'invalid_request_error', 'request_too_large', `request body over ${MAX_BODY_BYTES} bytes`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}
