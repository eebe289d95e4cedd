import { ZsdError } from '../core/errors';
import type { Workspace } from '../core/paths';
import { redactSecrets } from '../core/secrets';
import { accumulateQueryCosts, paidQueryCosts, recordedCompletionAverages } from '../evaluate/prompt-metadata';
import { batchStateDirectory, runBatchQueries } from '../teacher/batch';
import { TeacherClient } from '../teacher/client';
import { dotEnvFileOf, resolveConnection, type TeacherConnection } from '../teacher/connection';
import { estimateRun, promptTokensOf, type RunEstimate } from '../teacher/estimate';
import { costOf, loadPriceTable, priceFor, type ModelPrice } from '../teacher/prices';
import type { StoreRegistry, TeacherSettings } from '../teacher/query-jobs';
import { STUDY_MODEL } from '../teacher/recorded-responses';
import type { SamplingParameters, TeacherEndpoint, TeacherRequest } from '../teacher/request-key';
import { DEFAULT_MAX_RETRY_WAIT_MS, runQueries, type QueryJob, type QueryProgress, type QueryRun } from '../teacher/scheduler';
import { countTextTokens } from '../teacher/tokens';
import { ignoreEvents, type OnPipelineEvent } from './events';
import type { RootOptions } from './roots';

/**
 * What every querying step (`queryTeacher`, `runPromptExperiment`, `generateTrainingData`, `runOpro`) shares:
 * resolving the teacher (model, endpoint, sampling parameters, price, server and key), and running a set of jobs:
 * a dry-run estimate, or the queries with a budget, progress events, an abort signal, a summary of what was spent
 * and saved, and the costs added to prompt metadata.
 */

/** The study's sampling: langchain's ChatOpenAI defaults (temperature 0.7, nothing else set). */
export const STUDY_TEMPERATURE = 0.7;

/** Which teacher, how it samples, where it is and what it costs. */
export interface TeacherOptions {
  /** As the server names it (default: the study's gpt-3.5-turbo). */
  model?: string;
  /** Default: completion for legacy *-instruct and davinci models, else chat. */
  endpoint?: TeacherEndpoint;
  /** An OpenAI-compatible server (default: $OPENAI_BASE_URL, the workspace's .env, else OpenAI). */
  baseUrl?: string;
  /** Default: $OPENAI_API_KEY, else the workspace's .env. */
  apiKey?: string;
  /** Default: the study's 0.7. */
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  /** The API's sampling seed (part of the request, so of the cache key). */
  requestSeed?: number;
  /** Dollars per 1K tokens instead of the price table. */
  price?: ModelPrice;
}

/** How a run of queries goes: in flight at once, retries, budget, estimates only, Batch API. */
export interface QueryingOptions {
  /** Queries in flight at once (default 16). */
  concurrency?: number;
  /** Per-request timeout (default 60 s). */
  timeoutSeconds?: number;
  /** Attempts per query before its row fails (default 8). */
  maxAttempts?: number;
  /** Longest Retry-After honoured (default 60 s). */
  maxRetryWaitSeconds?: number;
  /** No query starts whose estimate would pass this budget. */
  maxCostUsd?: number;
  /** Expected completion tokens per answer, for estimates (default: the template's recorded average). */
  completionTokens?: number;
  /** Estimate tokens and dollars, send nothing. */
  dryRun?: boolean;
  /** The OpenAI Batch API: half price, answers within 24 h; a second call resumes pending batches. */
  batch?: boolean;
  /** With `batch`: seconds between status checks (default 30). */
  pollIntervalSeconds?: number;
}

/** Options every querying step takes, besides its own. */
export interface TeacherStepOptions extends RootOptions {
  teacher?: TeacherOptions;
  querying?: QueryingOptions;
  onEvent?: OnPipelineEvent;
  /** Aborting stops new queries; those in flight finish and are stored. */
  signal?: AbortSignal;
}

export interface ResolvedTeacher {
  settings: TeacherSettings;
  price: ModelPrice;
  connection: TeacherConnection;
}

