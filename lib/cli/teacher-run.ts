import { InvalidArgumentError, Option, type Command } from 'commander';
import { ZsdError } from '../core/errors';
import { describeHolder } from '../core/file-lock';
import { redactSecrets } from '../core/secrets';
import type { Workspace } from '../core/paths';
import { accumulateQueryCosts, paidQueryCosts, recordedCompletionAverages } from '../evaluate/prompt-metadata';
import { TeacherClient } from '../teacher/client';
import { dotEnvFileOf, resolveConnection, type TeacherConnection } from '../teacher/connection';
import { estimateRun, promptTokensOf, type RunEstimate } from '../teacher/estimate';
import { costOf, loadPriceTable, parsePriceFlag, priceFor, type ModelPrice } from '../teacher/prices';
import type { StoreRegistry, TeacherSettings } from '../teacher/query-jobs';
import { batchStateDirectory, runBatchQueries } from '../teacher/batch';
import { STUDY_MODEL } from '../teacher/recorded-responses';
import type { SamplingParameters, TeacherEndpoint, TeacherRequest } from '../teacher/request-key';
import { DEFAULT_MAX_RETRY_WAIT_MS, runQueries, type QueryJob, type QueryProgress, type QueryRun, type WaitEvent } from '../teacher/scheduler';
import { countTextTokens } from '../teacher/tokens';
import { formatCount, interruptibleRun, ProgressLine } from './progress';
import { formatTable } from './table';

/**
 * What every querying command (`query`, `experiment`, `generate`) shares: the teacher flags, resolving them
 * (model, endpoint, sampling parameters, price, server and key), and running a set of jobs: a dry-run estimate,
 * or the queries with a budget, progress, Ctrl-C handling, a summary of what was spent and saved, and the
 * costs added to prompt metadata.
 */

/** The study's sampling: langchain's ChatOpenAI defaults (temperature 0.7, nothing else set). */
export const STUDY_TEMPERATURE = 0.7;

export interface TeacherFlags {
  model: string;
  endpoint?: TeacherEndpoint;
  baseUrl?: string;
  apiKey?: string;
  temperature: number;
  topP?: number;
  maxTokens?: number;
  requestSeed?: number;
  concurrency: number;
  timeout: number;
  maxAttempts: number;
  maxRetryWait?: number;
  maxCost?: number;
  price?: ModelPrice;
  completionTokens?: number;
  dryRun?: boolean;
  batch?: boolean;
  pollInterval: number;
}

export function numberFlag(name: string, range: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean; exclusiveMax?: boolean }) {
  return (value: string): number => {
    const number = Number(value);
    const wanted = `${range.integer ? 'an integer' : 'a number'}${describeRange(range)}`;
    if (value.trim() === '' || !Number.isFinite(number)) throw new InvalidArgumentError(`${name} expects ${wanted}, got "${value}"`);
    if (range.integer && !Number.isInteger(number)) throw new InvalidArgumentError(`${name} expects ${wanted}, got "${value}"`);
    if (range.min !== undefined && (range.exclusiveMin ? number <= range.min : number < range.min)) throw new InvalidArgumentError(`${name} expects ${wanted}, got ${value}`);
    if (range.max !== undefined && (range.exclusiveMax ? number >= range.max : number > range.max)) throw new InvalidArgumentError(`${name} expects ${wanted}, got ${value}`);
    return number;
  };
}

function describeRange(range: { min?: number; max?: number; exclusiveMin?: boolean; exclusiveMax?: boolean }): string {
  if (range.min !== undefined && range.max !== undefined) return ` in ${range.exclusiveMin ? '(' : '['}${range.min}, ${range.max}${range.exclusiveMax ? ')' : ']'}`;
  if (range.min !== undefined) return range.exclusiveMin ? ` above ${range.min}` : ` of at least ${range.min}`;
  if (range.max !== undefined) return ` of at most ${range.max}`;
  return '';
}

