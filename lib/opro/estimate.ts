import { ZsdError } from '../core/errors';
import { averageCompletionTokens, estimateRun, promptTokensOf } from '../teacher/estimate';
import { costOf, type ModelPrice } from '../teacher/prices';
import { buildQueryJobs, type StoreRegistry } from '../teacher/query-jobs';
import { countTextTokens } from '../teacher/tokens';
import { renderPreviousBest } from './meta-prompt';
import { logFileOf, readOproLog, scoredInstructions, scorerCompletionMean, type OproLog } from './run-log';
import { expectedOptimizerCompletion, instructionOf, metaPromptFor, optimizerJob, type OproPlan } from './search';

/**
 * What an OPRO run will cost, before it starts (`--dry-run`, and the line printed before a real run). Rounds
 * already in the log cost nothing. Exact where the requests are known: the start templates' queries (prompt
 * tokens counted, store hits left out) and the next round's optimiser request. Later rounds depend on answers
 * not yet given, so they are estimated as upper bounds: every candidate new, K x N scorer queries per round with
 * the start templates' mean prompt length, a meta-prompt grown to `keep_best` entries. Completion tokens per
 * answer: `--completion-tokens`, else the run's answers so far, else the start templates' stored answers or
 * prompt metadata.
 */

export interface PhaseEstimate {
  phase: string;
  queries: number;
  /** Answers already in the store. */
  cached: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  /** False for an upper-bound estimate of requests not known yet. */
  exact: boolean;
}

export interface OproEstimate {
  phases: PhaseEstimate[];
  queries: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  /** Rounds (0 included) already in the log. */
  loggedRounds: number;
  /** False when no completion-token figure was known (counted as 0; only without `strict`). */
  completionKnown: boolean;
}

export interface EstimateServices {
  stores: StoreRegistry;
  scorerPrice: ModelPrice;
  optimizerPrice: ModelPrice;
  completionTokens?: number;
  metadataCompletionTokens?: ReadonlyMap<number, number>;
}

