import * as fs from 'node:fs';
import * as path from 'node:path';
import { toFile, type OpenAI } from 'openai';
import { z } from 'zod';
import { ZsdError } from '../core/errors';
import { describeHolder, tryLock, type HeldLock } from '../core/file-lock';
import { writeFileAtomic } from '../core/paths';
import { abortableSleep } from '../core/sleep';
import type { RecordedResponse } from './recorded-responses';
import { classifyTeacherError, createOpenAI, TeacherError, teacherAnswerFrom, teacherRequestBody, type TeacherClientOptions } from './client';
import { costOf, type ModelPrice } from './prices';
import type { TeacherRequest } from './request-key';
import type { ResponseStore, StoredEntry } from './response-store';
import { countOutcome, type QueryJob, type QueryOutcome, type QueryProgress, type QueryRun } from './scheduler';

/**
 * Teacher queries through the OpenAI Batch API (half price, answered within 24h), resumable across runs.
 * Invariants (see README.md in this folder):
 * - Store first: a job whose key is on disk is `cached`; equal keys are sent once.
 * - Nothing paid is lost: a state file is written (atomically) before each step that can spend money, so a process
 *   killed at any point finds its batch on the next run: 'uploading' (nothing on the server that costs) ->
 *   'creating' (input file uploaded; a batch may exist: the next run adopts the one made from that file, else
 *   creates it) -> 'submitted' (batch id known: the next run polls it). Jobs in a pending batch are never resubmitted.
 * - Nothing is paid twice: a create that fails in a way that may have reached the server is retried only after
 *   looking for a batch made from the same input file; ingesting looks each key up again before appending.
 * - A state file becomes `<name>.done.json` (an audit trail, never read again) only once every answer the batch
 *   returned is in a store; requests the batch did not answer (errors, expiry) are resubmitted by the next run.
 * - The API key is never written: state files hold requests, file and batch ids only.
 * - One batch runner per workspace: a run holds `query-results/.batches.lock` and the write locks of the stores its
 *   jobs answer into (core/file-lock.ts), re-reading those stores once it holds them; while another live zsd process
 *   holds any of them it refuses to start, naming that process (two runners would submit the same jobs). A killed
 *   runner's locks are taken over.
 */

/** Where a workspace keeps its batch states: beside the responses they turn into. */
export function batchStateDirectory(workspaceRoot: string): string {
  return path.join(workspaceRoot, 'query-results', '.batches');
}

export interface BatchOptions {
  client: TeacherClientOptions;
  price: ModelPrice;
  /** One JSON state file per batch, e.g. <workspace>/query-results/.batches */
  stateDir: string;
  /** Between two polls of the pending batches (default 30 s). */
  pollIntervalMs?: number;
  /** Lines per batch (default 50,000, OpenAI's limit); more jobs make several batches. */
  maxRequestsPerBatch?: number;
  /** Stop polling; pending batches stay on disk and the next run resumes them. */
  signal?: AbortSignal;
  onProgress?: (progress: QueryProgress) => void;
  sleep?: (milliseconds: number) => Promise<void>;
  /** Attempts per API call (upload, create, poll, download), first included (default 5). */
  maxAttempts?: number;
  /** First retry delay, doubled each attempt up to 60 s (default 1 s); a Retry-After wins when longer. */
  retryDelayMs?: number;
  /**
   * The store for answers of a finished batch that belong to no job of this run (a batch sent by an earlier run
   * for another template). Without it such a batch stays pending until a run that holds those jobs ingests it.
   */
  storeFor?: (task: string, split: string, templateId: number) => ResponseStore | undefined;
}

export type BatchUrl = '/v1/chat/completions' | '/v1/completions';

/** Everything needed to append a request's StoredEntry later, without the run that sent it. */
export interface BatchRequestRecord {
  task: string;
  split: string;
  templateId: number;
  idx: number;
  promptValues: Readonly<Record<string, string>>;
  completePrompt: string;
  request: TeacherRequest;
}