export function addTeacherOptions(command: Command): Command {
  return command
    .option('--model <name>', 'teacher model, as the server names it', STUDY_MODEL)
    .addOption(new Option('--endpoint <kind>', 'chat (chat completions) or completion (legacy completions; default for *-instruct and davinci models)').choices(['chat', 'completion']))
    .option('--base-url <url>', 'OpenAI-compatible server, e.g. http://localhost:8000/v1 (default: $OPENAI_BASE_URL, .env, else OpenAI)')
    .option('--api-key <key>', 'API key (default: $OPENAI_API_KEY or .env in the workspace; prefer those: flags show in process lists)')
    .option('--temperature <t>', `sampling temperature (the study used ${STUDY_TEMPERATURE})`, numberFlag('--temperature', { min: 0, max: 2 }), STUDY_TEMPERATURE)
    .option('--top-p <p>', 'nucleus sampling', numberFlag('--top-p', { min: 0, max: 1 }))
    .option('--max-tokens <n>', 'cap on completion tokens per answer', numberFlag('--max-tokens', { min: 1, integer: true }))
    .option('--request-seed <n>', 'the API\'s sampling seed (part of the request, so of the cache key)', numberFlag('--request-seed', { min: 0, integer: true }))
    .option('--concurrency <n>', 'queries in flight at once', numberFlag('--concurrency', { min: 1, max: 1024, integer: true }), 16)
    .option('--timeout <seconds>', 'per-request timeout', numberFlag('--timeout', { min: 0, exclusiveMin: true }), 60)
    .option('--max-attempts <n>', 'attempts per query before its row fails', numberFlag('--max-attempts', { min: 1, max: 100, integer: true }), 8)
    .option(
      '--max-retry-wait <seconds>',
      'longest Retry-After to honour; a server asking for longer is retried after this',
      numberFlag('--max-retry-wait', { min: 0 }),
      DEFAULT_MAX_RETRY_WAIT_MS / 1000,
    )
    .option('--max-cost <dollars>', 'stop before the estimated spend would pass this budget', numberFlag('--max-cost', { min: 0 }))
    .option('--price <prompt,completion>', 'dollars per 1K prompt and completion tokens, instead of the price table (0,0 for a free local server)', parsePriceFlag)
    .option('--completion-tokens <n>', 'expected completion tokens per answer, for estimates (default: the template\'s recorded average)', numberFlag('--completion-tokens', { min: 0 }))
    .option('--dry-run', 'estimate tokens and dollars, send nothing')
    .option('--batch', 'use the OpenAI Batch API (half price, answers within 24 h): upload, create, poll and store; a re-run resumes pending batches')
    .option('--poll-interval <seconds>', 'with --batch: seconds between status checks', numberFlag('--poll-interval', { min: 0, exclusiveMin: true }), 30);
}

export interface TeacherContext {
  settings: TeacherSettings;
  price: ModelPrice;
  connection: TeacherConnection;
  flags: TeacherFlags;
}

export function resolveTeacher(flags: TeacherFlags, workspace: Workspace): TeacherContext {
  const endpoint = flags.endpoint ?? defaultEndpoint(flags.model);
  const parameters: SamplingParameters = { temperature: flags.temperature, top_p: flags.topP, max_tokens: flags.maxTokens, seed: flags.requestSeed };
  const price = priceFor(flags.model, loadPriceTable(workspace.root), flags.price);
  const connection = resolveConnection({ baseUrl: flags.baseUrl, apiKey: flags.apiKey }, process.env, dotEnvFileOf(workspace.root));
  return { settings: { model: flags.model, endpoint, parameters }, price, connection, flags };
}

/** Legacy completion models (gpt-3.5-turbo-instruct, davinci-002, ...) take a prompt, not messages. */
export function defaultEndpoint(model: string): TeacherEndpoint {
  return /(^|[-/:])(instruct|davinci|babbage)([-:]|\d|$)/i.test(model) ? 'completion' : 'chat';
}