export function resolveTeacher(options: TeacherOptions, workspace: Workspace): ResolvedTeacher {
  const model = options.model ?? STUDY_MODEL;
  const endpoint = options.endpoint ?? defaultEndpoint(model);
  const parameters: SamplingParameters = {
    temperature: options.temperature ?? STUDY_TEMPERATURE,
    top_p: options.topP,
    max_tokens: options.maxTokens,
    seed: options.requestSeed,
  };
  const price = priceFor(model, loadPriceTable(workspace.root), options.price);
  const connection = resolveConnection({ baseUrl: options.baseUrl, apiKey: options.apiKey }, process.env, dotEnvFileOf(workspace.root));
  return { settings: { model, endpoint, parameters }, price, connection };
}

/** Legacy completion models (gpt-3.5-turbo-instruct, davinci-002, ...) take a prompt, not messages. */
export function defaultEndpoint(model: string): TeacherEndpoint {
  return /(^|[-/:])(instruct|davinci|babbage)([-:]|\d|$)/i.test(model) ? 'completion' : 'chat';
}

/** What a run spent, what the store saved, what failed and why it stopped; messages are redacted of secrets. */
export interface TeacherRunSummary {
  spent: { queries: number; promptTokens: number; completionTokens: number; costUsd: number; retries: number };
  saved: { answers: number; tokens: number; costUsd: number };
  failures: { kind: string; count: number; example: string }[];
  notSent: number;
  stoppedBecause?: string;
  /** Every job has an answer (fresh or stored). */
  answeredAll: boolean;
  /** Some rows failed or were not sent: the same call again resumes (every answer so far is stored). */
  resumable: boolean;
}

/** A dry run gives the estimate only; a real run gives the run, its summary and where its costs were recorded. */
export type TeacherRunResult =
  | { kind: 'estimate'; teacher: ResolvedTeacher; estimate: RunEstimate }
  | { kind: 'ran'; teacher: ResolvedTeacher; estimate: RunEstimate; run: QueryRun; summary: TeacherRunSummary; costsFile?: string };

export interface TeacherRunOptions {
  task: string;
  /** Names the run in progress events. */
  label: string;
  workspace: Workspace;
  /** The stores the jobs were built with; a batch run also stores answers of earlier runs' batches in them. */
  stores: StoreRegistry;
  querying?: QueryingOptions;
  onEvent?: OnPipelineEvent;
  signal?: AbortSignal;
}

