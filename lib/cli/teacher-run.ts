import { Option, type Command } from 'commander';
import { describeHolder } from '../core/file-lock';
import type { QueryingOptions, TeacherOptions, TeacherRunResult, TeacherRunSummary } from '../pipeline/teacher-session';
import { STUDY_TEMPERATURE } from '../pipeline/teacher-session';
import type { RunEstimate } from '../teacher/estimate';
import { parsePriceFlag, type ModelPrice } from '../teacher/prices';
import { STUDY_MODEL } from '../teacher/recorded-responses';
import type { TeacherEndpoint } from '../teacher/request-key';
import { DEFAULT_MAX_RETRY_WAIT_MS, type WaitEvent } from '../teacher/scheduler';
import { numberFlag } from './options';
import { formatCount } from './progress';
import { formatTable } from './table';

/**
 * The teacher flags every querying command (`query`, `experiment`, `generate`, `opro`) shares, turned into the
 * pipeline's options; and how a teacher run is printed (the dry-run table, the spent/saved summary, waits).
 */

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

export function addTeacherOptions(command: Command): Command {
  return command
    .option('--model <name>', 'teacher model, as the server names it', STUDY_MODEL)
    .addOption(
      new Option('--endpoint <kind>', 'chat (chat completions) or completion (legacy completions; default for *-instruct and davinci models)').choices([
        'chat',
        'completion',
      ]),
    )
    .option('--base-url <url>', 'OpenAI-compatible server, e.g. http://localhost:8000/v1 (default: $OPENAI_BASE_URL, .env, else OpenAI)')
    .option('--api-key <key>', 'API key (default: $OPENAI_API_KEY or .env in the workspace; prefer those: flags show in process lists)')
    .option(
      '--temperature <t>',
      `sampling temperature (the study used ${STUDY_TEMPERATURE})`,
      numberFlag('--temperature', { min: 0, max: 2 }),
      STUDY_TEMPERATURE,
    )
    .option('--top-p <p>', 'nucleus sampling', numberFlag('--top-p', { min: 0, max: 1 }))
    .option('--max-tokens <n>', 'cap on completion tokens per answer', numberFlag('--max-tokens', { min: 1, integer: true }))
    .option('--request-seed <n>', "the API's sampling seed (part of the request, so of the cache key)", numberFlag('--request-seed', { min: 0, integer: true }))
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
    .option(
      '--price <prompt,completion>',
      'dollars per 1K prompt and completion tokens, instead of the price table (0,0 for a free local server)',
      parsePriceFlag,
    )
    .option(
      '--completion-tokens <n>',
      "expected completion tokens per answer, for estimates (default: the template's recorded average)",
      numberFlag('--completion-tokens', { min: 0 }),
    )
    .option('--dry-run', 'estimate tokens and dollars, send nothing')
    .option('--batch', 'use the OpenAI Batch API (half price, answers within 24 h): upload, create, poll and store; a re-run resumes pending batches')
    .option('--poll-interval <seconds>', 'with --batch: seconds between status checks', numberFlag('--poll-interval', { min: 0, exclusiveMin: true }), 30);
}

export function teacherOptionsOf(flags: TeacherFlags): TeacherOptions {
  const { model, endpoint, baseUrl, apiKey, temperature, topP, maxTokens, requestSeed, price } = flags;
  return { model, endpoint, baseUrl, apiKey, temperature, topP, maxTokens, requestSeed, price };
}

export function queryingOptionsOf(flags: TeacherFlags): QueryingOptions {
  return {
    concurrency: flags.concurrency,
    timeoutSeconds: flags.timeout,
    maxAttempts: flags.maxAttempts,
    maxRetryWaitSeconds: flags.maxRetryWait,
    maxCostUsd: flags.maxCost,
    completionTokens: flags.completionTokens,
    dryRun: flags.dryRun,
    batch: flags.batch,
    pollIntervalSeconds: flags.pollInterval,
  };
}

/** The dry run's table, or the run's summary (with where its costs were recorded). */
export function printTeacherRun(result: TeacherRunResult, log: (line: string) => void): void {
  if (result.kind === 'estimate') {
    const { prompt, completion } = result.teacher.price;
    log(`dry run: nothing sent. ${result.teacher.settings.model} at $${prompt}/1K prompt and $${completion}/1K completion tokens:`);
    for (const line of formatEstimate(result.estimate)) log(line);
    return;
  }
  for (const line of formatRunSummary(result.summary)) log(line);
  if (result.costsFile) log(`query costs added to ${result.costsFile}`);
}

function formatEstimate(estimate: RunEstimate): string[] {
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
  return [
    formatTable(header, rows),
    `total: ${estimate.queries} queries, ${formatCount(estimate.promptTokens)} prompt + ~${formatCount(estimate.completionTokens)} completion tokens, ` +
      `~$${estimate.costUsd.toFixed(4)} (${estimate.cached} answers already in the store)`,
  ];
}

/** Spent, saved by the store, failures by kind, what was not sent and why the run stopped. */
export function formatRunSummary(summary: TeacherRunSummary): string[] {
  const { spent, saved } = summary;
  const lines = [
    `spent: ${spent.queries} queries, ${formatCount(spent.promptTokens)} prompt + ${formatCount(spent.completionTokens)} completion tokens, $${spent.costUsd.toFixed(4)}` +
      (spent.retries > 0 ? ` (${spent.retries} retries)` : ''),
    `saved by the store: ${saved.answers} answers, ${formatCount(saved.tokens)} tokens, $${saved.costUsd.toFixed(4)}`,
  ];
  for (const { kind, count, example } of summary.failures) lines.push(`failed: ${count} (${kind}), e.g. ${example}`);
  if (summary.notSent > 0) lines.push(`not sent: ${summary.notSent}`);
  if (summary.stoppedBecause) lines.push(`stopped: ${summary.stoppedBecause}`);
  if (summary.resumable) lines.push('every answer so far is stored: run the same command again to resume');
  return lines;
}

/** The line announcing a run that sends queries: how many, to whom, what the store answers, and the estimate. */
export function formatRunStart(label: string, estimate: RunEstimate, model: string, baseUrl: string | undefined, batch: boolean): string {
  return (
    `${label}: ${estimate.queries} queries to send to ${model} at ${baseUrl ?? 'api.openai.com'}${batch ? ' in batches' : ''}` +
    ` (${estimate.cached} answered from the store), estimated $${estimate.costUsd.toFixed(4)}` +
    (estimate.templates.some((template) => template.completionSource === 'unknown') ? ' plus completions of templates never answered before' : '')
  );
}

/**
 * One line per wait worth knowing about: a retry of a second or more (why, how long, and when the server asked for
 * longer than --max-retry-wait), at most one every 5 s; and each other process whose store lock a job waits for.
 */
export function waitLogger(log: (line: string) => void, now: () => number = Date.now): (event: WaitEvent) => void {
  let lastRetryLine = -Infinity;
  return (event) => {
    if (event.kind === 'store-lock') {
      log(
        `waiting: ${event.file} is being written by another zsd process, ${describeHolder(event.holder)}; its ${event.jobs} queries go out once it is done (answers it stores are not asked again; Ctrl-C stops waiting)`,
      );
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
