import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { z } from 'zod';
import { ZsdError } from '../core/errors';
import { readJsonLines } from '../core/jsonl';
import { resolveDataRoot } from '../core/paths';
import { loadSplit, type ExampleRow } from '../data/datasets';
import { getTask, NLI_LABELS, type TaskDefinition } from '../data/tasks';
import { STUDY_MODEL } from './recorded-responses';
import { countChatTokens, countTextTokens, type ChatMessage } from './tokens';

/**
 * A loopback OpenAI-compatible server for zsd's tests, benchmarks and demo, in place of a paid API.
 * It binds 127.0.0.1 only and answers from recorded responses (node:http, no framework).
 *
 * What it answers (JSON bodies in the shapes the official `openai` SDK v6 parses):
 * - POST /v1/chat/completions, POST /v1/completions: the recorded response for the prompt key, with usage counted
 *   by `tokens.ts` (prompt_tokens = countChatTokens(messages), or countTextTokens(prompt) for /v1/completions;
 *   completion_tokens = countTextTokens(answer)). `max_tokens`, `temperature` and the like are accepted and
 *   ignored: a recording is replayed whole. `n` repeats the answer; `stream: true` is refused (400).
 *   An unknown prompt is a 404 `no_recording` error, or with `fallback: 'echo'` a deterministic made-up answer.
 * - POST /v1/files (multipart/form-data: `purpose`, `file`), GET /v1/files, GET /v1/files/:id,
 *   GET /v1/files/:id/content (the raw bytes), DELETE /v1/files/:id. Files live in memory.
 * - POST /v1/batches, GET /v1/batches, GET /v1/batches/:id, POST /v1/batches/:id/cancel. A batch reports
 *   'validating' when created, 'in_progress' on later GETs and 'completed' on the `batchCompletionPolls`-th GET;
 *   its requests are answered then (no faults, no latency) and counted in the stats like direct completions.
 *   An input file that does not validate turns the batch 'failed' on its first GET, with `errors.data` naming lines.
 * - GET /v1/models, GET /v1/models/:id.
 * - GET /fake/stats (the stats as JSON), POST /fake/reset-stats (outside /v1, not counted as requests).
 * Anything else is a 404 with an OpenAI-style error body; a body that is not JSON is a 400.
 *
 * The prompt key is the study's `complete_prompt`: for chat, the content of the system message(s) ('' if none;
 * a 'developer' message counts as system) + "\n" + the content of the user message(s) joined by "\n"
 * (assistant turns are not part of the key); for /v1/completions, the prompt string itself. Every
 * `<root>/query-results/**\/responses.json` of the `replay` roots is indexed, complete_prompt -> response; the
 * first line wins, files in sorted path order, earlier roots first. A torn last line (an interrupted append) is
 * dropped, as the response store drops it; lines without a string complete_prompt and response are skipped.
 *
 * Fault spec grammar (`faults`), a comma-separated list, spaces allowed around items:
 *   spec  := item ("," item)*        item := kind ":" rate | "seed:" N | "after:" N
 *   kind  := rate-limit | server-error | unavailable | hang | reset | malformed | empty | quota | auth
 *   rate  := a number in [0, 1], the probability per completion request; the rates add up to at most 1
 *   seed  := a non-negative integer (default 0);  after := a non-negative integer (default 0)
 * Example: `rate-limit:0.1,server-error:0.05,hang:0.01,reset:0.02,malformed:0.02,empty:0.01,seed:7`.
 * Faults apply to valid POST /v1/chat/completions and /v1/completions requests only. Each such request, in
 * arrival order, after the first `after` of them, draws one number u from a mulberry32 generator seeded with
 * `seed`; the first kind (in spec order) whose cumulative rate exceeds u is the fault. So the schedule is the same
 * for a seed and request order, and resetStats() does not restart it. What each kind does:
 *   rate-limit 429 + Retry-After: 1 (or `rateLimitHeaders`), code rate_limit_exceeded | quota 429, code insufficient_quota
 *   (not to retry); with `echoAuthorization` every fault's error message quotes the request's Authorization header
 *   server-error 500 | unavailable 503 | auth 401, code invalid_api_key
 *   hang: no answer; the socket is destroyed after `hangMs` | reset: the socket is destroyed at once
 *   malformed: 200 with a truncated JSON body | empty: 200 with `choices: []`
 * A faulted request counts in `faults[kind]`, never in `completions` or `byPrompt`. A request whose client went away
 * before its answer was ready (a timeout, a killed process) is not answered and not counted: `completions` counts
 * answers delivered, which is what the tests call "paid" (a real API may bill such a request all the same).
 *
 * Scripted mode (`script`, for OPRO's tests; replay and fallback stay as they are for every other prompt):
 * - optimiser: a prompt containing `optimizer.marker` (default "<PRT>") gets `optimizer.answers[i]`, where i
 *   numbers the distinct requests (prompt and sampling parameters) in order of first arrival: a request sent
 *   again (a resumed run whose answer was lost) gets the answer it got before. Past the list, an answer
 *   without any <PRT> candidate.
 * - scorer: a prompt that contains a row of `scorer.task`'s `scorer.split` (nli: premise and hypothesis;
 *   multiple choice: question and choices; math: question; generic: input; the longest match wins) is answered
 *   with that row's gold label when u(row) < p, else with a wrong label, where u(row) is a hash of the row in
 *   [0, 1) and p is the `accuracy` of the first rule whose `contains` text the prompt contains (else
 *   `scorer.accuracy`, default 0.5). So the answer is a deterministic function of (instruction, row), and a
 *   higher p is right on a superset of rows. An explanation sentence follows when a second hash of the row is
 *   below the rule's `explanationRate` (default 1). Answers read "c) <choice text>. <explanation>" (multiple
 *   choice), "<label>. <explanation>" (nli, spelled through `labelWords`; generic) or "<explanation> The answer
 *   is <number>." (math).
 * Scripted answers count as completions (and in byPrompt), never as misses.
 *
 * Stats: `requests` counts every HTTP request outside /fake; `completions` the successful answers (recorded or
 * echoed, direct or in a batch); `misses` the prompts without a recording (answered 404 or echoed);
 * `byPrompt` the successful answers per prompt key.
 */

