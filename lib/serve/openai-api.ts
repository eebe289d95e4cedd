/**
 * The slice of OpenAI's API the student server speaks: request bodies of /v1/chat/completions and /v1/completions
 * (validated with zod; the first problem is reported with its `param`, as OpenAI does), response bodies, and the
 * error shape `{"error": {"message", "type", "param", "code"}}`.
 *
 * zsd's extensions: `input` (the task input itself, instead of messages or prompt) and `explain` (true: the
 * student also writes its rationale). Sampling parameters are accepted and ignored: the student decodes greedily
 * (or by beam search with `zsd serve --num-beams`), so its answers are deterministic.
 */
import { z } from 'zod';

/** An answer to send as an HTTP error, in OpenAI's error shape. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string | null,
    message: string,
    readonly param: string | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function invalidRequest(message: string, param: string | null = null, code: string | null = null): ApiError {
  return new ApiError(400, 'invalid_request_error', code, message, param);
}

const textPartSchema = z.looseObject({ type: z.string(), text: z.string().optional() });
const messageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(textPartSchema), z.null()]).optional(),
});

const samplingSchema = {
  model: z.string().min(1),
  max_tokens: z.number().int().min(1).nullable().optional(),
  max_completion_tokens: z.number().int().min(1).nullable().optional(),
  n: z.number().int().min(1).max(1).nullable().optional(),
  stream: z.literal(false).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  stop: z
    .union([z.string(), z.array(z.string())])
    .nullable()
    .optional(),
  user: z.string().optional(),
  input: z.string().optional(),
  explain: z.boolean().optional(),
};

export const chatRequestSchema = z.looseObject({ ...samplingSchema, messages: z.array(messageSchema).optional() });
export const completionRequestSchema = z.looseObject({ ...samplingSchema, prompt: z.union([z.string(), z.array(z.string()).min(1)]).optional() });

export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type CompletionRequest = z.infer<typeof completionRequestSchema>;

/** The body, validated, or an ApiError naming the first offending parameter. */
export function parseRequest<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidRequest('the request body must be a JSON object');
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = issue.path.map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`)).join('');
  if (param === 'stream')
    return throwError(invalidRequest('streaming is not supported by the zsd student server; send stream: false', 'stream', 'unsupported_parameter'));
  if (param === 'n') return throwError(invalidRequest('the student answers deterministically: n must be 1', 'n', 'unsupported_parameter'));
  // a value none of a union's types accept is a wrong type too (content: string or parts; prompt: string or strings)
  const wrongType = issue.code === 'invalid_type' || issue.code === 'invalid_union';
  const received = wrongType ? ` (got ${describeValue(valueAt(body, issue.path))})` : '';
  return throwError(invalidRequest(`Invalid value for '${param}': ${issue.message}${received}`, param || null, wrongType ? 'invalid_type' : 'invalid_value'));
}

function throwError(error: ApiError): never {
  throw error;
}

function valueAt(body: unknown, pathParts: readonly PropertyKey[]): unknown {
  let value: unknown = body;
  for (const part of pathParts) value = (value as Record<PropertyKey, unknown> | undefined)?.[part];
  return value;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** The text of a message's content: a string, or the text parts joined. */
export function contentText(content: z.infer<typeof messageSchema>['content']): string {
  if (typeof content === 'string') return content;
  if (!content) return '';
  return content
    .filter((part) => part.type === 'text' && typeof part.text === 'string')
    .map((part) => part.text)
    .join('');
}

/**
 * The task input of a chat request: `input` when given, else the last user message (the student has no system
 * prompt and no dialogue: a template that is only the task's own input, such as svamp's template 1, sends it as is).
 */
export function chatInput(request: ChatRequest): string {
  if (request.input !== undefined) return request.input;
  if (request.messages === undefined)
    throw invalidRequest("you must provide a 'messages' parameter (or zsd's 'input')", 'messages', 'missing_required_parameter');
  for (let index = request.messages.length - 1; index >= 0; index--) {
    const message = request.messages[index];
    if (message.role === 'user') return contentText(message.content);
  }
  throw invalidRequest("'messages' must contain a message with role 'user' (the student answers the last one)", 'messages', 'invalid_value');
}

/** The task inputs of a completion request: `input`, else the prompt (an array of prompts gets one choice each). */
export function completionInputs(request: CompletionRequest): string[] {
  if (request.input !== undefined) return [request.input];
  if (request.prompt === undefined) throw invalidRequest("you must provide a 'prompt' parameter (or zsd's 'input')", 'prompt', 'missing_required_parameter');
  return typeof request.prompt === 'string' ? [request.prompt] : request.prompt;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usageOf(answers: readonly { promptTokens: number; completionTokens: number }[]): Usage {
  const prompt = answers.reduce((sum, answer) => sum + answer.promptTokens, 0);
  const completion = answers.reduce((sum, answer) => sum + answer.completionTokens, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}
