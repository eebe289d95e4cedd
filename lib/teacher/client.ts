import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { redactSecrets } from '../core/secrets';
import { chatMessages, completionPrompt, type TeacherRequest } from './request-key';

/**
 * One attempt at one teacher request, against any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp,
 * zsd replay-server). The SDK's own retries are off (`maxRetries: 0`): the scheduler is the only retry layer, and
 * it decides on the fields of TeacherError, never on message text.
 */

export interface TeacherClientOptions {
  baseURL?: string;
  apiKey?: string;
  timeoutMs: number;
}

export interface TeacherAnswer {
  text: string;
  usage: { prompt_tokens: number; completion_tokens: number };
  /** The model the server says answered. */
  model: string;
}

export type TeacherErrorKind =
  | 'rate-limit' // wait (Retry-After) and retry
  | 'quota' // out of credit: stop the run
  | 'auth' // bad key: stop the run
  | 'context-length' // this prompt cannot be answered: give up on the row
  | 'bad-request' // the server refuses this request: give up on the row
  | 'not-found' // no such model, or (fake server) no recording: give up on the row
  | 'timeout'
  | 'connection'
  | 'server'
  | 'malformed' // 200 with a body that is not a completion
  | 'empty'; // 200 without choices

export class TeacherError extends Error {
  constructor(
    readonly kind: TeacherErrorKind,
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    // A server may quote the request's Authorization header back: no registered secret survives into a message.
    super(redactSecrets(message));
    this.name = 'TeacherError';
  }

  /** Errors after which no other request can succeed either. */
  get stopsRun(): boolean {
    return this.kind === 'quota' || this.kind === 'auth';
  }
}

/** The SDK instance zsd talks through: no SDK retries (the scheduler or the batch runner is the retry layer). */
export function createOpenAI(options: TeacherClientOptions): OpenAI {
  return new OpenAI({
    baseURL: options.baseURL,
    // Local servers (vLLM, Ollama, llama.cpp) take any key; the SDK insists on one.
    apiKey: options.apiKey ?? (options.baseURL ? 'no-key-needed' : undefined),
    maxRetries: 0,
    timeout: options.timeoutMs,
  });
}

/** What is POSTed for a request, and where: the same body goes to the SDK directly and into a batch's JSONL line. */
export type TeacherRequestBody =
  | { url: '/v1/chat/completions'; body: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming }
  | { url: '/v1/completions'; body: OpenAI.CompletionCreateParamsNonStreaming };

export function teacherRequestBody(request: TeacherRequest): TeacherRequestBody {
  return request.endpoint === 'chat'
    ? { url: '/v1/chat/completions', body: { model: request.model, messages: chatMessages(request), ...request.parameters } }
    : { url: '/v1/completions', body: { model: request.model, prompt: completionPrompt(request), ...request.parameters } };
}

interface CompletionBody {
  model?: string | null;
  choices?: Array<{ message?: { content?: string | null } | null; text?: string | null } | null> | null;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

/**
 * The answer in a chat or completion response body (from the SDK or from a batch output line).
 * Throws TeacherError 'empty' when there is no choice, 'malformed' when the body is not an object.
 */
export function teacherAnswerFrom(request: Pick<TeacherRequest, 'endpoint' | 'model'>, body: unknown): TeacherAnswer {
  if (typeof body !== 'object' || body === null)
    throw new TeacherError('malformed', `malformed answer: expected a completion object, got ${JSON.stringify(body)}`, true);
  const completion = body as CompletionBody;
  const choice = completion.choices?.[0];
  if (!choice) throw new TeacherError('empty', 'the server answered without choices', true);
  const text = request.endpoint === 'chat' ? choice.message?.content : choice.text;
  return { text: text ?? '', usage: usageOf(completion.usage), model: completion.model ?? request.model };
}

export class TeacherClient {
  private readonly openai: OpenAI;