export interface FakeOpenAIOptions {
  /** 0 (default): any free port. */
  port?: number;
  /** Workspace roots whose query-results/**\/responses.json are replayed, earlier roots first. */
  replay?: readonly string[];
  /** Milliseconds added before each completion response. */
  latencyMs?: number;
  /** Fault spec, see the grammar above. */
  faults?: string;
  /** Model name reported when a request names none (default gpt-3.5-turbo). */
  model?: string;
  /** Unknown prompt: 'error' (default) = 404 no_recording; 'echo' = a deterministic made-up answer. */
  fallback?: 'error' | 'echo';
  /** How long a 'hang' fault holds the request before destroying its socket (default 30000). */
  hangMs?: number;
  /** How many GETs of a batch before it reports completed (default 2). */
  batchCompletionPolls?: number;
  /** Headers of a 'rate-limit' fault's 429 (default {"retry-after": "1"}), e.g. {"retry-after": "3600"} or {"retry-after-ms": "1500"}. */
  rateLimitHeaders?: Readonly<Record<string, string>>;
  /** Fault errors quote the request's Authorization header in their message, as some servers and proxies do. */
  echoAuthorization?: boolean;
  /** Scripted optimiser and scorer answers (see "Scripted mode" above). */
  script?: FakeScript;
}

export interface FakeScriptRule {
  /** Text the prompt contains (the instruction's wording). */
  contains: string;
  /** Probability of the gold label, per row (deterministic per row). */
  accuracy: number;
  explanationRate?: number;
}

export interface FakeScript {
  optimizer?: { marker?: string; answers: readonly string[] };
  scorer?: {
    task: string;
    split: string;
    /** Data root of the task's dataset (default: $ZSD_DATA or ../shared/data). */
    dataRoot?: string;
    rules?: readonly FakeScriptRule[];
    /** p for prompts no rule matches (default 0.5). */
    accuracy?: number;
    explanationRate?: number;
    /** How labels are written in answers, e.g. {"entailment": "True"} (default: the label itself). */
    labelWords?: Readonly<Record<string, string>>;
  };
}

const probability = z.number().min(0).max(1);
const fakeScriptSchema = z.strictObject({
  optimizer: z.strictObject({ marker: z.string().min(1).optional(), answers: z.array(z.string()) }).optional(),
  scorer: z
    .strictObject({
      task: z.string().min(1),
      split: z.string().min(1),
      dataRoot: z.string().optional(),
      rules: z.array(z.strictObject({ contains: z.string().min(1), accuracy: probability, explanationRate: probability.optional() })).optional(),
      accuracy: probability.optional(),
      explanationRate: probability.optional(),
      labelWords: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
});

/** Validates a script (e.g. the JSON of `zsd fake-openai --script FILE`), naming the key that is wrong. */
export function parseFakeScript(value: unknown, file = 'script'): FakeScript {
  const parsed = fakeScriptSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new ZsdError('invalid-file', `${issue.message}; expected {optimizer?: {marker?, answers: [string]}, scorer?: {task, split, rules?: [{contains, accuracy, explanationRate?}], accuracy?, explanationRate?, labelWords?}}`, {
    file,
    key: issue.path.map(String).join('.') || undefined,
  });
}

export interface FakeOpenAIStats {
  requests: number;
  completions: number;
  misses: number;
  faults: Record<string, number>;
  /** Successful completions per distinct prompt key (the complete_prompt string). */
  byPrompt: Record<string, number>;
}

export interface FakeOpenAIServer {
  /** Base URL for the SDK, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  port: number;
  stats(): FakeOpenAIStats;
  resetStats(): void;
  close(): Promise<void>;
}

export const FAULT_KINDS = ['rate-limit', 'server-error', 'unavailable', 'hang', 'reset', 'malformed', 'empty', 'quota', 'auth'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultSpec {
  /** Kinds in spec order with their probabilities per completion request (sum at most 1). */
  rates: ReadonlyArray<{ kind: FaultKind; rate: number }>;
  seed: number;
  /** No faults for the first `after` completion requests. */
  after: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Fault spec and schedule

export function parseFaultSpec(spec: string): FaultSpec {
  const rates: Array<{ kind: FaultKind; rate: number }> = [];
  let seed = 0;
  let after = 0;
  const items = spec.trim() === '' ? [] : spec.split(',');
  for (const rawItem of items) {
    const item = rawItem.trim();
    const fail = (why: string): never => {
      throw new ZsdError('usage', `fault spec "${spec}": item "${item}" ${why}; expected kind:rate (kinds: ${FAULT_KINDS.join(', ')}), seed:N or after:N`);
    };
    if (item === '') fail('is empty');
    const colon = item.indexOf(':');
    if (colon < 0) fail('has no ":"');
    const name = item.slice(0, colon).trim();
    const text = item.slice(colon + 1).trim();
    if (name === 'seed' || name === 'after') {
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) fail(`needs a non-negative integer, got "${text}"`);
      if (name === 'seed') seed = Number(text);
      else after = Number(text);
      continue;
    }
    if (!(FAULT_KINDS as readonly string[]).includes(name)) fail(`names an unknown fault kind "${name}"`);
    const kind = name as FaultKind;
    const rate = text === '' ? Number.NaN : Number(text);
    if (!Number.isFinite(rate) || rate < 0 || rate > 1) fail(`has rate "${text}", not a number in [0, 1]`);
    if (rates.some((entry) => entry.kind === kind)) fail(`repeats the kind "${kind}"`);
    rates.push({ kind, rate });
  }
  const total = rates.reduce((sum, entry) => sum + entry.rate, 0);
  if (total > 1 + 1e-9) {
    throw new ZsdError('usage', `fault spec "${spec}": the rates add up to ${total}, more than 1; each rate is the probability of that kind per request`);
  }
  return { rates, seed, after };
}

/** mulberry32: a tiny seeded generator, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function faultSchedule(spec: FaultSpec): () => FaultKind | undefined {
  const random = mulberry32(spec.seed);
  let seen = 0;
  return () => {
    seen++;
    if (seen <= spec.after || spec.rates.length === 0) return undefined;
    const draw = random();
    let cumulative = 0;
    for (const { kind, rate } of spec.rates) {
      cumulative += rate;
      if (draw < cumulative) return kind;
    }
    return undefined;
  };
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

/** A made-up answer that depends only on the prompt: parseable as a choice, and saying what it is. */
function echoAnswer(prompt: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < prompt.length; index++) hash = Math.imul(hash ^ prompt.charCodeAt(index), 0x01000193) >>> 0;
  const letter = 'abcde'[hash % 5];
  return `The answer is (${letter}). This is a made-up answer from the fake OpenAI server: nothing is recorded for this prompt (fnv1a ${hash.toString(16).padStart(8, '0')}).`;
}

// ---------------------------------------------------------------------------------------------------------------
// Scripted answers

/** fnv1a of a text with murmur3's finaliser (texts that differ in their last character land far apart), in [0, 1). */
function unitHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193) >>> 0;
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return ((hash ^ (hash >>> 16)) >>> 0) / 4294967296;
}

