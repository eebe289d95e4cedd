import { ZsdError } from '../../core/errors';
import { HttpError, nowSeconds, type Completion, type Exchange } from '../../teacher/replay-server';

/**
 * Injected faults for the fake OpenAI server: what a real API does to a client on a bad day.
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
 */

export const FAULT_KINDS = ['rate-limit', 'server-error', 'unavailable', 'hang', 'reset', 'malformed', 'empty', 'quota', 'auth'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultSpec {
  /** Kinds in spec order with their probabilities per completion request (sum at most 1). */
  rates: ReadonlyArray<{ kind: FaultKind; rate: number }>;
  seed: number;
  /** No faults for the first `after` completion requests. */
  after: number;
}

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

/** The fault of each completion request in arrival order, or undefined for none. */
export function faultSchedule(spec: FaultSpec): () => FaultKind | undefined {
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

export interface FaultOptions {
  /** How long a 'hang' holds the request before destroying its socket. */
  hangMs: number;
  /** Headers of a 'rate-limit' 429. */
  rateLimitHeaders: Readonly<Record<string, string>>;
  /** Quote the request's Authorization header in every fault's error message. */
  echoAuthorization: boolean;
  /** The model named in an 'empty' answer when the request had no answer to empty. */
  defaultModel: string;
  nextId(prefix: string): string;
  /** Keeps a hang's timer, so that closing the server clears it. */
  track(timer: NodeJS.Timeout): void;
  untrack(timer: NodeJS.Timeout): void;
}

/** Answers a request with a fault; `would` is what it would have got (for 'malformed' and 'empty'). */
export function sendFault(kind: FaultKind, exchange: Exchange, would: Completion, options: FaultOptions): void {
  const { request } = exchange;
  const quoted = options.echoAuthorization ? ` (request headers: Authorization: ${request.headers.authorization ?? 'none'})` : '';
  const error = (status: number, type: string, code: string | null, message: string, headers: Record<string, string> = {}): void =>
    exchange.sendJson(status, new HttpError(status, type, code, `${message}${quoted}`).body(), headers);
  switch (kind) {
    case 'rate-limit':
      return error(429, 'rate_limit_exceeded', 'rate_limit_exceeded', 'Rate limit reached (injected fault). Please try again later.', {
        ...options.rateLimitHeaders,
      });
    case 'quota':
      return error(
        429,
        'insufficient_quota',
        'insufficient_quota',
        'You exceeded your current quota, please check your plan and billing details (injected fault).',
      );
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
        options.untrack(timer);
        request.socket.destroy();
      }, options.hangMs);
      options.track(timer);
      request.socket.once('close', () => {
        clearTimeout(timer);
        options.untrack(timer);
      });
      return;
    }
    case 'malformed': {
      const whole = Buffer.from(JSON.stringify(would.kind === 'answer' ? would.body : would.error.body()), 'utf8');
      return exchange.sendBytes(200, whole.subarray(0, Math.floor(whole.length / 2)), { 'content-type': 'application/json' });
    }
    case 'empty': {
      const body =
        would.kind === 'answer'
          ? would.body
          : { id: options.nextId('chatcmpl-fake'), object: 'chat.completion', created: nowSeconds(), model: options.defaultModel };
      const promptTokens = would.kind === 'answer' ? would.body.usage.prompt_tokens : 0;
      return exchange.sendJson(200, { ...body, choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: 0, total_tokens: promptTokens } });
    }
  }
}