export interface BatchState {
  version: 1;
  status: 'uploading' | 'creating' | 'submitted' | 'done';
  endpoint: BatchUrl;
  model: string;
  /** ISO time the state was first written. */
  created_at: string;
  input_file_id?: string;
  batch_id?: string;
  /** custom_id (the request key) -> the request, in the order of the input file's lines. */
  requests: Record<string, BatchRequestRecord>;
  /** Set when done: how the batch ended. */
  batch_status?: string;
  output_file_id?: string;
  error_file_id?: string;
  finished_at?: string;
}

const DEFAULT_POLL_INTERVAL_MS = 30_000;
const DEFAULT_MAX_REQUESTS_PER_BATCH = 50_000;
const MAX_RETRY_DELAY_MS = 60_000;
const TERMINAL_STATUSES = new Set(['completed', 'failed', 'expired', 'cancelled']);
/** Batches listed when adopting reach back this far before the state's creation (clock skew between us and the server). */
const ADOPT_LOOKBACK_SECONDS = 3600;

const requestRecordSchema = z.object({
  task: z.string(),
  split: z.string(),
  templateId: z.number().int().nonnegative(),
  idx: z.number().int().nonnegative(),
  promptValues: z.record(z.string(), z.string()),
  completePrompt: z.string(),
  request: z.object({
    model: z.string(),
    endpoint: z.enum(['chat', 'completion']),
    system: z.string(),
    user: z.string(),
    parameters: z.looseObject({}),
  }),
});
const stateSchema = z.object({
  version: z.literal(1),
  status: z.enum(['uploading', 'creating', 'submitted', 'done']),
  endpoint: z.enum(['/v1/chat/completions', '/v1/completions']),
  model: z.string(),
  created_at: z.string(),
  input_file_id: z.string().optional(),
  batch_id: z.string().optional(),
  requests: z.record(z.string(), requestRecordSchema),
  batch_status: z.string().optional(),
  output_file_id: z.string().optional(),
  error_file_id: z.string().optional(),
  finished_at: z.string().optional(),
});

const outputLineSchema = z.looseObject({
  custom_id: z.string(),
  response: z.looseObject({ status_code: z.number(), body: z.unknown() }).nullable().optional(),
  error: z.looseObject({ code: z.string().nullable().optional(), message: z.string().nullable().optional() }).nullable().optional(),
});

/** A batch this run tracks: its state file and whether a job of this run waits for it. */
interface PendingBatch {
  name: string;
  file: string;
  state: BatchState;
  /** Some job of this run is unanswered and in this batch: poll until it ends. Else one look, to tidy up. */
  waiting: boolean;
}

type Attempt<T> = { ok: true; value: T } | { ok: false; error: TeacherError };

export async function runBatchQueries(jobs: readonly QueryJob[], options: BatchOptions): Promise<QueryRun> {
  const locks: HeldLock[] = [];
  const lockedStores = new Set<ResponseStore>();
  const refuse = (what: string, attempt: { holder: Parameters<typeof describeHolder>[0]; file: string }): never => {
    throw new ZsdError(
      'incomplete',
      `${what} is in use by another zsd process, ${describeHolder(attempt.holder)} (lock ${attempt.file}); two batch runs would submit the same requests: wait for it to end, or stop it (a later run resumes its batches)`,
    );
  };
  try {
    const toSend = jobs.filter((job) => !job.store.lookup(job.request, job.key));
    const pendingOnDisk =
      fs.existsSync(options.stateDir) && fs.readdirSync(options.stateDir).some((entry) => entry.endsWith('.json') && !entry.endsWith('.done.json'));
    if (toSend.length > 0 || pendingOnDisk) {
      const batchesLock = tryLock(options.stateDir);
      if (batchesLock.acquired === false) refuse(`the batch directory ${options.stateDir}`, batchesLock);
      else locks.push(batchesLock.lock);
      for (const store of new Set(toSend.map((job) => job.store))) {
        const attempt = store.lockForWriting();
        if (attempt.acquired === false) refuse(`the response store ${store.path}`, attempt);
        lockedStores.add(store);
      }
    }
    // Stores of earlier runs' batches: only while no other process writes them; else their batch waits for a later run.
    const storeFor = options.storeFor;
    const lockedStoreFor = storeFor
      ? (task: string, split: string, templateId: number): ResponseStore | undefined => {
          const store = storeFor(task, split, templateId);
          if (!store || lockedStores.has(store)) return store;
          if (!store.lockForWriting().acquired) return undefined;
          lockedStores.add(store);
          return store;
        }
      : undefined;
    return await runLockedBatchQueries(jobs, { ...options, storeFor: lockedStoreFor });
  } finally {
    for (const store of lockedStores) store.releaseLock();
    for (const lock of locks) lock.release();
  }
}

