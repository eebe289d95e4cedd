/**
 * The student behind OpenAI's API (node:http, no framework): POST /v1/chat/completions and /v1/completions,
 * GET /v1/models and /v1/models/<id>, GET /health. See README.md for the invariants.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { BatcherClosedError, MicroBatcher, QueueFullError, RequestAbortedError, type MicroBatcherStats } from './micro-batcher';
import {
  ApiError,
  chatInput,
  chatRequestSchema,
  completionInputs,
  completionRequestSchema,
  invalidRequest,
  parseRequest,
  usageOf,
  type ChatRequest,
  type CompletionRequest,
} from './openai-api';
import { InputTooLongError, type Answerer, type StudentAnswer, type StudentQuestion } from './student-answerer';
import type { TemplateInputReader } from './template-input';
import { UI_PAGE } from './ui-page';

export const DEFAULT_HOST = '127.0.0.1';

export interface StudentServerOptions {
  answerer: Answerer;
  /** the name clients send as `model` */
  modelId: string;
  host?: string;
  /** 0: a free port */
  port?: number;
  /** when set, requests need `Authorization: Bearer <key>` */
  apiKey?: string;
  /** requests per generation call (1: no batching) */
  maxBatchSize: number;
  /** how long a request waits for others to join its batch */
  batchWaitMs: number;
  /** requests waiting before new ones get 429 */
  maxQueue: number;
  /** tokens generated per pass at most (a request's max_tokens can lower it) */
  maxNewTokens: number;
  /** request bodies above this are refused with 413; default 1 MiB */
  maxBodyBytes?: number;
  /** extra fields of the model object in /v1/models (what the checkpoint is) */
  modelDetails?: Record<string, unknown>;
  /** one line per notable event (default: nothing) */
  log?: (line: string) => void;
  /** `zsd serve --ui`: the page at /, with the student running in the browser */
  ui?: StudentPage;
  /** reads the task input out of a teacher prompt (a user message one of the task's templates rendered) */
  templates?: TemplateInputReader;
}

/** What the page of `--ui` needs: the student's files, the browser bundle, the wasm binaries. */
export interface StudentPage {
  /** served under /ui/model/<name>: config.json, model.safetensors, tokenizer.json, preprocessing.json (when there) */
  files: Readonly<Record<string, string>>;
  /** the script that defines the browser student (made once, on first request) */
  bundle: () => string;
  /** where tfjs-backend-wasm's .wasm files are */
  wasmDirectory: string;
  maxInputTokens: number;
  explain: boolean;
}

export interface StudentServer {
  /** http://host:port/v1, for --base-url */
  baseUrl: string;
  host: string;
  port: number;
  stats(): MicroBatcherStats;
  /** Stops accepting, answers what is queued or running, then closes every connection. */
  close(): Promise<void>;
}

/** Chat answers in explain mode: the rationale, then the label, as a chain-of-thought teacher writes them. */
export function answerText(answer: Pick<StudentAnswer, 'label' | 'rationale'>): string {
  return answer.rationale === null ? answer.label : `${answer.rationale}\n\nSo the answer is ${answer.label}`;
}

