import { ZsdError } from '../../core/errors';
import { createReplayResponder, parseJsonBody, serveReplay, type CompletionEndpoint, type Exchange, type ReplayStats } from '../../teacher/replay-server';
import { batchApi } from './batch-api';
import { faultSchedule, parseFaultSpec, sendFault } from './faults';
import { echoAnswer, parseFakeScript, scriptedAnswerer, type FakeScript } from './scripted-answers';

export { FAULT_KINDS, mulberry32, parseFaultSpec, type FaultKind, type FaultSpec } from './faults';
export { parseFakeScript, type FakeScript, type FakeScriptRule } from './scripted-answers';

/**
 * The fake OpenAI server of zsd's tests and benchmarks: the product's replay server (lib/teacher/replay-server.ts)
 * with what only tests need on top, through its `intercept` hook and answer sources:
 * - faults (faults.ts): rate limits, 5xx, hangs, resets, truncated and empty bodies, on a seeded schedule;
 * - latency before each completion; a client that went away meanwhile (a timeout, a killed process) is not
 *   answered and not counted: `completions` counts answers delivered, which is what the tests call "paid";
 * - the Files and Batch APIs (batch-api.ts);
 * - scripted optimiser and scorer answers for OPRO (scripted-answers.ts), and `fallback: 'echo'`, a made-up answer
 *   for any unrecorded prompt (benchmarks that send prompts nobody recorded);
 * - GET /fake/stats (the stats as JSON), POST /fake/reset-stats (outside /v1, not counted as requests).
 * A faulted request counts in `faults[kind]`, never in `completions` or `byPrompt`.
 */

export interface FakeOpenAIOptions {
  /** 0 (default): any free port. */
  port?: number;
  /** Workspace roots whose query-results/**\/responses.json are replayed, earlier roots first. */
  replay?: readonly string[];
  /** Milliseconds added before each completion response. */
  latencyMs?: number;
  /** Fault spec, see faults.ts. */
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
  /** Scripted optimiser and scorer answers (scripted-answers.ts). */
  script?: FakeScript;
}

export interface FakeOpenAIStats extends ReplayStats {
  faults: Record<string, number>;
}

export interface FakeOpenAIServer {
  /** Base URL for the SDK, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  port: number;
  stats(): FakeOpenAIStats;
  resetStats(): void;
  close(): Promise<void>;
}

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAIServer> {
  const nextFault = faultSchedule(parseFaultSpec(options.faults ?? ''));
  const scripted = options.script ? scriptedAnswerer(parseFakeScript(options.script)) : undefined;
  const hangMs = options.hangMs ?? 30_000;
  const latencyMs = options.latencyMs ?? 0;
  const completionPolls = options.batchCompletionPolls ?? 2;
  for (const [name, value] of [
    ['latencyMs', latencyMs],
    ['hangMs', hangMs],
    ['batchCompletionPolls', completionPolls],
  ] as const) {
    if (!Number.isFinite(value) || value < 0) throw new ZsdError('usage', `fake OpenAI server option ${name} must be a non-negative number, got ${value}`);
  }
  const responder = createReplayResponder({
    replay: options.replay,
    model: options.model,
    answerFirst: scripted,
    answerUnrecorded: options.fallback === 'echo' ? echoAnswer : undefined,
  });
  let faults: Record<string, number> = {};
  const stats = (): FakeOpenAIStats => ({ ...responder.stats(), faults: { ...faults } });
  const resetStats = (): void => {
    responder.resetStats();
    faults = {};
  };
  const timers = new Set<NodeJS.Timeout>();
  const pendingWaits = new Set<() => void>();
  let closed = false;
  const faultOptions = {
    hangMs,
    rateLimitHeaders: options.rateLimitHeaders ?? { 'retry-after': '1' },
    echoAuthorization: options.echoAuthorization ?? false,
    defaultModel: responder.defaultModel,
    nextId: responder.nextId,
    track: (timer: NodeJS.Timeout) => timers.add(timer),
    untrack: (timer: NodeJS.Timeout) => timers.delete(timer),
  };

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

  /** A completion request with faults and latency; false hands it on to the replay server to answer. */
  async function completion(exchange: Exchange, endpoint: CompletionEndpoint): Promise<boolean> {
    // Validated before the fault draw: an invalid request is a 400 and does not consume the fault schedule.
    const request = responder.parseRequest(endpoint, parseJsonBody(exchange.body));
    const fault = nextFault();
    const faulted = (kind: NonNullable<typeof fault>): true => {
      faults[kind] = (faults[kind] ?? 0) + 1;
      sendFault(kind, exchange, responder.answer(request, false), faultOptions);
      return true;
    };
    if (fault === 'reset' || fault === 'hang') return faulted(fault);
    await wait(latencyMs);
    // A client that gave up meanwhile (timeout, kill) gets nothing, and nothing is counted as paid.
    if (closed || exchange.request.socket.destroyed) return true;
    if (fault) return faulted(fault);
    return false;
  }

  const batches = batchApi(responder, completionPolls);
  const served = await serveReplay(responder, {
    port: options.port,
    intercept: async (exchange) => {
      const { method, at } = exchange;
      if (method === 'GET' && at('fake', 'stats')) {
        exchange.sendJson(200, stats());
        return true;
      }
      if (method === 'POST' && at('fake', 'reset-stats')) {
        resetStats();
        exchange.sendJson(200, { ok: true });
        return true;
      }
      if (method === 'POST' && at('v1', 'chat', 'completions')) return completion(exchange, 'chat');
      if (method === 'POST' && at('v1', 'completions')) return completion(exchange, 'text');
      return batches(exchange);
    },
  });

  return {
    url: served.url,
    port: served.port,
    stats,
    resetStats,
    close: () => {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const done of [...pendingWaits]) done();
      return served.close();
    },
  };
}