async function runLockedBatchQueries(jobs: readonly QueryJob[], options: BatchOptions): Promise<QueryRun> {
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const maxRequestsPerBatch = options.maxRequestsPerBatch ?? DEFAULT_MAX_REQUESTS_PER_BATCH;
  const maxAttempts = options.maxAttempts ?? 5;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const signal = options.signal;
  const sleep = options.sleep ?? ((milliseconds: number) => abortableSleep(milliseconds, signal));
  if (!Number.isInteger(maxRequestsPerBatch) || maxRequestsPerBatch < 1) {
    throw new ZsdError('usage', `maxRequestsPerBatch must be a positive integer, got ${maxRequestsPerBatch}`);
  }

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
  let stoppedBecause: string | undefined;
  let sdk: OpenAI | undefined;
  // Built on first use: a run that is all cache needs no key and makes no request.
  const openai = (): OpenAI => (sdk ??= createOpenAI(options.client));

  const settle = (index: number, outcome: QueryOutcome): void => {
    if (outcomes[index]) return;
    outcomes[index] = outcome;
    const stop = countOutcome(progress, outcome);
    stoppedBecause ??= stop;
    options.onProgress?.({ ...progress });
    for (const duplicate of duplicatesOf.get(index) ?? []) {
      const job = jobs[duplicate];
      settle(duplicate, outcome.kind === 'fresh' ? { kind: 'cached', job, record: outcome.record } : ({ ...outcome, job } as QueryOutcome));
    }
  };

  const backOff = (attemptNumber: number, error: TeacherError): Promise<void> => {
    progress.retries++;
    // A Retry-After is honoured up to the same cap as the back-off: a server asking for an hour is asked again sooner.
    return sleep(Math.min(MAX_RETRY_DELAY_MS, Math.max(retryDelayMs * 2 ** (attemptNumber - 1), error.retryAfterMs ?? 0)));
  };

  /** One API call with the batch runner's retries: timeouts, connection, server errors and rate limits back off. */
  const attempt = async <T>(call: () => Promise<T>): Promise<Attempt<T>> => {
    for (let attemptNumber = 1; ; attemptNumber++) {
      try {
        return { ok: true, value: await call() };
      } catch (error) {
        const teacherError = classifyTeacherError(error);
        if (!teacherError.retryable || attemptNumber >= maxAttempts) return { ok: false, error: teacherError };
        await backOff(attemptNumber, teacherError);
      }
    }
  };

  // 1. Pending batches on disk, from earlier runs.
  /** The batch each request key waits for: one from an earlier run, or one sent by this run. */
  const batchOfKey = new Map<string, PendingBatch>();
  for (const pending of readPendingStates(options.stateDir)) {
    if (!pending.state.input_file_id) {
      // Died while uploading: no batch can exist, nothing was paid; the requests go out again below.
      fs.rmSync(pending.file, { force: true });
      continue;
    }
    for (const key of Object.keys(pending.state.requests)) if (!batchOfKey.has(key)) batchOfKey.set(key, pending);
  }

  // 2. Cache, duplicates, and which jobs a pending batch already answers.
  const primaryByKey = new Map<string, number>();
  const duplicatesOf = new Map<number, number[]>();
  const remaining: number[] = [];
  const tracked = new Set<PendingBatch>();
  /** Where an answer for a key goes: the store of the first job of this run with that key (cached ones included). */
  const storeOfKey = new Map<string, ResponseStore>();
  jobs.forEach((job, index) => {
    if (!storeOfKey.has(job.key)) storeOfKey.set(job.key, job.store);
    const cached = job.store.lookup(job.request, job.key);
    const pending = batchOfKey.get(job.key);
    if (pending) tracked.add(pending); // also when cached: a batch whose answers are all stored gets tidied up
    if (cached) {
      settle(index, { kind: 'cached', job, record: cached });
      return;
    }
    const primary = primaryByKey.get(job.key);
    if (primary !== undefined) {
      duplicatesOf.set(primary, [...(duplicatesOf.get(primary) ?? []), index]);
      return;
    }
    primaryByKey.set(job.key, index);
    if (pending) pending.waiting = true;
    else remaining.push(index);
  });
  const isUnanswered = (index: number): boolean => outcomes[index] === undefined;

  // 3. States that died between upload and create: adopt the batch made from their input file, or create it now.
  for (const pending of [...tracked]) {
    if (pending.state.batch_id) continue;
    if (signal?.aborted || stoppedBecause) break;
    const created = await createBatch(pending, true);
    if (!created) tracked.delete(pending);
  }

  // 4. New batches: one per (endpoint, model), at most maxRequestsPerBatch lines each.
  const groups = new Map<string, number[]>();
  for (const index of remaining) {
    const request = jobs[index].request;
    const group = `${request.endpoint}\u0000${request.model}`;
    groups.set(group, [...(groups.get(group) ?? []), index]);
  }
  for (const indices of groups.values()) {
    for (let start = 0; start < indices.length; start += maxRequestsPerBatch) {
      if (signal?.aborted || stoppedBecause) break;
      const pending = await submit(indices.slice(start, start + maxRequestsPerBatch));
      if (pending) tracked.add(pending);
    }
  }

  // 5. Poll until every batch a job waits for has ended.
  let active = [...tracked].filter((pending) => pending.state.batch_id);
  while (active.length > 0 && !signal?.aborted && !stoppedBecause) {
    const stillActive: PendingBatch[] = [];
    for (const pending of active) {
      if (signal?.aborted || stoppedBecause) break;
      const batchId = pending.state.batch_id as string;
      const polled = await attempt(() => openai().batches.retrieve(batchId));
      if (polled.ok === false) {
        if (polled.error.stopsRun) stoppedBecause ??= polled.error.message;
        else failWaiting(pending, withContext(polled.error, `polling batch ${batchId} (state ${pending.file}, kept for the next run)`));
        continue;
      }
      if (TERMINAL_STATUSES.has(polled.value.status)) await ingest(pending, polled.value);
      else if (pending.waiting) stillActive.push(pending);
    }
    active = stillActive;
    if (active.length > 0 && !signal?.aborted && !stoppedBecause) await sleep(pollIntervalMs);
  }

  // 6. Whatever is unanswered now waits for the next run (its batch stays on disk) or was never sent.
  jobs.forEach((job, index) => {
    if (isUnanswered(index) && primaryByKey.get(job.key) === index)
      settle(index, { kind: 'skipped', job, reason: signal?.aborted && !stoppedBecause ? 'aborted' : 'stopped' });
  });
  if (!stoppedBecause && signal?.aborted) stoppedBecause = 'interrupted';
  return { outcomes, progress, stoppedBecause };

  // -------------------------------------------------------------------------------------------------------------

  /** Fails the unanswered jobs of this run that wait for `pending`. */
  function failWaiting(pending: PendingBatch, error: TeacherError): void {
    for (const key of Object.keys(pending.state.requests)) {
      const index = primaryByKey.get(key);
      if (index !== undefined && isUnanswered(index) && batchOfKey.get(key) === pending) settle(index, { kind: 'failed', job: jobs[index], error });
    }
  }

  async function submit(indices: readonly number[]): Promise<PendingBatch | undefined> {
    const first = jobs[indices[0]].request;
    const requests: Record<string, BatchRequestRecord> = {};
    const lines: string[] = [];
    for (const index of indices) {
      const job = jobs[index];
      requests[job.key] = {
        task: job.store.task,
        split: job.row.split,
        templateId: job.row.templateId,
        idx: job.row.idx,
        promptValues: job.row.promptValues,
        completePrompt: job.row.completePrompt,
        request: job.request,
      };
      const post = teacherRequestBody(job.request);
      lines.push(JSON.stringify({ custom_id: job.key, method: 'POST', url: post.url, body: post.body }));
    }
    const createdAt = new Date();
    const name = `${createdAt.toISOString().replace(/[:.]/g, '-')}-${shortHash(Object.keys(requests).join('\n'))}`;
    const pending: PendingBatch = {
      name,
      file: path.join(options.stateDir, `${name}.json`),
      state: { version: 1, status: 'uploading', endpoint: teacherRequestBody(first).url, model: first.model, created_at: createdAt.toISOString(), requests },
      waiting: true,
    };
    for (const key of Object.keys(requests)) batchOfKey.set(key, pending);
    writeState(pending);

    const uploaded = await attempt(async () =>
      openai().files.create({ file: await toFile(Buffer.from(lines.map((line) => `${line}\n`).join(''), 'utf8'), `${name}.jsonl`), purpose: 'batch' }),
    );
    if (uploaded.ok === false) {
      // No batch without an input file: nothing was paid, the jobs go out again next run.
      fs.rmSync(pending.file, { force: true });
      if (uploaded.error.stopsRun) stoppedBecause ??= uploaded.error.message;
      else failWaiting(pending, withContext(uploaded.error, 'uploading the batch input file'));
      return undefined;
    }
    pending.state = { ...pending.state, status: 'creating', input_file_id: uploaded.value.id };
    writeState(pending);
    return (await createBatch(pending, false)) ? pending : undefined;
  }

  /**
   * Creates the batch of a 'creating' state and records its id. A batch may already exist when an earlier process
   * died after creating it (`resumed`) or when a create's answer was lost: then the one made from the same input
   * file is adopted, so no request is paid twice.
   */
  async function createBatch(pending: PendingBatch, resumed: boolean): Promise<boolean> {
    const inputFileId = pending.state.input_file_id as string;
    const giveUp = (error: TeacherError, context: string): false => {
      if (error.stopsRun) stoppedBecause ??= error.message;
      else failWaiting(pending, withContext(error, context));
      return false;
    };
    const keptFor = `state ${pending.file}, kept for the next run`;
    // True once a batch may exist for this input file (a create reached the server, or we cannot tell).
    let mayExist = resumed;
    for (let attemptNumber = 1; ; attemptNumber++) {
      if (mayExist) {
        const found = await attempt(() => findBatchFromFile(inputFileId, Date.parse(pending.state.created_at) / 1000 - ADOPT_LOOKBACK_SECONDS));
        // Without the list we cannot tell whether the batch exists: creating one now could pay twice.
        if (found.ok === false) return giveUp(found.error, `looking for the batch of input file ${inputFileId} (${keptFor})`);
        if (found.value) return recordBatchId(pending, found.value.id);
      }
      try {
        const batch = await openai().batches.create({
          input_file_id: inputFileId,
          endpoint: pending.state.endpoint,
          completion_window: '24h',
          metadata: { zsd_state: pending.name, zsd_model: pending.state.model },
        });
        return recordBatchId(pending, batch.id);
      } catch (error) {
        const teacherError = classifyTeacherError(error);
        const refused = teacherError.status !== undefined && !teacherError.retryable;
        if (refused && !mayExist) {
          // The server refused the only create: no batch exists, nothing was paid; the requests go out again next run.
          fs.rmSync(pending.file, { force: true });
          return giveUp(teacherError, 'creating the batch');
        }
        mayExist ||= !refused;
        if (refused || attemptNumber >= maxAttempts) return giveUp(teacherError, `creating the batch (${keptFor})`);
        await backOff(attemptNumber, teacherError);
      }
    }
  }

  function recordBatchId(pending: PendingBatch, batchId: string): true {
    pending.state = { ...pending.state, status: 'submitted', batch_id: batchId };
    writeState(pending);
    return true;
  }

  /** The newest batch made from an input file, listing newest first until `notBefore` (seconds). */
  async function findBatchFromFile(inputFileId: string, notBefore: number): Promise<OpenAI.Batches.Batch | undefined> {
    for await (const batch of openai().batches.list({ limit: 100 })) {
      if (batch.input_file_id === inputFileId) return batch;
      if (batch.created_at < notBefore) return undefined;
    }
    return undefined;
  }

  async function download(fileId: string): Promise<Attempt<string>> {
    return attempt(async () => (await openai().files.content(fileId)).text());
  }

  /** Stores what an ended batch answered; the state becomes `.done.json` once every paid answer is stored. */
  async function ingest(pending: PendingBatch, batch: OpenAI.Batches.Batch): Promise<void> {
    const { requests } = pending.state;
    let everyAnswerStored = true;
    let malformed: string | undefined;
    const files = [batch.output_file_id, batch.error_file_id].filter((id): id is string => typeof id === 'string' && id !== '');
    for (const fileId of files) {
      const content = await download(fileId);
      if (content.ok === false) {
        if (content.error.stopsRun) stoppedBecause ??= content.error.message;
        else failWaiting(pending, withContext(content.error, `downloading ${fileId} of batch ${batch.id} (state ${pending.file}, kept for the next run)`));
        return;
      }
      content.value.split('\n').forEach((text, lineIndex) => {
        if (text.trim() === '') return;
        const line = parseOutputLine(text);
        if (!line) {
          // Which request it answers is unknown: keep the state, so no paid answer is given up on.
          malformed = `line ${lineIndex + 1} of ${fileId} (batch ${batch.id}) is not a batch output line`;
          return;
        }
        const record = requests[line.custom_id];
        if (!record) return; // not ours: the custom_id is a request key this state never sent
        if (!ingestLine(pending, batch, line, record)) everyAnswerStored = false;
      });
    }
    if (malformed) {
      failWaiting(pending, new TeacherError('malformed', `malformed batch output: ${malformed} (state ${pending.file}, kept for the next run)`, true));
      return;
    }
    if (batch.status === 'failed') {
      const keys = Object.keys(requests);
      const failures = batchFailures(batch);
      for (const [line, error] of failures.byLine) {
        const index = primaryByKey.get(keys[line - 1]);
        if (index !== undefined && batchOfKey.get(keys[line - 1]) === pending) settle(index, { kind: 'failed', job: jobs[index], error });
      }
      failWaiting(pending, failures.general);
    } else {
      const why = `batch ${batch.id} ended '${batch.status}' without answering this request; the next run sends it again`;
      failWaiting(pending, new TeacherError('timeout', why, true));
    }
    if (!everyAnswerStored) return;
    pending.state = {
      ...pending.state,
      status: 'done',
      batch_status: batch.status,
      output_file_id: batch.output_file_id ?? undefined,
      error_file_id: batch.error_file_id ?? undefined,
      finished_at: new Date().toISOString(),
    };
    writeState(pending);
    fs.renameSync(pending.file, path.join(options.stateDir, `${pending.name}.done.json`));
    tracked.delete(pending);
  }

  /** One output line; false when it holds a paid answer that no store could take. */
  function ingestLine(pending: PendingBatch, batch: OpenAI.Batches.Batch, line: z.infer<typeof outputLineSchema>, record: BatchRequestRecord): boolean {
    const key = line.custom_id;
    const index = primaryByKey.get(key);
    const job = index !== undefined ? jobs[index] : undefined;
    const status = line.response?.status_code;
    if (status !== 200 || line.error) {
      if (job && index !== undefined && batchOfKey.get(key) === pending) settle(index, { kind: 'failed', job, error: lineError(line, batch) });
      return true; // not answered, not paid: the next run sends it again
    }
    const store = storeOfKey.get(key) ?? options.storeFor?.(record.task, record.split, record.templateId);
    if (!store) return false;
    let answer;
    try {
      answer = teacherAnswerFrom(record.request, line.response?.body);
    } catch (error) {
      if (job && index !== undefined) settle(index, { kind: 'failed', job, error: classifyTeacherError(error) });
      return true;
    }
    const stored = store.lookup(record.request, key);
    if (stored) {
      if (job && index !== undefined) settle(index, { kind: 'cached', job, record: stored });
      return true;
    }
    const costUsd = costOf(answer.usage, options.price, true);
    const entry: StoredEntry = {
      split: record.split,
      idx: record.idx,
      prompt_template_id: record.templateId,
      prompt_values: record.promptValues,
      complete_prompt: record.completePrompt,
      response: answer.text,
      model: record.request.model,
      endpoint: record.request.endpoint,
      parameters: record.request.parameters,
      usage: answer.usage,
      cost_usd: costUsd,
      key,
      created_at: new Date().toISOString(),
      batch_id: batch.id,
    };
    const appended: RecordedResponse = store.append(entry);
    if (job && index !== undefined) settle(index, { kind: 'fresh', job, record: appended, usage: answer.usage, costUsd });
    return true;
  }

  function writeState(pending: PendingBatch): void {
    writeFileAtomic(pending.file, `${JSON.stringify(pending.state, null, 2)}\n`);
  }
}