const NO_MORE_CANDIDATES = 'I have no further prompt templates to suggest.';
const SCRIPTED_EXPLANATION = 'The scripted scorer gives this answer with a short explanation sentence.';

/** (prompt key, distinct-request key) -> a scripted answer, or undefined for prompts the script does not cover. */
type ScriptedAnswerer = (key: string, distinct: string) => string | undefined;

function scriptedAnswerer(script: FakeScript): ScriptedAnswerer {
  const optimizer = script.optimizer;
  const marker = optimizer?.marker ?? '<PRT>';
  const optimizerRequests = new Map<string, number>();
  const scorer = script.scorer ? scriptedScorer(script.scorer) : undefined;
  return (key, distinct) => {
    if (optimizer && key.includes(marker)) {
      let index = optimizerRequests.get(distinct);
      if (index === undefined) {
        index = optimizerRequests.size;
        optimizerRequests.set(distinct, index);
      }
      return optimizer.answers[index] ?? NO_MORE_CANDIDATES;
    }
    return scorer?.(key);
  };
}

function scriptedScorer(scorer: NonNullable<FakeScript['scorer']>): (prompt: string) => string | undefined {
  const roots = [resolveDataRoot(scorer.dataRoot)];
  const task = getTask(scorer.task, roots);
  const rows = loadSplit(task, scorer.split, roots).rows;
  const fields = rowFields(task);
  const prints = rows.map((row) => ({ row, texts: fields.map((field) => row.promptValues[field] ?? '').filter((text) => text !== '') }));
  return (prompt) => {
    let found: { row: ExampleRow; length: number } | undefined;
    for (const { row, texts } of prints) {
      if (texts.length === 0 || !prompt.includes(texts[0]) || !texts.every((text) => prompt.includes(text))) continue;
      const length = texts.reduce((sum, text) => sum + text.length, 0);
      if (!found || length > found.length) found = { row, length };
    }
    if (!found) return undefined;
    const { row } = found;
    const identity = fields.map((field) => row.promptValues[field] ?? '').join('\u0000');
    const rule = scorer.rules?.find((candidate) => prompt.includes(candidate.contains));
    const correct = unitHash(`row\u0000${identity}`) < (rule?.accuracy ?? scorer.accuracy ?? 0.5);
    const explain = unitHash(`explain\u0000${identity}`) < (rule?.explanationRate ?? scorer.explanationRate ?? 1);
    const wrongDraw = Math.floor(unitHash(`wrong\u0000${identity}`) * 1e6);
    return scriptedAnswer(task, row, correct, wrongDraw, explain ? SCRIPTED_EXPLANATION : undefined, scorer.labelWords ?? {});
  };
}

/** The prompt values that identify a row of the task in a prompt. */
function rowFields(task: TaskDefinition): string[] {
  switch (task.kind) {
    case 'nli':
      return ['premise', 'hypothesis'];
    case 'multiple-choice':
      return ['question', 'choice_a', 'choice_b', 'choice_c', 'choice_d', 'choice_e'];
    case 'math':
      return ['question'];
    case 'generic':
      return ['input'];
  }
}

