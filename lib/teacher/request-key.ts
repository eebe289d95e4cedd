import { createHash } from 'node:crypto';

/**
 * The cache key of a teacher request: sha256 of the canonical JSON of everything that decides the answer:
 * a format version, the model, the endpoint, the messages (or prompt) and the sampling parameters.
 * Keys are sorted, undefined parameters dropped, so equal requests always hash equal. Never part of it:
 * the API key, the base URL, timeouts or anything else that does not change what the model is asked.
 * Editing a template (a different prompt), the model or a sampling parameter gives a new key, so an edited
 * template can never silently reuse a stale answer (the study's cache keyed on split, row and template id).
 */

export const REQUEST_KEY_VERSION = 'zsd-request-v1';

export type TeacherEndpoint = 'chat' | 'completion';

export interface SamplingParameters {
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  seed?: number;
  stop?: string[];
  presence_penalty?: number;
  frequency_penalty?: number;
}

export interface TeacherRequest {
  model: string;
  endpoint: TeacherEndpoint;
  /** Chat: the system and user messages. */
  system: string;
  user: string;
  parameters: SamplingParameters;
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, field]) => field !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, field]) => `${JSON.stringify(key)}:${canonicalJson(field)}`).join(',')}}`;
}

export function requestKey(request: TeacherRequest): string {
  const body = request.endpoint === 'chat' ? { messages: chatMessages(request) } : { prompt: completionPrompt(request) };
  const canonical = canonicalJson({ format: REQUEST_KEY_VERSION, model: request.model, endpoint: request.endpoint, ...body, parameters: request.parameters });
  return createHash('sha256').update(canonical).digest('hex');
}

/** The messages sent: a system message (also when empty, as the study sent it) and the user message. */
export function chatMessages(request: Pick<TeacherRequest, 'system' | 'user'>): { role: 'system' | 'user'; content: string }[] {
  return [
    { role: 'system', content: request.system },
    { role: 'user', content: request.user },
  ];
}

/** Legacy completion models get system and user message joined by a space, as the study did. */
export function completionPrompt(request: Pick<TeacherRequest, 'system' | 'user'>): string {
  return `${request.system} ${request.user}`;
}

/** The study's `complete_prompt` for a request: what its old lines are matched on. */
export function studyCompletePrompt(request: TeacherRequest): string {
  return request.endpoint === 'chat' ? `${request.system}\n${request.user}` : completionPrompt(request);
}