export interface TeacherRunOptions {
  task: string;
  label: string;
  workspace: Workspace;
  /** The stores the jobs were built with; a batch run also stores answers of earlier runs' batches in them. */
  stores: StoreRegistry;
  log?: (line: string) => void;
}

/** A dry run returns the estimate only; a real run returns the run too. */
export interface TeacherRunResult {
  estimate: RunEstimate;
  run?: QueryRun;
}

export async function runTeacherJobs(jobs: readonly QueryJob[], context: TeacherContext, options: TeacherRunOptions): Promise<TeacherRunResult> {
  const print = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Every line goes through the secrets filter: a server may quote the key back in an error.
  const log = (line: string) => print(redactSecrets(line));
  const { flags, price } = context;
  const estimate = estimateRun(jobs, {
    price,
    batch: flags.batch,
    completionTokens: flags.completionTokens,
    requireCompletionEstimate: flags.dryRun === true || flags.maxCost !== undefined,
    metadataCompletionTokens: recordedCompletionAverages(options.workspace.root, options.task),
  });
  if (flags.dryRun) {
    printEstimate(estimate, context, log);
    return { estimate };
  }
  if (estimate.queries > 0) {
    if (options.workspace.readOnly) throw new ZsdError('read-only', `the workspace ${options.workspace.root} is inside the read-only data root; pass --workspace DIR`);
    if (!context.connection.apiKey && !context.connection.baseURL) {
      throw new ZsdError('usage', `${estimate.queries} queries to send but no API key: set OPENAI_API_KEY (or put it in ${dotEnvFileOf(options.workspace.root)}), or pass --base-url for a local server`);
    }
    if (flags.batch && flags.maxCost !== undefined && estimate.costUsd > flags.maxCost) {
      throw new ZsdError(
        'usage',
        `the batch is estimated at $${estimate.costUsd.toFixed(4)}, over --max-cost $${flags.maxCost}; a batch is paid whole, so nothing was sent (use --samples, fewer templates, or a larger budget)`,
      );
    }
    log(
      `${options.label}: ${estimate.queries} queries to send to ${context.settings.model} at ${context.connection.baseURL ?? 'api.openai.com'}${flags.batch ? ' in batches' : ''}` +
        ` (${estimate.cached} answered from the store), estimated $${estimate.costUsd.toFixed(4)}` +
        (estimate.templates.some((template) => template.completionSource === 'unknown') ? ' plus completions of templates never answered before' : ''),
    );
  }

  const interrupt = interruptibleRun(log);
  const progressLine = new ProgressLine(options.label);
  let run: QueryRun;
  try {
    const clientOptions = { baseURL: context.connection.baseURL, apiKey: context.connection.apiKey, timeoutMs: flags.timeout * 1000 };
    const common = { price, signal: interrupt.signal, onProgress: (progress: QueryProgress) => progressLine.update(progress) };
    if (flags.batch) {
      run = await runBatchQueries(jobs, {
        ...common,
        client: clientOptions,
        stateDir: batchStateDirectory(options.workspace.root),
        pollIntervalMs: flags.pollInterval * 1000,
        storeFor: (task, split, templateId) => options.stores.get(task, split, templateId),
      });
    } else {
      // Made on first use: a run answered wholly from the store needs no key.
      let teacher: TeacherClient | undefined;
      const client = { complete: (request: TeacherRequest) => (teacher ??= new TeacherClient(clientOptions)).complete(request) };
      run = await runQueries(jobs, client, {
        ...common,
        concurrency: flags.concurrency,
        maxAttempts: flags.maxAttempts,
        maxRetryWaitMs: (flags.maxRetryWait ?? DEFAULT_MAX_RETRY_WAIT_MS / 1000) * 1000,
        onWait: waitLogger(log),
        maxCostUsd: flags.maxCost,
        estimateCostUsd: estimate.jobCostUsd,
      });
    }
    progressLine.finish();
  } finally {
    interrupt.dispose();
  }

  const costsFile = accumulateQueryCosts(options.workspace.root, options.task, paidQueryCosts(run.outcomes));
  for (const line of summarizeRun(run, price)) log(line);
  if (costsFile) log(`query costs added to ${costsFile}`);
  return { estimate, run };
}