export async function runTeacherJobs(jobs: readonly QueryJob[], teacher: ResolvedTeacher, options: TeacherRunOptions): Promise<TeacherRunResult> {
  const querying = options.querying ?? {};
  const onEvent = options.onEvent ?? ignoreEvents;
  const { label } = options;
  const { price } = teacher;
  const estimate = estimateRun(jobs, {
    price,
    batch: querying.batch,
    completionTokens: querying.completionTokens,
    requireCompletionEstimate: querying.dryRun === true || querying.maxCostUsd !== undefined,
    metadataCompletionTokens: recordedCompletionAverages(options.workspace.root, options.task),
  });
  if (querying.dryRun) return { kind: 'estimate', teacher, estimate };
  if (estimate.queries > 0) {
    if (options.workspace.readOnly)
      throw new ZsdError('read-only', `the workspace ${options.workspace.root} is inside the read-only data root; pass --workspace DIR`);
    if (!teacher.connection.apiKey && !teacher.connection.baseURL) {
      throw new ZsdError(
        'usage',
        `${estimate.queries} queries to send but no API key: set OPENAI_API_KEY (or put it in ${dotEnvFileOf(options.workspace.root)}), or pass --base-url for a local server`,
      );
    }
    if (querying.batch && querying.maxCostUsd !== undefined && estimate.costUsd > querying.maxCostUsd) {
      throw new ZsdError(
        'usage',
        `the batch is estimated at $${estimate.costUsd.toFixed(4)}, over --max-cost $${querying.maxCostUsd}; a batch is paid whole, so nothing was sent (use --samples, fewer templates, or a larger budget)`,
      );
    }
  }
  onEvent({ kind: 'query-start', label, estimate, model: teacher.settings.model, baseUrl: teacher.connection.baseURL, batch: querying.batch === true });

  const clientOptions = { baseURL: teacher.connection.baseURL, apiKey: teacher.connection.apiKey, timeoutMs: (querying.timeoutSeconds ?? 60) * 1000 };
  const common = { price, signal: options.signal, onProgress: (progress: QueryProgress) => onEvent({ kind: 'query-progress', label, progress }) };
  let run: QueryRun;
  if (querying.batch) {
    run = await runBatchQueries(jobs, {
      ...common,
      client: clientOptions,
      stateDir: batchStateDirectory(options.workspace.root),
      pollIntervalMs: (querying.pollIntervalSeconds ?? 30) * 1000,
      storeFor: (task, split, templateId) => options.stores.get(task, split, templateId),
    });
  } else {
    // Made on first use: a run answered wholly from the store needs no key.
    let client: TeacherClient | undefined;
    const lazyClient = { complete: (request: TeacherRequest) => (client ??= new TeacherClient(clientOptions)).complete(request) };
    run = await runQueries(jobs, lazyClient, {
      ...common,
      concurrency: querying.concurrency ?? 16,
      maxAttempts: querying.maxAttempts ?? 8,
      maxRetryWaitMs: (querying.maxRetryWaitSeconds ?? DEFAULT_MAX_RETRY_WAIT_MS / 1000) * 1000,
      onWait: (wait) => onEvent({ kind: 'query-wait', label, wait }),
      maxCostUsd: querying.maxCostUsd,
      estimateCostUsd: estimate.jobCostUsd,
    });
  }
  onEvent({ kind: 'query-finished', label, progress: run.progress });

  const costsFile = accumulateQueryCosts(options.workspace.root, options.task, paidQueryCosts(run.outcomes));
  return { kind: 'ran', teacher, estimate, run, summary: summarizeRun(run, price), costsFile };
}

/** Tokens and dollars of a run's store hits: their recorded usage, else counted with tiktoken. */
export function savedByStore(run: QueryRun, price: ModelPrice): { answers: number; tokens: number; costUsd: number } {
  let tokens = 0;
  let costUsd = 0;
  for (const outcome of run.outcomes) {
    if (outcome?.kind !== 'cached') continue;
    const usage = outcome.record.usage ?? {
      prompt_tokens: promptTokensOf(outcome.job.request),
      completion_tokens: countTextTokens(outcome.record.response, outcome.job.request.model),
    };
    tokens += usage.prompt_tokens + usage.completion_tokens;
    costUsd += costOf(usage, price);
  }
  return { answers: run.progress.cached, tokens, costUsd };
}

/** Spent (fresh answers, from the API's usage), saved (store hits: recorded usage, else counted), failures. */
export function summarizeRun(run: QueryRun, price: ModelPrice): TeacherRunSummary {
  const { progress } = run;
  const failures = new Map<string, { kind: string; count: number; example: string }>();
  for (const outcome of run.outcomes) {
    if (outcome?.kind !== 'failed') continue;
    const entry = failures.get(outcome.error.kind) ?? { kind: outcome.error.kind, count: 0, example: redactSecrets(outcome.error.message) };
    entry.count++;
    failures.set(outcome.error.kind, entry);
  }
  return {
    spent: {
      queries: progress.fresh,
      promptTokens: progress.promptTokens,
      completionTokens: progress.completionTokens,
      costUsd: progress.costUsd,
      retries: progress.retries,
    },
    saved: savedByStore(run, price),
    failures: [...failures.values()],
    notSent: progress.skipped,
    stoppedBecause: run.stoppedBecause === undefined ? undefined : redactSecrets(run.stoppedBecause),
    answeredAll: progress.fresh + progress.cached === progress.total,
    resumable: progress.failed + progress.skipped > 0,
  };
}