export async function startStudentServer(options: StudentServerOptions): Promise<StudentServer> {
  const { answerer, modelId } = options;
  const log = options.log ?? (() => undefined);
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const created = Math.floor(Date.now() / 1000);
  const fingerprint = `zsd-${randomBytes(4).toString('hex')}`;
  let closing = false;
  let nextId = 0;
  const batcher = new MicroBatcher<StudentQuestion, StudentAnswer>({
    maxBatchSize: options.maxBatchSize,
    maxWaitMs: options.batchWaitMs,
    maxQueue: options.maxQueue,
    groupOf: (question) => String(question.maxNewTokens),
    run: (questions) => answerer.answer(questions),
  });

  const modelObject = () => ({ id: modelId, object: 'model', created, owned_by: 'zsd', ...options.modelDetails });

  /** The questions of a request's inputs: mode prefixes read, lengths checked, before anything is queued. */
  const questionsOf = (inputs: string[], request: ChatRequest | CompletionRequest, param: string, fromTemplate = false): StudentQuestion[] => {
    const requested = request.max_completion_tokens ?? request.max_tokens ?? options.maxNewTokens;
    const maxNewTokens = Math.min(requested, options.maxNewTokens);
    return inputs.map((raw) => {
      let input = raw;
      let explain = request.explain === true;
      if (answerer.prefixes.explain !== '' && input.startsWith(answerer.prefixes.explain)) {
        input = input.slice(answerer.prefixes.explain.length);
        explain = true;
      } else if (answerer.prefixes.predict !== '' && input.startsWith(answerer.prefixes.predict)) {
        input = input.slice(answerer.prefixes.predict.length);
      }
      if (fromTemplate && options.templates) input = options.templates.read(input).input;
      if (input.trim() === '')
        throw invalidRequest(
          'the input is empty: the student needs the task input (the last user message, the prompt or zsd\'s "input")',
          param,
          'invalid_value',
        );
      if (explain && !answerer.canExplain)
        throw invalidRequest('this student was trained without rationales (standard mode): it cannot explain', 'explain', 'unsupported_parameter');
      try {
        answerer.countInputTokens(input, explain);
      } catch (error) {
        if (error instanceof InputTooLongError) {
          throw invalidRequest(
            `This model's maximum context length is ${error.maxTokens} tokens. However, your input resulted in ${error.tokens} tokens.`,
            param,
            'context_length_exceeded',
          );
        }
        throw error;
      }
      return { input, explain, maxNewTokens };
    });
  };

  const answerAll = async (questions: StudentQuestion[], signal: AbortSignal): Promise<StudentAnswer[]> => {
    try {
      return await Promise.all(questions.map((question) => batcher.submit(question, signal)));
    } catch (error) {
      if (error instanceof QueueFullError) {
        throw new ApiError(429, 'requests', 'rate_limit_exceeded', `${error.message} (zsd serve --max-queue)`, null, {
          'retry-after': String(error.retryAfterSeconds),
        });
      }
      if (error instanceof BatcherClosedError) throw shuttingDown();
      throw error;
    }
  };

  const checkModel = (model: string) => {
    if (model !== modelId)
      throw new ApiError(404, 'invalid_request_error', 'model_not_found', `The model \`${model}\` does not exist; this server serves \`${modelId}\``, 'model');
  };

  const chatCompletion = async (body: unknown, signal: AbortSignal) => {
    const request = parseRequest(chatRequestSchema, body);
    checkModel(request.model);
    const questions = questionsOf([chatInput(request)], request, request.input !== undefined ? 'input' : 'messages', request.input === undefined);
    const [answer] = await answerAll(questions, signal);
    return {
      id: `chatcmpl-${fingerprint}-${nextId++}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: modelId,
      system_fingerprint: fingerprint,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: answerText(answer), refusal: null },
          logprobs: null,
          finish_reason: answer.finishReason,
          zsd: zsdFields(answer),
        },
      ],
      usage: usageOf([answer]),
    };
  };

  const textCompletion = async (body: unknown, signal: AbortSignal) => {
    const request = parseRequest(completionRequestSchema, body);
    checkModel(request.model);
    const questions = questionsOf(completionInputs(request), request, request.input !== undefined ? 'input' : 'prompt');
    const answers = await answerAll(questions, signal);
    return {
      id: `cmpl-${fingerprint}-${nextId++}`,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: modelId,
      system_fingerprint: fingerprint,
      choices: answers.map((answer, index) => ({
        index,
        text: answerText(answer),
        logprobs: null,
        finish_reason: answer.finishReason,
        zsd: zsdFields(answer),
      })),
      usage: usageOf(answers),
    };
  };

  const route = async (request: http.IncomingMessage, signal: AbortSignal): Promise<unknown> => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const pathname = url.pathname.replace(/\/+$/, '');
    if (pathname === '/health') return { status: closing ? 'shutting-down' : 'ok', model: modelId, ...batcher.stats() };
    if (options.ui && (request.method ?? 'GET') === 'GET' && (pathname === '' || pathname.startsWith('/ui/'))) return pageAsset(options.ui, pathname);
    if (closing) throw shuttingDown();
    authorize(request, options.apiKey);
    const method = request.method ?? 'GET';
    const expect = (wanted: string) => {
      if (method !== wanted)
        throw new ApiError(405, 'invalid_request_error', 'method_not_allowed', `${method} ${pathname}: use ${wanted}`, null, { allow: wanted });
    };
    if (pathname === '/v1/models') {
      expect('GET');
      return { object: 'list', data: [modelObject()] };
    }
    if (pathname.startsWith('/v1/models/')) {
      expect('GET');
      checkModel(decodeURIComponent(pathname.slice('/v1/models/'.length)));
      return modelObject();
    }
    if (pathname === '/v1/chat/completions') {
      expect('POST');
      return chatCompletion(await readJson(request, maxBodyBytes), signal);
    }
    if (pathname === '/v1/completions') {
      expect('POST');
      return textCompletion(await readJson(request, maxBodyBytes), signal);
    }
    throw new ApiError(
      404,
      'invalid_request_error',
      'unknown_url',
      `Unknown request URL: ${method} ${url.pathname}. The zsd student server answers /v1/chat/completions, /v1/completions and /v1/models.`,
    );
  };

  let bundle: string | undefined;
  /** The page and its assets (no key needed: they hold the student, not answers; the page asks for the key). */
  const pageAsset = (ui: StudentPage, pathname: string): RawBody => {
    if (pathname === '') return { raw: UI_PAGE, contentType: 'text/html; charset=utf-8' };
    if (pathname === '/ui/settings.json') {
      return {
        raw: JSON.stringify({
          model: modelId,
          maxNewTokens: options.maxNewTokens,
          maxInputTokens: ui.maxInputTokens,
          explain: ui.explain,
          apiKeyRequired: options.apiKey !== undefined,
        }),
        contentType: 'application/json',
      };
    }
    if (pathname === '/ui/student.js') return { raw: (bundle ??= ui.bundle()), contentType: 'text/javascript; charset=utf-8' };
    const model = /^\/ui\/model\/([^/]+)$/.exec(pathname);
    if (model && Object.hasOwn(ui.files, model[1]))
      return { raw: fs.readFileSync(ui.files[model[1]]), contentType: model[1].endsWith('.json') ? 'application/json' : 'application/octet-stream' };
    const wasm = /^\/ui\/wasm\/([A-Za-z0-9_.-]+\.wasm)$/.exec(pathname);
    if (wasm && fs.existsSync(path.join(ui.wasmDirectory, wasm[1])))
      return { raw: fs.readFileSync(path.join(ui.wasmDirectory, wasm[1])), contentType: 'application/wasm' };
    throw new ApiError(404, 'invalid_request_error', 'unknown_url', `Unknown request URL: GET ${pathname}`);
  };

  const server = http.createServer((request, response) => {
    const controller = new AbortController();
    // the client went away before its answer was written: leave the queue (or drop the answer)
    response.on('close', () => {
      if (!response.writableFinished) controller.abort();
    });
    const started = process.hrtime.bigint();
    route(request, controller.signal).then(
      (body) => {
        if (isRawBody(body)) sendRaw(response, body);
        else send(response, 200, body, closing ? { connection: 'close' } : {});
        log(`${request.method} ${request.url} 200 ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(1)} ms`);
      },
      (error: unknown) => {
        if (error instanceof RequestAbortedError || controller.signal.aborted) {
          log(`${request.method} ${request.url}: the client disconnected before the answer`);
          return;
        }
        const apiError =
          error instanceof ApiError
            ? error
            : new ApiError(500, 'server_error', null, `the student failed: ${error instanceof Error ? error.message : String(error)}`);
        if (apiError.status >= 500) log(`${request.method} ${request.url} ${apiError.status}: ${apiError.message}`);
        send(response, apiError.status, apiError.body(), { ...apiError.headers, ...(closing ? { connection: 'close' } : {}) });
      },
    );
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? DEFAULT_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;
  return {
    baseUrl: `http://${host}:${address.port}/v1`,
    host: address.address,
    port: address.port,
    stats: () => batcher.stats(),
    close: () =>
      (closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await batcher.close();
        await new Promise((resolve) => setImmediate(resolve)); // the last answers are written
        server.closeIdleConnections();
        // a keep-alive client that holds its connection open does not delay the exit for long
        const force = setTimeout(() => server.closeAllConnections(), 2000);
        await stopped;
        clearTimeout(force);
      })()),
  };
}