export function estimateOproRun(plan: OproPlan, services: EstimateServices, strict: boolean): OproEstimate {
  const log: OproLog = readOproLog(logFileOf(plan.directory));
  const phases: PhaseEstimate[] = [];
  const { identity } = plan;
  const startJobs = plan.startTemplates.flatMap((template) =>
    buildQueryJobs(plan.task.name, identity.split, template, plan.rows, plan.scorer, services.stores),
  );
  const promptPerQuery = startJobs.length > 0 ? startJobs.reduce((sum, job) => sum + promptTokensOf(job.request), 0) / startJobs.length : 0;

  let completionPerAnswer = services.completionTokens ?? scorerCompletionMean(log);
  if (!log.rounds.has(0)) {
    const start = estimateRun(startJobs, {
      price: services.scorerPrice,
      completionTokens: completionPerAnswer,
      metadataCompletionTokens: services.metadataCompletionTokens,
      requireCompletionEstimate: strict,
    });
    phases.push({
      phase: 'round 0: start templates',
      queries: start.queries,
      cached: start.cached,
      promptTokens: start.promptTokens,
      completionTokens: start.completionTokens,
      costUsd: start.costUsd,
      exact: true,
    });
    const known = start.templates.filter((template) => template.completionSource !== 'unknown');
    if (completionPerAnswer === undefined && known.length > 0)
      completionPerAnswer = known.reduce((sum, template) => sum + template.completionTokensPerAnswer, 0) / known.length;
  }
  const completionKnown = completionPerAnswer !== undefined;
  if (completionPerAnswer === undefined) {
    if (strict)
      throw new ZsdError(
        'usage',
        'no stored answers of the start templates to estimate completion tokens from; pass --completion-tokens N (expected tokens per answer)',
      );
    completionPerAnswer = 0;
  }

  const remaining: number[] = [];
  for (let round = 1; round <= plan.rounds; round++) if (!log.rounds.has(round)) remaining.push(round);
  if (remaining.length > 0) {
    // The next round's request is known exactly only when every round before it is in the log.
    const first = remaining[0];
    const exactFirst = [...Array(first).keys()].every((round) => log.rounds.has(round));
    let optimizerQueries = 0;
    let optimizerCached = 0;
    let optimizerPrompt = 0;
    let optimizerCompletion = 0;
    const perCompletion =
      averageCompletionTokens(services.stores.get(plan.task.name, 'opro-meta-prompt', 0), plan.optimizer.model) ?? expectedOptimizerCompletion(plan, log);
    const entryTokens = meanEntryTokens(plan, log);
    const scoredSoFar = log.rounds.has(0) ? scoredInstructions(log).length : plan.startTemplates.length;
    const baseMetaPrompt = metaPromptFor(plan, log, first);
    const baseTokens = countTextTokens(baseMetaPrompt, plan.optimizer.model) + 8;
    const baseEntries = Math.min(identity.keep_best, scoredInstructions(log).length);
    for (const round of remaining) {
      if (round === first && exactFirst) {
        const job = optimizerJob(plan, services.stores, baseMetaPrompt, round);
        if (job.store.lookup(job.request, job.key)) {
          optimizerCached++;
          continue;
        }
        optimizerQueries++;
        optimizerPrompt += promptTokensOf(job.request);
        optimizerCompletion += perCompletion;
        continue;
      }
      const entries = Math.min(identity.keep_best, scoredSoFar + identity.candidates * (round - 1));
      optimizerQueries++;
      optimizerPrompt += baseTokens + Math.max(0, entries - baseEntries) * entryTokens;
      optimizerCompletion += perCompletion;
    }
    phases.push(
      phase(
        `optimiser: rounds ${remaining[0]}-${remaining[remaining.length - 1]}`,
        optimizerQueries,
        optimizerCached,
        optimizerPrompt,
        optimizerCompletion,
        services.optimizerPrice,
        false,
      ),
    );
    const scoringQueries = remaining.length * identity.candidates * plan.rows.length;
    phases.push(
      phase(
        `scoring: ${remaining.length} rounds x ${identity.candidates} candidates x ${plan.rows.length} rows (at most)`,
        scoringQueries,
        0,
        scoringQueries * promptPerQuery,
        scoringQueries * completionPerAnswer,
        services.scorerPrice,
        false,
      ),
    );
  }
  if (plan.final && !log.finals.some((line) => line.after_round === plan.rounds && line.n_rows === plan.final!.rows.length)) {
    const more = Math.max(0, plan.final.rows.length - plan.rows.length);
    const queries = plan.final.top * more;
    phases.push(
      phase(
        `final: top ${plan.final.top} on ${plan.final.rows.length} rows`,
        queries,
        0,
        queries * promptPerQuery,
        queries * completionPerAnswer,
        services.scorerPrice,
        false,
      ),
    );
  }
  const validation = plan.final?.validation;
  if (validation && !('skipped' in validation) && !log.validations.some((line) => line.after_round === plan.rounds && line.split === validation.split)) {
    const queries = validation.rows.length;
    phases.push(
      phase(`validation: winner on ${validation.split}`, queries, 0, queries * promptPerQuery, queries * completionPerAnswer, services.scorerPrice, false),
    );
  }
  const total = (field: 'queries' | 'promptTokens' | 'completionTokens' | 'costUsd') => phases.reduce((sum, entry) => sum + entry[field], 0);
  return {
    phases,
    queries: total('queries'),
    promptTokens: total('promptTokens'),
    completionTokens: total('completionTokens'),
    costUsd: total('costUsd'),
    loggedRounds: log.rounds.size,
    completionKnown,
  };
}

function phase(
  name: string,
  queries: number,
  cached: number,
  promptTokens: number,
  completionTokens: number,
  price: ModelPrice,
  exact: boolean,
): PhaseEstimate {
  const prompt = Math.round(promptTokens);
  const completion = Math.round(completionTokens);
  return {
    phase: name,
    queries,
    cached,
    promptTokens: prompt,
    completionTokens: completion,
    costUsd: costOf({ prompt_tokens: prompt, completion_tokens: completion }, price),
    exact,
  };
}

/** Tokens of one "template: <PRT>...</PRT> score: NN" entry of the meta-prompt, on average. */
function meanEntryTokens(plan: OproPlan, log: OproLog): number {
  const instructions = [...scoredInstructions(log).map((entry) => entry.instruction), ...plan.startTemplates.map(instructionOf)];
  if (instructions.length === 0) return 60;
  const total = instructions.reduce(
    (sum, instruction) =>
      sum +
      countTextTokens(renderPreviousBest([{ round: 0, candidate: 0, templateId: 0, instruction, accuracy: 0.5, explanationRate: 1 }]), plan.optimizer.model) +
      2,
    0,
  );
  return total / instructions.length;
}
