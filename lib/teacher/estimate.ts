import { ZsdError } from '../core/errors';
import { costOf, type ModelPrice } from './prices';
import { chatMessages, completionPrompt, type TeacherRequest } from './request-key';
import type { ResponseStore } from './response-store';
import type { QueryJob } from './scheduler';
import { countChatTokens, countTextTokens } from './tokens';

/**
 * What a run will cost before anything is sent (`--dry-run`, and the `--max-cost` check per query):
 * - prompt tokens are counted exactly with the model's tokenizer, for each distinct request not in the store;
 * - completion tokens cannot be known in advance: `--completion-tokens N` if given, else the average answer of
 *   the same template in the store (usage where recorded, else the answer counted with the tokenizer), else the
 *   template's `avg_nr_tokens_received` in prompt metadata, else the average over the run's other templates,
 *   else unknown (an error where the estimate decides something: a dry run or a budget).
 */

export type CompletionSource = 'flag' | 'recorded answers' | 'prompt metadata' | 'other templates' | 'unknown';

export interface TemplateEstimate {
  task: string;
  split: string;
  templateId: number;
  /** Distinct requests that would be sent. */
  queries: number;
  /** Jobs answered from the store. */
  cached: number;
  promptTokens: number;
  completionTokensPerAnswer: number;
  completionSource: CompletionSource;
  completionTokens: number;
  costUsd: number;
}

export interface EstimateOptions {
  price: ModelPrice;
  /** Batch API: half price. */
  batch?: boolean;
  completionTokens?: number;
  /** avg_nr_tokens_received by template id, from prompt metadata. */
  metadataCompletionTokens?: ReadonlyMap<number, number>;
  /**
   * A dry run or a budget needs a completion estimate for every template: without one, fail and ask for
   * `--completion-tokens`. Otherwise an unknown template counts its prompt tokens only (source 'unknown').
   */
  requireCompletionEstimate?: boolean;
}

export interface RunEstimate {
  templates: TemplateEstimate[];
  queries: number;
  cached: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  /** Dollars one job is expected to cost (0 when it is in the store), for the budget check. */
  jobCostUsd: (job: QueryJob) => number;
}

export function promptTokensOf(request: TeacherRequest): number {
  return request.endpoint === 'chat' ? countChatTokens(chatMessages(request), request.model) : countTextTokens(completionPrompt(request), request.model);
}

export function estimateRun(jobs: readonly QueryJob[], options: EstimateOptions): RunEstimate {
  const groups = new Map<ResponseStore, { store: ResponseStore; jobs: QueryJob[]; cached: number }>();
  const seen = new Set<string>();
  for (const job of jobs) {
    let group = groups.get(job.store);
    if (!group) {
      group = { store: job.store, jobs: [], cached: 0 };
      groups.set(job.store, group);
    }
    if (job.store.lookup(job.request, job.key)) group.cached++;
    else if (!seen.has(job.key)) {
      seen.add(job.key);
      group.jobs.push(job);
    }
  }

  const recordedAverages = new Map<ResponseStore, number | undefined>();
  for (const group of groups.values()) recordedAverages.set(group.store, averageCompletionTokens(group.store, group.jobs[0]?.request.model));
  const known = [...recordedAverages.values()].filter((value): value is number => value !== undefined);
  const fallback = known.length > 0 ? known.reduce((sum, value) => sum + value, 0) / known.length : undefined;

  const perJobCost = new Map<string, number>();
  const templates: TemplateEstimate[] = [];
  for (const group of groups.values()) {
    const { store } = group;
    const completion = completionPerAnswer(store, recordedAverages.get(store), fallback, options);
    let promptTokens = 0;
    for (const job of group.jobs) {
      const tokens = promptTokensOf(job.request);
      promptTokens += tokens;
      perJobCost.set(job.key, costOf({ prompt_tokens: tokens, completion_tokens: completion.tokens }, options.price, options.batch));
    }
    const completionTokens = Math.round(completion.tokens * group.jobs.length);
    templates.push({
      task: store.task,
      split: store.split,
      templateId: store.templateId,
      queries: group.jobs.length,
      cached: group.cached,
      promptTokens,
      completionTokensPerAnswer: completion.tokens,
      completionSource: completion.source,
      completionTokens,
      costUsd: costOf({ prompt_tokens: promptTokens, completion_tokens: completionTokens }, options.price, options.batch),
    });
  }
  const total = (field: 'queries' | 'cached' | 'promptTokens' | 'completionTokens' | 'costUsd') =>
    templates.reduce((sum, template) => sum + template[field], 0);
  return {
    templates,
    queries: total('queries'),
    cached: total('cached'),
    promptTokens: total('promptTokens'),
    completionTokens: total('completionTokens'),
    costUsd: total('costUsd'),
    jobCostUsd: (job) => perJobCost.get(job.key) ?? 0,
  };
}

function completionPerAnswer(
  store: ResponseStore,
  recorded: number | undefined,
  fallback: number | undefined,
  options: EstimateOptions,
): { tokens: number; source: CompletionSource } {
  if (options.completionTokens !== undefined) return { tokens: options.completionTokens, source: 'flag' };
  if (recorded !== undefined) return { tokens: recorded, source: 'recorded answers' };
  const fromMetadata = options.metadataCompletionTokens?.get(store.templateId);
  if (fromMetadata !== undefined) return { tokens: fromMetadata, source: 'prompt metadata' };
  if (fallback !== undefined) return { tokens: fallback, source: 'other templates' };
  if (!options.requireCompletionEstimate) return { tokens: 0, source: 'unknown' };
  throw new ZsdError(
    'usage',
    `no recorded answers of ${store.task} template ${store.templateId} to estimate completion tokens from; pass --completion-tokens N (expected tokens per answer)`,
  );
}

/** Mean completion tokens of the store's answers: recorded usage where there is one, else the answer counted. */
export function averageCompletionTokens(store: ResponseStore, model = 'gpt-3.5-turbo'): number | undefined {
  const records = store.records();
  if (records.length === 0) return undefined;
  let total = 0;
  for (const record of records) total += record.usage?.completion_tokens ?? countTextTokens(record.response, record.model ?? model);
  return total / records.length;
}