function shuttingDown(): ApiError {
  return new ApiError(503, 'server_error', 'shutting_down', 'the server is shutting down', null, { connection: 'close' });
}

function zsdFields(answer: StudentAnswer): Record<string, unknown> {
  return { label: answer.label, rationale: answer.rationale, ...(answer.modelOutput === undefined ? {} : { model_output: answer.modelOutput }) };
}

function authorize(request: http.IncomingMessage, apiKey: string | undefined): void {
  if (apiKey === undefined) return;
  const header = request.headers.authorization ?? '';
  const match = /^Bearer\s+(.+)$/i.exec(header);
  const given = Buffer.from(match?.[1]?.trim() ?? '');
  const wanted = Buffer.from(apiKey);
  if (given.length === wanted.length && timingSafeEqual(given, wanted)) return;
  throw new ApiError(
    401,
    'invalid_request_error',
    'invalid_api_key',
    match
      ? 'Incorrect API key provided.'
      : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
  );
}

async function readJson(request: http.IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      throw new ApiError(413, 'invalid_request_error', 'request_too_large', `the request body is over ${maxBytes} bytes`, null, { connection: 'close' });
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidRequest(`We could not parse the JSON body of your request (${(error as Error).message}).`, null, 'invalid_json');
  }
}

function send(response: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (response.destroyed || response.writableEnded) return;
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

interface RawBody {
  raw: string | Buffer;
  contentType: string;
}

function isRawBody(body: unknown): body is RawBody {
  return typeof body === 'object' && body !== null && 'raw' in body && 'contentType' in body;
}

function sendRaw(response: http.ServerResponse, body: RawBody): void {
  if (response.destroyed || response.writableEnded) return;
  response.writeHead(200, { 'content-type': body.contentType, 'content-length': Buffer.byteLength(body.raw), 'cache-control': 'no-store' });
  response.end(body.raw);
}
