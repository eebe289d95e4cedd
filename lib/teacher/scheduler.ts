import type { LockHolder } from '../core/file-lock';
import { abortableSleep } from '../core/sleep';
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
 * - Retries: rate limits wait Retry-After (capped at `maxRetryWaitMs`, default 60 s), timeouts, connection and
 *   server errors back off exponentially with jitter; quota and auth errors stop the run; a prompt the server refuses
 *   fails its row. Every wait of a second or more is reported (`onWait`) with its reason.
 * - Budget: a job is not started when spent + in-flight estimates + its estimate would pass `maxCostUsd`.
 * - Other processes: a job is sent only while this process holds its store's write lock (taken on the first job
 *   to send, released once the store's last job is settled); the store's tail is re-read on taking it and before
 *   each request. A job whose store another live process holds waits (reported through `onWait`, naming the holder)
 *   while the other jobs go on; a dead holder's lock is taken over.
 * - Abort (Ctrl-C): no new job starts, back-off and lock waits end at once; jobs in flight finish and are written.
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
  /** Waits of a second or more (retries), and waits for another process's store lock. */
  onWait?: (event: WaitEvent) => void;
  /** The longest Retry-After honoured (default 60 s): a server asking for longer is retried after this. */
  maxRetryWaitMs?: number;
  /** Between two looks at a store another process holds (default 250 ms). */
  lockPollMs?: number;
  /** Who this process is, in lock files (default: its command line, secrets redacted). */
  lockCommand?: string;
  /** Default: a sleep that `signal` cuts short. */
  sleep?: (milliseconds: number) => Promise<void>;
  random?: () => number;
}

export type WaitEvent =
  | { kind: 'retry'; job: QueryJob; error: TeacherError; attempt: number; maxAttempts: number; delayMs: number; requestedMs?: number; cappedAtMs?: number }
  | { kind: 'store-lock'; file: string; holder: LockHolder; jobs: number };

export const DEFAULT_MAX_RETRY_WAIT_MS = 60_000;

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
  const maxRetryWaitMs = options.maxRetryWaitMs ?? DEFAULT_MAX_RETRY_WAIT_MS;
  const lockPollMs = options.lockPollMs ?? 250;
  const sleep = options.sleep ?? ((milliseconds: number) => abortableSleep(milliseconds, options.signal));
  const random = options.random ?? Math.random;
  const progress: QueryProgress = {
    total: jobs.length,
    fresh: 0,
    cached: 0,
    failed: 0,
    skipped: 0,
    retries: 0,
    promptTokens: 0,
    completionTokens: 0,
    costUsd: 0,
  };
  const outcomes: QueryOutcome[] = new Array(jobs.length);
  const inFlightByKey = new Map<string, Promise<QueryOutcome>>();
  let stoppedBecause: string | undefined;
  let inFlightEstimate = 0;
  let writeFailure: { error: unknown } | undefined;

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
        const requestedMs = teacherError.retryAfterMs;
        const honouredMs = requestedMs === undefined ? 0 : Math.min(requestedMs, maxRetryWaitMs);
        const delayMs = Math.max(backoff, honouredMs);
        if (delayMs >= 1000) {
          options.onWait?.({
            kind: 'retry',
            job,
            error: teacherError,
            attempt,
            maxAttempts,
            delayMs,
            requestedMs,
            cappedAtMs: requestedMs !== undefined && requestedMs > maxRetryWaitMs ? maxRetryWaitMs : undefined,
          });
        }
        await sleep(delayMs);
        if (options.signal?.aborted) return { kind: 'skipped', job, reason: 'aborted' };
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

  // Store locks: which stores this run holds, and how many of each store's jobs are not settled yet.
  const unsettled = new Map<ResponseStore, number>();
  for (const job of jobs) unsettled.set(job.store, (unsettled.get(job.store) ?? 0) + 1);
  const held = new Set<ResponseStore>();
  const releaseStore = (store: ResponseStore) => {
    if (!held.delete(store)) return;
    store.releaseLock();
  };

  const settle = (index: number, outcome: QueryOutcome) => {
    outcomes[index] = outcome;
    const stop = countOutcome(progress, outcome);
    stoppedBecause ??= stop;
    const left = (unsettled.get(outcome.job.store) ?? 1) - 1;
    unsettled.set(outcome.job.store, left);
    // Its last job settled (its line on disk, or given up): another process may have the store now.
    if (left === 0) releaseStore(outcome.job.store);
    report();
  };

  /** Jobs whose store another process holds: tried again once the queue is empty. */
  let deferred: number[] = [];
  const reportedHolders = new Set<string>();
  let lockWait: Promise<void> | undefined;

  /** Takes the job's store lock (or finds it held by us); false (and the job deferred) when another process holds it. */
  const lockStoreOf = (index: number): boolean => {
    const store = jobs[index].store;
    if (held.has(store)) return true;
    const attempt = store.lockForWriting(options.lockCommand);
    // an explicit `=== false` branch: tslab's TypeScript (no strict null checks) narrows the union only this way
    if (attempt.acquired === false) {
      deferred.push(index);
      const holderId = `${attempt.file}\u0000${attempt.holder.pid}\u0000${attempt.holder.started_at}`;
      if (!reportedHolders.has(holderId)) {
        reportedHolders.add(holderId);
        options.onWait?.({ kind: 'store-lock', file: store.path, holder: attempt.holder, jobs: unsettled.get(store) ?? 0 });
      }
      return false;
    }
    held.add(store);
    return true;
  };

  /** The queue is empty but jobs wait for other processes' locks: wait a little (all workers share one wait), then retry them. */
  const waitForLocks = async (): Promise<void> => {
    lockWait ??= sleep(lockPollMs).then(() => {
      lockWait = undefined;
      if (options.signal?.aborted || stoppedBecause) return;
      queue.push(...deferred);
      deferred = [];
    });
    await lockWait;
  };

  const queue: number[] = jobs.map((_, index) => index);

  const worker = async () => {
    // The slot is free once the answer is here; the store's group commit overlaps the next request. A job counts as
    // done only when its line is on disk, and a worker has at most one answer not yet written.
    let previousWrite: Promise<void> = Promise.resolve();
    for (;;) {
      if (writeFailure) throw writeFailure.error;
      const index = queue.shift();
      if (index === undefined) {
        if (deferred.length === 0) return previousWrite;
        if (options.signal?.aborted || stoppedBecause) {
          const reason = options.signal?.aborted && !stoppedBecause ? 'aborted' : 'stopped';
          for (const waiting of deferred.splice(0)) settle(waiting, { kind: 'skipped', job: jobs[waiting], reason });
          continue;
        }
        await waitForLocks();
        continue;
      }
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
      if (!lockStoreOf(index)) continue;
      // Another process may have stored it since we read the store (cheap: one stat when nothing changed).
      job.store.refresh();
      const storedMeanwhile = job.store.lookup(job.request, job.key);
      if (storedMeanwhile) {
        settle(index, { kind: 'cached', job, record: storedMeanwhile });
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

  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, jobs.length)) }, worker));
  } finally {
    for (const store of [...held]) releaseStore(store);
  }
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
