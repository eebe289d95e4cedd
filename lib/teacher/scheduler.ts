import type { RecordedResponse } from './recorded-responses';
import { TeacherError, type TeacherAnswer } from './client';
import { costOf, type ModelPrice } from './prices';
import type { TeacherRequest } from './request-key';
import type { ResponseStore, StoredEntry } from './response-store';

/**
 * Runs teacher queries with bounded concurrency and the only retry layer (see README.md in this folder).
 * - Store first: a job whose key is on disk is `cached`, nothing is sent.
 * - Each fresh answer is appended to the store (write + fsync) before the job counts as done; its concurrency slot
 *   is free once the answer has arrived, so the store's group commit overlaps the next request. A failed write
 *   stops the run with its error: the request is not sent again (that would pay twice).
 * - Equal keys in one run are asked once; the others wait for that answer.
 * - Retries: rate limits wait Retry-After (or back off), timeouts, connection and server errors back off
 *   exponentially with jitter; quota and auth errors stop the run; a prompt the server refuses fails its row.
 * - Budget: a job is not started when spent + in-flight estimates + its estimate would pass `maxCostUsd`.
 * - Abort (Ctrl-C): no new job starts; jobs in flight finish and are written.
 */

export interface QueryJob {
  request: TeacherRequest;
  key: string;
  store: ResponseStore;
  row: { split: string; idx: number; templateId: number; promptValues: Readonly<Record<string, string>>; completePrompt: string };
}

export type QueryOutcome =
  | { kind: 'fresh'; job: QueryJob; record: RecordedResponse; usage: { prompt_tokens: number; completion_tokens: number }; costUsd: number }
  | { kind: 'cached'; job: QueryJob; record: RecordedResponse }
  | { kind: 'failed'; job: QueryJob; error: TeacherError }
  | { kind: 'skipped'; job: QueryJob; reason: 'budget' | 'stopped' | 'aborted' };

export interface QueryClient {
  complete(request: TeacherRequest): Promise<TeacherAnswer>;
}

export interface SchedulerOptions {
  concurrency: number;
  price: ModelPrice;
  /** Attempts per job, first included. */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxCostUsd?: number;
  /** Dollars a job is expected to cost (for the budget check). */
  estimateCostUsd?: (job: QueryJob) => number;
  signal?: AbortSignal;
  onProgress?: (progress: QueryProgress) => void;
  sleep?: (milliseconds: number) => Promise<void>;
  random?: () => number;
}