/** The state files of batches not yet done, oldest first. A file that does not parse stops the run: guessing could pay twice. */
function readPendingStates(stateDir: string): PendingBatch[] {
  if (!fs.existsSync(stateDir)) return [];
  return fs
    .readdirSync(stateDir)
    .filter((entry) => entry.endsWith('.json') && !entry.endsWith('.done.json'))
    .sort()
    .map((entry) => {
      const file = path.join(stateDir, entry);
      let value: unknown;
      try {
        value = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (error) {
        throw new ZsdError(
          'invalid-file',
          `batch state is not JSON (${(error as Error).message}); it records a batch that may be paid for: repair or move it by hand`,
          { file },
        );
      }
      const parsed = stateSchema.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new ZsdError(
          'invalid-file',
          `batch state: ${issue.message}; expected {version: 1, status, endpoint, model, created_at, input_file_id?, batch_id?, requests}`,
          {
            file,
            key: issue.path.map(String).join('.'),
          },
        );
      }
      return { name: entry.slice(0, -'.json'.length), file, state: parsed.data as BatchState, waiting: false };
    });
}

function parseOutputLine(text: string): z.infer<typeof outputLineSchema> | undefined {
  try {
    const parsed = outputLineSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A request's error line, classified like a direct request's error (kind from status and code). */
function lineError(line: z.infer<typeof outputLineSchema>, batch: OpenAI.Batches.Batch): TeacherError {
  const status = line.response?.status_code;
  const body = line.response?.body as { error?: { message?: string; code?: string | null } } | undefined;
  const message = body?.error?.message ?? line.error?.message ?? `no answer (status ${status ?? 'none'})`;
  const code = body?.error?.code ?? line.error?.code ?? undefined;
  const error = classifyTeacherError(typeof status === 'number' && status !== 200 ? { status, message, code } : { name: 'BatchLineError', message, code });
  return withContext(error, `in batch ${batch.id}`);
}

/** A batch the server refused as a whole (validation): the error of each line it names, and one for the others. */
function batchFailures(batch: OpenAI.Batches.Batch): { byLine: Map<number, TeacherError>; general: TeacherError } {
  const errors = batch.errors?.data ?? [];
  const byLine = new Map<number, TeacherError>();
  for (const error of errors) {
    if (typeof error.line !== 'number' || byLine.has(error.line)) continue;
    byLine.set(
      error.line,
      new TeacherError('bad-request', `batch ${batch.id} failed: its line ${error.line} was refused: ${error.message ?? error.code ?? 'invalid'}`, false),
    );
  }
  const summary = errors.map((error) => `${error.line ? `line ${error.line}: ` : ''}${error.message ?? error.code ?? 'invalid'}`).join('; ');
  return {
    byLine,
    general: new TeacherError('bad-request', `batch ${batch.id} failed (${summary || 'no reason given'}); this request was not answered`, false),
  };
}

function withContext(error: TeacherError, context: string): TeacherError {
  return new TeacherError(error.kind, `${error.message} (${context})`, error.retryable, error.status, error.retryAfterMs);
}

function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, '0');
}