function scriptedAnswer(task: TaskDefinition, row: ExampleRow, correct: boolean, draw: number, explanation: string | undefined, words: Readonly<Record<string, string>>): string {
  const tail = explanation === undefined ? '' : ` ${explanation}`;
  switch (task.kind) {
    case 'multiple-choice': {
      const letters = ['a', 'b', 'c', 'd', 'e'];
      const choices = letters.map((letter) => row.promptValues[`choice_${letter}`]);
      const gold = Math.max(0, choices.indexOf(row.goldLabel));
      const chosen = correct ? gold : (gold + 1 + (draw % 4)) % 5;
      return `${letters[chosen]}) ${choices[chosen]}.${tail}`;
    }
    case 'nli': {
      const gold = Math.max(0, (NLI_LABELS as readonly string[]).indexOf(row.goldLabel));
      const label = NLI_LABELS[correct ? gold : (gold + 1 + (draw % 2)) % 3];
      return `${words[label] ?? label}.${tail}`;
    }
    case 'math': {
      const number = Number(row.goldLabel);
      const answer = correct ? row.goldLabel : Number.isFinite(number) ? String(number + 1) : `${row.goldLabel}1`;
      return `${explanation ?? ''} The answer is ${answer}.`.trim();
    }
    case 'generic': {
      const label = correct ? row.goldLabel : `not ${row.goldLabel}`;
      return `${words[label] ?? label}.${tail}`;
    }
  }
}