export interface QueryProgress {
  total: number;
  fresh: number;
  cached: number;
  failed: number;
  skipped: number;
  retries: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

export interface QueryRun {
  outcomes: QueryOutcome[];
  progress: QueryProgress;
  /** Why the run stopped early, if it did. */
  stoppedBecause?: string;
}

export async function runQueries(jobs: readonly QueryJob[], client: QueryClient, options: SchedulerOptions): Promise<QueryRun> {
  const maxAttempts = options.maxAttempts ?? 8;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 60_000;
  const sleep = options.sleep ?? ((milliseconds: number) => new Promise<void>((resolve) => setTimeout(resolve, milliseconds)));
  const random = options.random ?? Math.random;
  const progress: QueryProgress = { total: jobs.length, fresh: 0, cached: 0, failed: 0, skipped: 0, retries: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 };
  const outcomes: QueryOutcome[] = new Array(jobs.length);
  const inFlightByKey = new Map<string, Promise<QueryOutcome>>();
  let stoppedBecause: string | undefined;
  let inFlightEstimate = 0;
  let writeFailure: { error: unknown } | undefined;
  let next = 0;

  const report = () => options.onProgress?.({ ...progress });

  /** The teacher's answer, after retries; or the job's failure. Only request errors are caught here. */
  const ask = async (job: QueryJob): Promise<TeacherAnswer | QueryOutcome> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await client.complete(job.request);
      } catch (error) {
        const teacherError = error instanceof TeacherError ? error : new TeacherError('connection', String(error), true);
        if (!teacherError.retryable || attempt >= maxAttempts) return { kind: 'failed', job, error: teacherError };
        progress.retries++;
        const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)) * (0.5 + random() / 2);
        await sleep(Math.max(backoff, teacherError.retryAfterMs ?? 0));
      }
    }
  };

  /** Writes a fresh answer durably. A failed write is not retried as a request (that would pay again): it throws. */
  const store = async (job: QueryJob, answer: TeacherAnswer): Promise<QueryOutcome> => {
    const costUsd = costOf(answer.usage, options.price);
    const entry: StoredEntry = {
      split: job.row.split,
      idx: job.row.idx,
      prompt_template_id: job.row.templateId,
      prompt_values: job.row.promptValues,
      complete_prompt: job.row.completePrompt,
      response: answer.text,
      model: job.request.model,
      endpoint: job.request.endpoint,
      parameters: job.request.parameters,
      usage: answer.usage,
      cost_usd: costUsd,
      key: job.key,
      created_at: new Date().toISOString(),
    };
    const record = await job.store.commit(entry);
    return { kind: 'fresh', job, record, usage: answer.usage, costUsd };
  };

  const settle = (index: number, outcome: QueryOutcome) => {
    outcomes[index] = outcome;
    const stop = countOutcome(progress, outcome);
    stoppedBecause ??= stop;
    report();
  };

  const worker = async () => {
    // The slot is free once the answer is here; the store's group commit overlaps the next request. A job counts as
    // done only when its line is on disk, and a worker has at most one answer not yet written.
    let previousWrite: Promise<void> = Promise.resolve();
    for (;;) {
      if (writeFailure) throw writeFailure.error;
      const index = next++;
      if (index >= jobs.length) return previousWrite;
      const job = jobs[index];
      const cachedRecord = job.store.lookup(job.request, job.key);
      if (cachedRecord) {
        settle(index, { kind: 'cached', job, record: cachedRecord });
        continue;
      }
      if (options.signal?.aborted) {
        settle(index, { kind: 'skipped', job, reason: 'aborted' });
        continue;
      }
      if (stoppedBecause) {
        settle(index, { kind: 'skipped', job, reason: 'stopped' });
        continue;
      }
      const shared = inFlightByKey.get(job.key);
      if (shared) {
        const first = await shared;
        settle(index, first.kind === 'fresh' ? { kind: 'cached', job, record: first.record } : ({ ...first, job } as QueryOutcome));
        continue;
      }
      const estimate = options.estimateCostUsd?.(job) ?? 0;
      if (options.maxCostUsd !== undefined && progress.costUsd + inFlightEstimate + estimate > options.maxCostUsd) {
        stoppedBecause ??= `the next query would pass the budget of $${options.maxCostUsd.toFixed(4)} (spent $${progress.costUsd.toFixed(4)})`;
        settle(index, { kind: 'skipped', job, reason: 'budget' });
        continue;
      }
      inFlightEstimate += estimate;
      const answered = ask(job);
      const pending = answered.then((result) => ('kind' in result ? result : store(job, result)));
      inFlightByKey.set(job.key, pending);
      const settled = pending.then((outcome) => {
        inFlightEstimate -= estimate;
        inFlightByKey.delete(job.key);
        settle(index, outcome);
      });
      // A failed write stops every worker before its next request and surfaces when this worker awaits it.
      settled.catch((error: unknown) => (writeFailure ??= { error }));
      await answered;
      await previousWrite;
      previousWrite = settled;
    }
  };

  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, jobs.length)) }, worker));
  if (!stoppedBecause && options.signal?.aborted) stoppedBecause = 'interrupted';
  return { outcomes, progress, stoppedBecause };
}

/** Adds one outcome to the counters (the batch runner counts the same way); returns why the run must stop, if it must. */
export function countOutcome(progress: QueryProgress, outcome: QueryOutcome): string | undefined {
  if (outcome.kind === 'fresh') {
    progress.fresh++;
    progress.promptTokens += outcome.usage.prompt_tokens;
    progress.completionTokens += outcome.usage.completion_tokens;
    progress.costUsd += outcome.costUsd;
  } else if (outcome.kind === 'cached') progress.cached++;
  else if (outcome.kind === 'failed') {
    progress.failed++;
    if (outcome.error.stopsRun) return outcome.error.message;
  } else progress.skipped++;
  return undefined;
}