/**
 * One line per wait worth knowing about: a retry of a second or more (why, how long, and when the server asked for
 * longer than --max-retry-wait), at most one every 5 s; and each other process whose store lock a job waits for.
 */
export function waitLogger(log: (line: string) => void, now: () => number = Date.now): (event: WaitEvent) => void {
  let lastRetryLine = -Infinity;
  return (event) => {
    if (event.kind === 'store-lock') {
      log(`waiting: ${event.file} is being written by another zsd process, ${describeHolder(event.holder)}; its ${event.jobs} queries go out once it is done (answers it stores are not asked again; Ctrl-C stops waiting)`);
      return;
    }
    if (now() - lastRetryLine < 5000) return;
    lastRetryLine = now();
    const seconds = (milliseconds: number) => `${(milliseconds / 1000).toFixed(milliseconds < 10_000 ? 1 : 0)} s`;
    const why =
      event.cappedAtMs !== undefined
        ? `the server asked for ${seconds(event.requestedMs ?? 0)}, capped by --max-retry-wait ${seconds(event.cappedAtMs)}`
        : event.requestedMs !== undefined && event.requestedMs >= event.delayMs
          ? 'as the server asked (Retry-After)'
          : 'back-off';
    log(`waiting ${seconds(event.delayMs)} before attempt ${event.attempt + 1} of ${event.maxAttempts} (${why}): ${event.error.message}`);
  };
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
export function summarizeRun(run: QueryRun, price: ModelPrice): string[] {
  const { progress } = run;
  const saved = savedByStore(run, price);
  const failures = new Map<string, { count: number; example: string }>();
  for (const outcome of run.outcomes) {
    if (outcome?.kind !== 'failed') continue;
    const entry = failures.get(outcome.error.kind) ?? { count: 0, example: outcome.error.message };
    entry.count++;
    failures.set(outcome.error.kind, entry);
  }
  const lines = [
    `spent: ${progress.fresh} queries, ${formatCount(progress.promptTokens)} prompt + ${formatCount(progress.completionTokens)} completion tokens, $${progress.costUsd.toFixed(4)}` +
      (progress.retries > 0 ? ` (${progress.retries} retries)` : ''),
    `saved by the store: ${saved.answers} answers, ${formatCount(saved.tokens)} tokens, $${saved.costUsd.toFixed(4)}`,
  ];
  for (const [kind, { count, example }] of failures) lines.push(`failed: ${count} (${kind}), e.g. ${example}`);
  if (progress.skipped > 0) lines.push(`not sent: ${progress.skipped}`);
  if (run.stoppedBecause) lines.push(`stopped: ${run.stoppedBecause}`);
  if (progress.failed + progress.skipped > 0) lines.push('every answer so far is stored: run the same command again to resume');
  return lines;
}

function printEstimate(estimate: RunEstimate, context: TeacherContext, log: (line: string) => void): void {
  const header = ['task', 'split', 'template', 'to send', 'in store', 'prompt tokens', 'completion tokens', 'per answer (from)', 'dollars'];
  const rows = estimate.templates.map((template) => [
    template.task,
    template.split,
    template.templateId,
    template.queries,
    template.cached,
    template.promptTokens,
    template.completionTokens,
    `${template.completionTokensPerAnswer.toFixed(1)} (${template.completionSource})`,
    template.costUsd.toFixed(4),
  ]);
  const { prompt, completion } = context.price;
  log(`dry run: nothing sent. ${context.settings.model} at $${prompt}/1K prompt and $${completion}/1K completion tokens:`);
  log(formatTable(header, rows));
  log(
    `total: ${estimate.queries} queries, ${formatCount(estimate.promptTokens)} prompt + ~${formatCount(estimate.completionTokens)} completion tokens, ` +
      `~$${estimate.costUsd.toFixed(4)} (${estimate.cached} answers already in the store)`,
  );
}