/** A request apart from its prompt: what makes two requests with the same prompt different ones. */
function samplingOf(request: Record<string, unknown>): string {
  const rest = Object.entries(request)
    .filter(([name]) => !['messages', 'prompt', 'model', 'n', 'stream'].includes(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(rest);
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
const completionRequestSchema = z.looseObject({
  model: z.string().optional(),
  prompt: z.union([z.string(), z.array(z.string()).length(1)]),
  n: z.number().int().min(1).max(128).optional(),
  stream: z.boolean().optional(),
});
const batchRequestSchema = z.looseObject({
  input_file_id: z.string(),
  endpoint: z.string(),
  completion_window: z.string(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
});
const batchLineSchema = z.looseObject({
  custom_id: z.string().min(1),
  method: z.literal('POST'),
  url: z.string(),
  body: z.record(z.string(), z.unknown()),
});

type ChatRequest = z.infer<typeof chatRequestSchema>;
type CompletionRequest = z.infer<typeof completionRequestSchema>;

/** An answer to send as an HTTP error, in OpenAI's error shape. */
class HttpError extends Error {
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

function invalidRequest(message: string, param: string | null = null, code: string | null = null): HttpError {
  return new HttpError(400, 'invalid_request_error', code, message, param);
}

function validate<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = issue.path.map(String).join('.') || null;
  throw invalidRequest(`${param ? `'${param}': ` : ''}${issue.message}`, param);
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
// Multipart/form-data (as fetch's FormData sends it; binary-safe: parts are located with Buffer.indexOf)

interface MultipartPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

function parseMultipart(body: Buffer, contentType: string): MultipartPart[] {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!match) throw invalidRequest('multipart/form-data body without a boundary in its content-type');
  const boundary = match[1] ?? match[2];
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const separator = Buffer.from(`\r\n--${boundary}`, 'latin1');
  const malformed = (why: string): HttpError => invalidRequest(`malformed multipart/form-data body: ${why}`);
  let position = body.indexOf(delimiter);
  if (position < 0) throw malformed('the boundary never occurs');
  const parts: MultipartPart[] = [];
  for (;;) {
    position += delimiter.length;
    if (body[position] === 0x2d && body[position + 1] === 0x2d) break; // "--": the closing delimiter
    if (body[position] !== 0x0d || body[position + 1] !== 0x0a) throw malformed('expected CRLF after a boundary');
    position += 2;
    const headerEnd = body.indexOf('\r\n\r\n', position, 'latin1');
    if (headerEnd < 0) throw malformed('a part without the blank line after its headers');
    const headers = new Map<string, string>();
    for (const line of body.subarray(position, headerEnd).toString('utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const contentStart = headerEnd + 4;
    const next = body.indexOf(separator, contentStart);
    if (next < 0) throw malformed('a part without a closing boundary');
    const disposition = headers.get('content-disposition') ?? '';
    const name = dispositionParameter(disposition, 'name');
    if (name === undefined) throw malformed('a part without a name in its Content-Disposition');
    parts.push({ name, filename: dispositionParameter(disposition, 'filename'), contentType: headers.get('content-type'), data: body.subarray(contentStart, next) });
    position = next + 2;
  }
  return parts;
}

function dispositionParameter(disposition: string, key: string): string | undefined {
  const match = new RegExp(`(?:^|;)\\s*${key}="((?:[^"\\\\]|\\\\.)*)"`, 'i').exec(disposition) ?? new RegExp(`(?:^|;)\\s*${key}=([^;]*)`, 'i').exec(disposition);
  if (!match) return undefined;
  // fetch's FormData escapes '"', CR and LF in names as %22, %0D, %0A.
  return match[1].trim().replace(/\\(.)/g, '$1').replace(/%22/g, '"').replace(/%0D/gi, '\r').replace(/%0A/gi, '\n');
}

// ---------------------------------------------------------------------------------------------------------------
// The server

interface StoredFile {
  id: string;
  filename: string;
  purpose: string;
  createdAt: number;
  data: Buffer;
}

interface BatchRecord {
  id: string;
  endpoint: string;
  inputFileId: string;
  completionWindow: string;
  metadata: Record<string, string> | null;
  createdAt: number;
  status: 'validating' | 'failed' | 'in_progress' | 'completed' | 'cancelled';
  polls: number;
  lines: Array<{ customId: string; body: Record<string, unknown> }>;
  errors: Array<{ code: string; line: number | null; message: string; param: string | null }>;
  timestamps: Partial<Record<'in_progress_at' | 'finalizing_at' | 'completed_at' | 'failed_at' | 'cancelling_at' | 'cancelled_at', number>>;
  outputFileId: string | null;
  requestCounts: { total: number; completed: number; failed: number };
  usage: { input: number; output: number };
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** The outcome of one completion request, before faults: an answer, or an error to send. */
type Completion = { kind: 'answer'; key: string; body: Record<string, unknown> & { usage: Usage } } | { kind: 'error'; error: HttpError };

const MAX_BODY_BYTES = 256 * 1024 * 1024;
const BATCH_ENDPOINTS = ['/v1/chat/completions', '/v1/completions'];

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function emptyStats(): FakeOpenAIStats {
  return { requests: 0, completions: 0, misses: 0, faults: {}, byPrompt: {} };
}

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAIServer> {
  const faultSpec = parseFaultSpec(options.faults ?? '');
  const nextFault = faultSchedule(faultSpec);
  const recordings = indexRecordings(options.replay ?? []);
  const scripted = options.script ? scriptedAnswerer(parseFakeScript(options.script)) : undefined;
  const defaultModel = options.model ?? STUDY_MODEL;
  // Build the tokenizer behind the usage figures now (0.2-0.3 s), not on the first request.
  countTextTokens('', defaultModel);
  const fallback = options.fallback ?? 'error';
  const hangMs = options.hangMs ?? 30_000;
  const latencyMs = options.latencyMs ?? 0;
  const completionPolls = options.batchCompletionPolls ?? 2;
  for (const [name, value] of [['latencyMs', latencyMs], ['hangMs', hangMs], ['batchCompletionPolls', completionPolls]] as const) {
    if (!Number.isFinite(value) || value < 0) throw new ZsdError('usage', `fake OpenAI server option ${name} must be a non-negative number, got ${value}`);
  }

  let stats = emptyStats();
  let sequence = 0;
  const nextId = (prefix: string): string => `${prefix}${(++sequence).toString(36).padStart(8, '0')}`;
  const files = new Map<string, StoredFile>();
  const batches = new Map<string, BatchRecord>();
  const timers = new Set<NodeJS.Timeout>();
  const pendingWaits = new Set<() => void>();
  let closed = false;

  const models = [...new Set([defaultModel, STUDY_MODEL, ...recordings.models])];

  function wait(milliseconds: number): Promise<void> {
    if (milliseconds <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        timers.delete(timer);
        pendingWaits.delete(done);
        resolve();
      };
      const timer = setTimeout(done, milliseconds);
      timers.add(timer);
      pendingWaits.add(done);
    });
  }

  /** The answer for a prompt key; `count` is false for a faulted request, which is neither a completion nor a miss. */
  function lookup(key: string, count: boolean, sampling: string): string | HttpError {
    const script = scripted?.(key, `${key}\u0000${sampling}`);
    if (script !== undefined) return script;
    const recorded = recordings.responses.get(key);
    if (recorded !== undefined) return recorded;
    if (count) stats.misses++;
    if (fallback === 'echo') return echoAnswer(key);
    return new HttpError(404, 'invalid_request_error', 'no_recording', `no recorded response for this prompt (${key.length} characters); the fake OpenAI server replays recordings only`);
  }

  function recordSuccess(key: string): void {
    stats.completions++;
    stats.byPrompt[key] = (stats.byPrompt[key] ?? 0) + 1;
  }

  function answerChat(request: ChatRequest, count = true): Completion {
    const model = request.model ?? defaultModel;
    const messages: ChatMessage[] = request.messages.map((message) => ({
      role: message.role === 'developer' ? 'system' : message.role,
      content: messageText(message.content),
    }));
    const key = chatPromptKey(messages);
    const answer = lookup(key, count, samplingOf(request));
    if (answer instanceof HttpError) return { kind: 'error', error: answer };
    const n = request.n ?? 1;
    const promptTokens = countChatTokens(messages, model);
    const completionTokens = n * countTextTokens(answer, model);
    const choices = Array.from({ length: n }, (_, index) => ({
      index,
      message: { role: 'assistant', content: answer, refusal: null },
      logprobs: null,
      finish_reason: 'stop',
    }));
    return {
      kind: 'answer',
      key,
      body: {
        id: nextId('chatcmpl-fake'),
        object: 'chat.completion',
        created: now(),
        model,
        choices,
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
        system_fingerprint: 'fp_zsd_fake',
      },
    };
  }

  function answerCompletion(request: CompletionRequest, count = true): Completion {
    const model = request.model ?? defaultModel;
    const key = typeof request.prompt === 'string' ? request.prompt : request.prompt[0];
    const answer = lookup(key, count, samplingOf(request));
    if (answer instanceof HttpError) return { kind: 'error', error: answer };
    const n = request.n ?? 1;
    const promptTokens = countTextTokens(key, model);
    const completionTokens = n * countTextTokens(answer, model);
    return {
      kind: 'answer',
      key,
      body: {
        id: nextId('cmpl-fake'),
        object: 'text_completion',
        created: now(),
        model,
        choices: Array.from({ length: n }, (_, index) => ({ text: answer, index, logprobs: null, finish_reason: 'stop' })),
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      },
    };
  }

  function send(response: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    sendRaw(response, status, Buffer.from(JSON.stringify(body), 'utf8'), { 'content-type': 'application/json', ...headers });
  }

  function sendRaw(response: http.ServerResponse, status: number, data: Buffer, headers: Record<string, string>): void {
    if (response.destroyed || response.writableEnded) return;
    response.writeHead(status, { ...headers, 'content-length': String(data.length), 'x-request-id': nextId('req_fake') });
    response.end(data);
  }

  function sendFault(kind: FaultKind, request: http.IncomingMessage, response: http.ServerResponse, would: Completion): void {
    stats.faults[kind] = (stats.faults[kind] ?? 0) + 1;
    const quoted = options.echoAuthorization ? ` (request headers: Authorization: ${request.headers.authorization ?? 'none'})` : '';
    const error = (status: number, type: string, code: string | null, message: string, headers: Record<string, string> = {}): void =>
      send(response, status, new HttpError(status, type, code, `${message}${quoted}`).body(), headers);
    switch (kind) {
      case 'rate-limit':
        return error(429, 'rate_limit_exceeded', 'rate_limit_exceeded', 'Rate limit reached (injected fault). Please try again later.', { ...(options.rateLimitHeaders ?? { 'retry-after': '1' }) });
      case 'quota':
        return error(429, 'insufficient_quota', 'insufficient_quota', 'You exceeded your current quota, please check your plan and billing details (injected fault).');
      case 'server-error':
        return error(500, 'server_error', null, 'The server had an error while processing your request (injected fault).');
      case 'unavailable':
        return error(503, 'server_error', null, 'The engine is currently overloaded, please try again later (injected fault).');
      case 'auth':
        return error(401, 'invalid_request_error', 'invalid_api_key', 'Incorrect API key provided (injected fault).');
      case 'reset':
        request.socket.destroy();
        return;
      case 'hang': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          request.socket.destroy();
        }, hangMs);
        timers.add(timer);
        request.socket.once('close', () => {
          clearTimeout(timer);
          timers.delete(timer);
        });
        return;
      }
      case 'malformed': {
        const whole = Buffer.from(JSON.stringify(would.kind === 'answer' ? would.body : would.error.body()), 'utf8');
        return sendRaw(response, 200, whole.subarray(0, Math.floor(whole.length / 2)), { 'content-type': 'application/json' });
      }
      case 'empty': {
        const body = would.kind === 'answer' ? would.body : { id: nextId('chatcmpl-fake'), object: 'chat.completion', created: now(), model: defaultModel };
        const promptTokens = would.kind === 'answer' ? would.body.usage.prompt_tokens : 0;
        return send(response, 200, { ...body, choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: 0, total_tokens: promptTokens } });
      }
    }
  }

  async function handleCompletion(request: http.IncomingMessage, response: http.ServerResponse, body: Buffer, endpoint: 'chat' | 'text'): Promise<void> {
    // Validated before the fault draw: an invalid request is a 400 and does not consume the fault schedule.
    const json = parseJson(body);
    let answer: (count: boolean) => Completion;
    if (endpoint === 'chat') {
      const valid = validate(chatRequestSchema, json);
      answer = (count) => answerChat(valid, count);
    } else {
      const valid = validate(completionRequestSchema, json);
      answer = (count) => answerCompletion(valid, count);
    }
    if ((json as { stream?: unknown }).stream === true) throw invalidRequest('streaming is not supported by the fake OpenAI server', 'stream');
    const fault = nextFault();
    if (fault === 'reset' || fault === 'hang') {
      sendFault(fault, request, response, { kind: 'error', error: invalidRequest('no answer') });
      return;
    }
    await wait(latencyMs);
    // A client that gave up meanwhile (timeout, kill) gets nothing, and nothing is counted as paid.
    if (closed || request.socket.destroyed) return;
    if (fault) {
      sendFault(fault, request, response, answer(false));
      return;
    }
    const completion = answer(true);
    if (completion.kind === 'error') return send(response, completion.error.status, completion.error.body());
    recordSuccess(completion.key);
    send(response, 200, completion.body);
  }

  function fileObject(file: StoredFile): Record<string, unknown> {
    return { id: file.id, object: 'file', bytes: file.data.length, created_at: file.createdAt, filename: file.filename, purpose: file.purpose, status: 'processed', status_details: null };
  }

  function storeFile(filename: string, purpose: string, data: Buffer): StoredFile {
    const file: StoredFile = { id: nextId('file-fake'), filename, purpose, createdAt: now(), data };
    files.set(file.id, file);
    return file;
  }

  function getFile(id: string): StoredFile {
    const file = files.get(id);
    if (!file) throw new HttpError(404, 'invalid_request_error', 'file_not_found', `No such File object: ${id}`, 'id');
    return file;
  }

  function createBatch(json: unknown): BatchRecord {
    const request = validate(batchRequestSchema, json);
    if (!BATCH_ENDPOINTS.includes(request.endpoint)) throw invalidRequest(`endpoint must be one of ${BATCH_ENDPOINTS.join(', ')}, got ${request.endpoint}`, 'endpoint');
    if (request.completion_window !== '24h') throw invalidRequest(`completion_window must be '24h', got '${request.completion_window}'`, 'completion_window');
    const input = files.get(request.input_file_id);
    if (!input) throw new HttpError(404, 'invalid_request_error', 'file_not_found', `No such File object: ${request.input_file_id}`, 'input_file_id');
    const batch: BatchRecord = {
      id: nextId('batch_fake'),
      endpoint: request.endpoint,
      inputFileId: input.id,
      completionWindow: request.completion_window,
      metadata: request.metadata ?? null,
      createdAt: now(),
      status: 'validating',
      polls: 0,
      lines: [],
      errors: [],
      timestamps: {},
      outputFileId: null,
      requestCounts: { total: 0, completed: 0, failed: 0 },
      usage: { input: 0, output: 0 },
    };
    if (input.purpose !== 'batch') batch.errors.push({ code: 'invalid_file', line: null, message: `input file has purpose '${input.purpose}', expected 'batch'`, param: 'input_file_id' });
    const seen = new Set<string>();
    const rows = input.data.toString('utf8').split('\n');
    rows.forEach((row, index) => {
      if (row.trim() === '') return;
      const line = index + 1;
      let value: unknown;
      try {
        value = JSON.parse(row);
      } catch {
        batch.errors.push({ code: 'invalid_json_line', line, message: 'line is not valid JSON; expected {custom_id, method, url, body}', param: null });
        return;
      }
      const parsed = batchLineSchema.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        batch.errors.push({ code: 'invalid_request', line, message: `${issue.path.map(String).join('.') || 'line'}: ${issue.message}`, param: issue.path.map(String).join('.') || null });
        return;
      }
      if (parsed.data.url !== batch.endpoint) {
        batch.errors.push({ code: 'mismatched_url', line, message: `url ${parsed.data.url} differs from the batch endpoint ${batch.endpoint}`, param: 'url' });
        return;
      }
      if (seen.has(parsed.data.custom_id)) {
        batch.errors.push({ code: 'duplicate_custom_id', line, message: `custom_id "${parsed.data.custom_id}" occurs more than once`, param: 'custom_id' });
        return;
      }
      seen.add(parsed.data.custom_id);
      batch.lines.push({ customId: parsed.data.custom_id, body: parsed.data.body });
    });
    if (batch.lines.length === 0 && batch.errors.length === 0) batch.errors.push({ code: 'empty_file', line: null, message: 'the input file holds no requests', param: 'input_file_id' });
    batch.requestCounts.total = batch.errors.length > 0 ? 0 : batch.lines.length;
    if (completionPolls === 0) advanceBatch(batch);
    return batch;
  }

  function completeBatch(batch: BatchRecord): void {
    const output: string[] = [];
    for (const { customId, body } of batch.lines) {
      let completion: Completion;
      try {
        completion = batch.endpoint === '/v1/chat/completions' ? answerChat(validate(chatRequestSchema, body)) : answerCompletion(validate(completionRequestSchema, body));
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        completion = { kind: 'error', error };
      }
      const requestId = nextId('req_fake');
      if (completion.kind === 'answer') {
        recordSuccess(completion.key);
        batch.requestCounts.completed++;
        batch.usage.input += completion.body.usage.prompt_tokens;
        batch.usage.output += completion.body.usage.completion_tokens;
        output.push(JSON.stringify({ id: nextId('batch_req_fake'), custom_id: customId, response: { status_code: 200, request_id: requestId, body: completion.body }, error: null }));
      } else {
        batch.requestCounts.failed++;
        output.push(
          JSON.stringify({ id: nextId('batch_req_fake'), custom_id: customId, response: { status_code: completion.error.status, request_id: requestId, body: completion.error.body() }, error: null }),
        );
      }
    }
    const file = storeFile(`${batch.id}_output.jsonl`, 'batch_output', Buffer.from(output.map((line) => `${line}\n`).join(''), 'utf8'));
    batch.outputFileId = file.id;
    batch.status = 'completed';
    batch.timestamps.finalizing_at = now();
    batch.timestamps.completed_at = now();
  }

  /** One GET of a batch: validating -> in_progress -> completed (or failed, for an invalid input file). */
  function advanceBatch(batch: BatchRecord): void {
    if (batch.status !== 'validating' && batch.status !== 'in_progress') return;
    batch.polls++;
    if (batch.errors.length > 0) {
      batch.status = 'failed';
      batch.timestamps.failed_at = now();
      return;
    }
    batch.timestamps.in_progress_at ??= now();
    if (batch.polls >= completionPolls) completeBatch(batch);
    else batch.status = 'in_progress';
  }

  function batchObject(batch: BatchRecord): Record<string, unknown> {
    return {
      id: batch.id,
      object: 'batch',
      endpoint: batch.endpoint,
      errors: batch.errors.length > 0 ? { object: 'list', data: batch.errors } : null,
      input_file_id: batch.inputFileId,
      completion_window: batch.completionWindow,
      status: batch.status,
      output_file_id: batch.outputFileId,
      error_file_id: null,
      created_at: batch.createdAt,
      in_progress_at: batch.timestamps.in_progress_at ?? null,
      expires_at: batch.createdAt + 24 * 3600,
      finalizing_at: batch.timestamps.finalizing_at ?? null,
      completed_at: batch.timestamps.completed_at ?? null,
      failed_at: batch.timestamps.failed_at ?? null,
      expired_at: null,
      cancelling_at: batch.timestamps.cancelling_at ?? null,
      cancelled_at: batch.timestamps.cancelled_at ?? null,
      request_counts: batch.requestCounts,
      usage: {
        input_tokens: batch.usage.input,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: batch.usage.output,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: batch.usage.input + batch.usage.output,
      },
      metadata: batch.metadata,
    };
  }

  function getBatch(id: string): BatchRecord {
    const batch = batches.get(id);
    if (!batch) throw new HttpError(404, 'invalid_request_error', 'batch_not_found', `No such Batch object: ${id}`, 'id');
    return batch;
  }

  function list(data: ReadonlyArray<Record<string, unknown>>): Record<string, unknown> {
    return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more: false };
  }

  async function route(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const pathname = new URL(request.url ?? '/', 'http://127.0.0.1').pathname.replace(/\/+$/, '') || '/';
    if (pathname === '/fake/stats' && method === 'GET') return send(response, 200, snapshot());
    if (pathname === '/fake/reset-stats' && method === 'POST') {
      stats = emptyStats();
      return send(response, 200, { ok: true });
    }
    stats.requests++;
    const body = await readBody(request);
    const segments = pathname.split('/').filter((segment) => segment !== '');
    const at = (...pattern: string[]): boolean => segments.length === pattern.length && pattern.every((part, index) => part === '*' || part === segments[index]);

    if (method === 'POST' && at('v1', 'chat', 'completions')) return handleCompletion(request, response, body, 'chat');
    if (method === 'POST' && at('v1', 'completions')) return handleCompletion(request, response, body, 'text');
    if (method === 'GET' && at('v1', 'models')) return send(response, 200, { object: 'list', data: models.map(modelObject) });
    if (method === 'GET' && at('v1', 'models', '*')) {
      const id = decodeURIComponent(segments[2]);
      if (!models.includes(id)) throw new HttpError(404, 'invalid_request_error', 'model_not_found', `The model '${id}' does not exist`, 'model');
      return send(response, 200, modelObject(id));
    }
    if (method === 'POST' && at('v1', 'files')) {
      const contentType = request.headers['content-type'] ?? '';
      if (!/^multipart\/form-data/i.test(contentType)) throw invalidRequest(`expected a multipart/form-data body, got content-type "${contentType}"`);
      const parts = parseMultipart(body, contentType);
      const purpose = parts.find((part) => part.name === 'purpose' && part.filename === undefined);
      const upload = parts.find((part) => part.name === 'file');
      if (!purpose) throw invalidRequest("missing required parameter 'purpose'", 'purpose', 'missing_required_parameter');
      if (!upload) throw invalidRequest("missing required parameter 'file'", 'file', 'missing_required_parameter');
      const file = storeFile(upload.filename ?? 'upload', purpose.data.toString('utf8'), Buffer.from(upload.data));
      return send(response, 200, fileObject(file));
    }
    if (method === 'GET' && at('v1', 'files')) return send(response, 200, list([...files.values()].map(fileObject)));
    if (method === 'GET' && at('v1', 'files', '*')) return send(response, 200, fileObject(getFile(segments[2])));
    if (method === 'DELETE' && at('v1', 'files', '*')) {
      const file = getFile(segments[2]);
      files.delete(file.id);
      return send(response, 200, { id: file.id, object: 'file', deleted: true });
    }
    if (method === 'GET' && at('v1', 'files', '*', 'content')) {
      return sendRaw(response, 200, getFile(segments[2]).data, { 'content-type': 'application/octet-stream' });
    }
    if (method === 'POST' && at('v1', 'batches')) {
      const batch = createBatch(parseJson(body));
      batches.set(batch.id, batch);
      return send(response, 200, batchObject(batch));
    }
    if (method === 'GET' && at('v1', 'batches')) return send(response, 200, list([...batches.values()].reverse().map(batchObject)));
    if (method === 'GET' && at('v1', 'batches', '*')) {
      const batch = getBatch(segments[2]);
      advanceBatch(batch);
      return send(response, 200, batchObject(batch));
    }
    if (method === 'POST' && at('v1', 'batches', '*', 'cancel')) {
      const batch = getBatch(segments[2]);
      if (batch.status !== 'validating' && batch.status !== 'in_progress') throw invalidRequest(`Cannot cancel a batch with status '${batch.status}'.`, null, 'batch_not_cancellable');
      batch.status = 'cancelled';
      batch.timestamps.cancelling_at = now();
      batch.timestamps.cancelled_at = now();
      return send(response, 200, batchObject(batch));
    }
    throw new HttpError(404, 'invalid_request_error', 'unknown_url', `Invalid URL (${method} ${pathname})`);
  }

  function snapshot(): FakeOpenAIStats {
    return { requests: stats.requests, completions: stats.completions, misses: stats.misses, faults: { ...stats.faults }, byPrompt: { ...stats.byPrompt } };
  }

  const server = http.createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      if (error instanceof HttpError) return send(response, error.status, error.body());
      send(response, 500, new HttpError(500, 'server_error', 'fake_server_bug', `fake OpenAI server failed: ${(error as Error).message}`).body());
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

  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    stats: snapshot,
    resetStats: () => {
      stats = emptyStats();
    },
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const done of [...pendingWaits]) done();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

function modelObject(id: string): Record<string, unknown> {
  return { id, object: 'model', created: 1677610602, owned_by: 'zsd-fake' };
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(
      400,
      'invalid_request_error',
      'invalid_json',
      `We could not parse the JSON body of your request (${(error as Error).message}). The fake OpenAI server expects a JSON body.`,
    );
  }
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