  constructor(options: TeacherClientOptions) {
    this.openai = createOpenAI(options);
  }

  async complete(request: TeacherRequest): Promise<TeacherAnswer> {
    try {
      const post = teacherRequestBody(request);
      const completion =
        post.url === '/v1/chat/completions' ? await this.openai.chat.completions.create(post.body) : await this.openai.completions.create(post.body);
      return teacherAnswerFrom(request, completion);
    } catch (error) {
      throw classifyTeacherError(error);
    }
  }
}

function usageOf(usage: { prompt_tokens?: number; completion_tokens?: number } | undefined | null) {
  return { prompt_tokens: usage?.prompt_tokens ?? 0, completion_tokens: usage?.completion_tokens ?? 0 };
}

/**
 * Maps SDK, fetch and parse errors to kinds by their classes and fields, never by message text:
 * - the SDK's APIConnectionTimeoutError is a timeout, its other APIConnectionErrors (refused, reset before an answer)
 *   a connection failure, an APIUserAbortError a connection failure too (nothing was answered);
 * - an HTTP error (the SDK's APIError with a status, or any object with `status`, `message` and `code`, as a batch's
 *   per-request error lines are) by its status and `code`;
 * - a SyntaxError (a body cut off or not JSON) is a malformed answer;
 * - anything else (a body stream that broke after the headers: undici's TypeError 'terminated') a connection failure.
 */
export function classifyTeacherError(error: unknown): TeacherError {
  if (error instanceof TeacherError) return error;
  const message = (error as { message?: string } | null)?.message ?? String(error);
  if (error instanceof APIConnectionTimeoutError) return new TeacherError('timeout', `timed out: ${message}`, true);
  if (error instanceof APIConnectionError || error instanceof APIUserAbortError) return new TeacherError('connection', `connection failed: ${message}`, true);
  const status = error instanceof APIError ? error.status : (error as { status?: number } | null)?.status;
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  if (typeof status === 'number') {
    const retryAfterMs = retryAfterOf(error);
    if (status === 429) {
      return code === 'insufficient_quota'
        ? new TeacherError('quota', `out of quota (429 insufficient_quota): ${message}`, false, status)
        : new TeacherError('rate-limit', `rate limited (429): ${message}`, true, status, retryAfterMs);
    }
    if (status === 401 || status === 403) return new TeacherError('auth', `not authorised (${status}): check the API key (${message})`, false, status);
    // Servers that send no code (vLLM) say so in words; both kinds give up on the row alike, only the label differs.
    if (status === 400 && (code === 'context_length_exceeded' || /maximum context length/i.test(message)))
      return new TeacherError('context-length', `prompt too long for the model: ${message}`, false, status);
    if (status === 404) return new TeacherError('not-found', `not found (404): ${message}`, false, status);
    if (status === 408 || status === 409 || status >= 500)
      return new TeacherError('server', `server error (${status}): ${message}`, true, status, retryAfterMs);
    return new TeacherError('bad-request', `request refused (${status}): ${message}`, false, status);
  }
  if (error instanceof SyntaxError) return new TeacherError('malformed', `malformed answer: ${message}`, true);
  const name = (error as { name?: string } | null)?.name;
  return new TeacherError('connection', `request failed: ${name ? `${name}: ` : ''}${message}`, true);
}

/** How long the server asks us to wait: `retry-after-ms` (milliseconds, OpenAI's), else `retry-after` (seconds or a date). */
export function retryAfterOf(error: unknown): number | undefined {
  const headers = (error as { headers?: Headers | Record<string, string> } | null)?.headers;
  if (!headers) return undefined;
  const header = (name: string) =>
    typeof (headers as Headers).get === 'function' ? (headers as Headers).get(name) : (headers as Record<string, string | undefined>)[name];
  const milliseconds = Number(header('retry-after-ms') ?? Number.NaN);
  if (Number.isFinite(milliseconds) && milliseconds >= 0) return milliseconds;
  const value = header('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}
