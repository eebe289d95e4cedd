import { evaluateAnswers, type AnsweredRow } from '../annotate/experiment';
import { ZsdError } from '../core/errors';
import type { Workspace } from '../core/paths';
import type { ExampleRow } from '../data/datasets';
import type { TaskDefinition } from '../data/tasks';
import type { TemplateEvaluation } from '../evaluate/metrics';
import { accumulateQueryCosts, paidQueryCosts, updatePromptMetadata } from '../evaluate/prompt-metadata';
import { getTemplate, loadTemplates, type PromptTemplate } from '../prompts/templates';
import { averageCompletionTokens, estimateRun, promptTokensOf } from '../teacher/estimate';
import { costOf, type ModelPrice } from '../teacher/prices';
import { buildQueryJobs, type StoreRegistry, type TeacherSettings } from '../teacher/query-jobs';
import { requestKey, studyCompletePrompt, type TeacherRequest } from '../teacher/request-key';
import { runQueries, type QueryClient, type QueryJob, type QueryOutcome, type QueryProgress, type QueryRun, type WaitEvent } from '../teacher/scheduler';
import { countTextTokens } from '../teacher/tokens';
import { judgeCandidates, normalizeInstruction, parseOptimizerAnswer } from './candidates';
import { templatesForCandidates } from './candidate-templates';
import { renderMetaPrompt, selectPreviousBest } from './meta-prompt';
import { lockTask } from './task-lock';
import {
  appendLogGroup,
  asBest,
  bestOf,
  compareScored,
  logFileOf,
  openRun,
  readOproLog,
  scoredInstructions,
  scorerCompletionMean,
  type CandidateLogLine,
  type FinalLogLine,
  type OproLog,
  type OproRunIdentity,
  type ParsePatterns,
  type RejectedCandidate,
  type RoundLogLine,
  type ScoredInstruction,
  type TokenCost,
  type ValidationLogLine,
} from './run-log';

/**
 * The OPRO search (Yang et al., "Large Language Models as Optimizers"; the zero-shot study's prompt search):
 * round 0 scores the start templates; each round r >= 1 renders the meta-prompt from the log (the best
 * `keep_best` instructions so far with their scores), asks the optimiser once, turns the candidates of its answer
 * into templates and scores each on the same seeded rows with the scorer. Optionally the top instructions are
 * re-scored on a larger sample (same seed: the search rows plus more), the winner named and scored on the
 * validation split. Every request goes through the teacher's scheduler and response store: stored first, never
 * paid twice, and a resumed run walks the same rounds from the store. See README.md in this folder.
 */

/** Where the optimiser's answers are stored: `query-results/<task>/opro-meta-prompt/0/responses.json`. */
export const OPTIMIZER_SPLIT = 'opro-meta-prompt';
export const OPTIMIZER_TEMPLATE_ID = 0;

export interface FinalPlan {
  /** How many of the best instructions to re-score. */
  top: number;
  rows: readonly ExampleRow[];
  validation?: { split: string; rows: readonly ExampleRow[] } | { split: string; skipped: string };
}

export interface OproPlan {
  name: string;
  directory: string;
  identity: OproRunIdentity;
  metaPromptSource: string;
  task: TaskDefinition;
  /** The N search rows (the same for every instruction). */
  rows: readonly ExampleRow[];
  /** `<[EXAMPLES]>` of the meta-prompt. */
  examples: string;
  startTemplates: readonly PromptTemplate[];
  scorer: TeacherSettings;
  optimizer: TeacherSettings;
  rounds: number;
  final?: FinalPlan;
}

export interface OproServices {
  workspace: Workspace;
  client: QueryClient;
  stores: StoreRegistry;
  scorerPrice: ModelPrice;
  optimizerPrice: ModelPrice;
  concurrency: number;
  maxAttempts?: number;
  /** The longest Retry-After honoured (the scheduler's default: 60 s). */
  maxRetryWaitMs?: number;
  /** Retry waits of a second or more, and waits for another process's store lock. */
  onWait?: (event: WaitEvent) => void;
  /** Budget of this invocation: no query starts whose estimate would pass it. */
  maxCostUsd?: number;
  /** Expected completion tokens per scorer answer (for the budget), else learned from the run's answers. */
  completionTokens?: number;
  metadataCompletionTokens?: ReadonlyMap<number, number>;
  /** Write the run's new templates' evaluations to prompt metadata (the train split only, as `experiment`). */
  writeMetadata: boolean;
  signal?: AbortSignal;
  log: (line: string) => void;
  /** Progress of each batch of queries; `undefined` when the batch is done. */
  onProgress?: (label: string, progress: QueryProgress | undefined) => void;
  /** Scheduler knobs for tests. */
  baseDelayMs?: number;
}

export interface SpendPart {
  queries: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

export interface OproSpend {
  optimizer: SpendPart;
  scoring: SpendPart;
  cached: number;
  savedUsd: number;
  retries: number;
}

export interface OproResult {
  name: string;
  logFile: string;
  log: OproLog;
  /** Rounds done, round 0 included (so rounds + 1 when the search is finished). */
  completedRounds: number;
  finished: boolean;
  stoppedBecause?: string;
  spend: OproSpend;
  best?: ScoredInstruction;
  final?: FinalLogLine;
  validation?: ValidationLogLine;
}

export function emptySpend(): OproSpend {
  const part = () => ({ queries: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 });
  return { optimizer: part(), scoring: part(), cached: 0, savedUsd: 0, retries: 0 };
}

/** What a template shows the optimiser: its user message, after its system message when it has one. */
export function instructionOf(template: PromptTemplate): string {
  return template.systemMessage === '' ? template.userMessage : `${template.systemMessage}\n${template.userMessage}`;
}

export function parsePatternsOf(template: PromptTemplate): ParsePatterns {
  return { label_parse: template.labelParse, explanation_parse: template.explanationParse, swap: template.swap, escape_values: template.escapeValues };
}

/** The task's parse patterns: the combination most of its templates use, and the lowest id that uses it. */
export function commonParsePatterns(templates: Iterable<PromptTemplate>): { patterns: ParsePatterns; fromTemplate: number } {
  const counts = new Map<string, { patterns: ParsePatterns; count: number; fromTemplate: number }>();
  for (const template of [...templates].sort((a, b) => a.id - b.id)) {
    const patterns = parsePatternsOf(template);
    const key = JSON.stringify(patterns);
    const entry = counts.get(key) ?? { patterns, count: 0, fromTemplate: template.id };
    entry.count++;
    counts.set(key, entry);
  }
  const best = [...counts.values()].sort((a, b) => b.count - a.count || a.fromTemplate - b.fromTemplate)[0];
  if (!best) throw new ZsdError('not-found', 'the task has no templates to take parse patterns from');
  return { patterns: best.patterns, fromTemplate: best.fromTemplate };
}

/** The optimiser's request in round r: the meta-prompt as the user message, and seed = r (see README.md). */
export function optimizerRequest(metaPrompt: string, optimizer: TeacherSettings, round: number): TeacherRequest {
  return { model: optimizer.model, endpoint: optimizer.endpoint, system: '', user: metaPrompt, parameters: { ...optimizer.parameters, seed: round } };
}

export function optimizerJob(plan: Pick<OproPlan, 'name' | 'task' | 'optimizer'>, stores: StoreRegistry, metaPrompt: string, round: number): QueryJob {
  const request = optimizerRequest(metaPrompt, plan.optimizer, round);
  return {
    request,
    key: requestKey(request),
    store: stores.get(plan.task.name, OPTIMIZER_SPLIT, OPTIMIZER_TEMPLATE_ID),
    row: {
      split: OPTIMIZER_SPLIT,
      idx: round,
      templateId: OPTIMIZER_TEMPLATE_ID,
      promptValues: { opro_run: plan.name, round: String(round) },
      completePrompt: studyCompletePrompt(request),
    },
  };
}

/** The meta-prompt of round r, from the instructions scored in rounds before r. */
export function metaPromptFor(plan: Pick<OproPlan, 'identity' | 'examples' | 'task'>, log: OproLog, round: number): string {
  const before = scoredInstructions(log).filter((entry) => entry.round < round);
  return renderMetaPrompt(plan.identity.meta_prompt, {
    previousBest: selectPreviousBest(before, plan.identity.keep_best),
    candidates: plan.identity.candidates,
    examples: plan.examples,
    task: plan.task,
    round,
  });
}

/** Tokens and dollars of a stored answer, whoever paid for it: recorded usage and cost, else counted. */
export function tokenCostOf(outcome: QueryOutcome, price: ModelPrice): TokenCost {
  if (outcome.kind === 'fresh')
    return { prompt_tokens: outcome.usage.prompt_tokens, completion_tokens: outcome.usage.completion_tokens, cost_usd: outcome.costUsd };
  if (outcome.kind !== 'cached') return { prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 };
  const { record, job } = outcome;
  const usage = record.usage ?? { prompt_tokens: promptTokensOf(job.request), completion_tokens: countTextTokens(record.response, job.request.model) };
  return { ...usage, cost_usd: record.costUsd ?? costOf(usage, price) };
}

function addCosts(total: TokenCost, more: TokenCost): TokenCost {
  return {
    prompt_tokens: total.prompt_tokens + more.prompt_tokens,
    completion_tokens: total.completion_tokens + more.completion_tokens,
    cost_usd: total.cost_usd + more.cost_usd,
  };
}

const ZERO_COST: TokenCost = { prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 };

interface ScoredTemplate {
  template: PromptTemplate;
  evaluation: TemplateEvaluation;
  cost: TokenCost;
}

export async function runOproSearch(plan: OproPlan, services: OproServices): Promise<OproResult> {
  const release = lockTask(services.workspace.root, plan.task.name);
  try {
    return await search(plan, services);
  } finally {
    release();
  }
}

async function search(plan: OproPlan, services: OproServices): Promise<OproResult> {
  const { workspace, stores, log: say } = services;
  const task = plan.task;
  const { identity } = plan;
  openRun(plan.directory, plan.name, identity, plan.metaPromptSource);
  const logFile = logFileOf(plan.directory);
  const log = readOproLog(logFile);
  const spend = emptySpend();
  const result = (stoppedBecause?: string): OproResult => ({
    name: plan.name,
    logFile,
    log,
    completedRounds: [...log.rounds.keys()].filter((round) => round <= plan.rounds).length,
    finished: stoppedBecause === undefined,
    stoppedBecause,
    spend,
    best: bestOf(scoredInstructions(log).filter((entry) => entry.round <= plan.rounds)),
    final: plan.final ? log.finals.filter((line) => line.after_round === plan.rounds).at(-1) : undefined,
    validation: plan.final ? log.validations.filter((line) => line.after_round === plan.rounds).at(-1) : undefined,
  });
  syncPromptMetadata();

  /** Runs a batch of jobs under what is left of the budget; complete when every job has a stored answer. */
  async function run(
    jobs: QueryJob[],
    price: ModelPrice,
    label: string,
    part: SpendPart,
    completionTokens: number | undefined,
  ): Promise<{ run: QueryRun; complete: boolean }> {
    const remaining = services.maxCostUsd === undefined ? undefined : Math.max(0, services.maxCostUsd - spend.optimizer.costUsd - spend.scoring.costUsd);
    const estimate = estimateRun(jobs, {
      price,
      completionTokens,
      metadataCompletionTokens: services.metadataCompletionTokens,
      requireCompletionEstimate: remaining !== undefined,
    });
    let queryRun: QueryRun;
    try {
      queryRun = await runQueries(jobs, services.client, {
        concurrency: services.concurrency,
        price,
        maxAttempts: services.maxAttempts,
        maxRetryWaitMs: services.maxRetryWaitMs,
        onWait: services.onWait,
        baseDelayMs: services.baseDelayMs,
        maxCostUsd: remaining,
        estimateCostUsd: estimate.jobCostUsd,
        signal: services.signal,
        // A progress line for batches of scorer queries; the optimiser's single query has its round line.
        onProgress: jobs.length > 1 ? (progress) => services.onProgress?.(label, progress) : undefined,
      });
    } finally {
      if (jobs.length > 1) services.onProgress?.(label, undefined);
    }
    const { progress } = queryRun;
    part.queries += progress.fresh;
    part.promptTokens += progress.promptTokens;
    part.completionTokens += progress.completionTokens;
    part.costUsd += progress.costUsd;
    spend.cached += progress.cached;
    spend.retries += progress.retries;
    for (const outcome of queryRun.outcomes) if (outcome?.kind === 'cached') spend.savedUsd += tokenCostOf(outcome, price).cost_usd;
    if (!workspace.readOnly)
      accumulateQueryCosts(
        workspace.root,
        task.name,
        paidQueryCosts(queryRun.outcomes, (outcome) => outcome.job.row.split !== OPTIMIZER_SPLIT),
      );
    const complete = queryRun.outcomes.every((outcome) => outcome?.kind === 'fresh' || outcome?.kind === 'cached');
    return { run: queryRun, complete };
  }

  function stopReason(queryRun: QueryRun): string {
    // The scheduler saw only what was left of the budget; say it in terms of the run's budget.
    if (services.maxCostUsd !== undefined && queryRun.outcomes.some((outcome) => outcome?.kind === 'skipped' && outcome.reason === 'budget')) {
      const spent = spend.optimizer.costUsd + spend.scoring.costUsd;
      return `the next query would pass the budget of $${services.maxCostUsd.toFixed(4)} (spent $${spent.toFixed(4)})`;
    }
    if (queryRun.stoppedBecause) return queryRun.stoppedBecause;
    const failed = queryRun.outcomes.find((outcome) => outcome?.kind === 'failed');
    if (failed?.kind === 'failed') return `${queryRun.progress.failed} queries failed (${failed.error.kind}: ${failed.error.message})`;
    return 'not every query was answered';
  }

  /** Scores templates on rows: evaluations and what their answers cost, or undefined when some row has no answer. */
  async function score(
    templates: readonly PromptTemplate[],
    rows: readonly ExampleRow[],
    split: string,
    label: string,
  ): Promise<{ scored?: ScoredTemplate[]; stopped?: string }> {
    const jobs = templates.flatMap((template) => buildQueryJobs(task.name, split, template, rows, plan.scorer, stores));
    const { run: queryRun, complete } = await run(jobs, services.scorerPrice, label, spend.scoring, services.completionTokens ?? scorerCompletionMean(log));
    if (!complete) return { stopped: stopReason(queryRun) };
    const rowsByIndex = new Map(rows.map((row) => [row.index, row]));
    const scored = templates.map((template) => {
      const answers: AnsweredRow[] = [];
      let cost = ZERO_COST;
      for (const outcome of queryRun.outcomes) {
        if (outcome.job.row.templateId !== template.id || (outcome.kind !== 'fresh' && outcome.kind !== 'cached')) continue;
        answers.push({ row: rowsByIndex.get(outcome.job.row.idx)!, record: outcome.record });
        cost = addCosts(cost, tokenCostOf(outcome, services.scorerPrice));
      }
      return { template, evaluation: evaluateAnswers(task, template, answers), cost };
    });
    return { scored };
  }

  function candidateLine(round: number, candidate: number, scored: ScoredTemplate, instruction: string, created: boolean): CandidateLogLine {
    const { evaluation } = scored;
    return {
      type: 'candidate',
      round,
      candidate,
      template_id: scored.template.id,
      new_template: created,
      instruction,
      accuracy: evaluation.accuracy ?? 0,
      explanation_rate: evaluation.explanation_rate,
      n_rows: evaluation.n_responses,
      n_correct: evaluation.n_correct ?? 0,
      n_parse_errors: evaluation.n_parse_errors,
      ...scored.cost,
      evaluation,
    };
  }

  function toScored(line: CandidateLogLine): ScoredInstruction {
    return {
      round: line.round,
      candidate: line.candidate,
      templateId: line.template_id,
      instruction: line.instruction,
      accuracy: line.accuracy,
      explanationRate: line.explanation_rate,
    };
  }

  function finishRound(
    round: number,
    candidates: CandidateLogLine[],
    summary: Omit<RoundLogLine, 'type' | 'round' | 'best_this_round' | 'best_so_far' | 'round_cost_usd' | 'run_cost_usd'>,
  ): void {
    const before = scoredInstructions(log).filter((entry) => entry.round < round);
    const mine = candidates.map(toScored);
    const roundCost = candidates.reduce((sum, line) => sum + line.cost_usd, summary.optimizer?.cost_usd ?? 0);
    const previous = [...log.rounds.values()].filter(({ summary: logged }) => logged.round < round).sort((a, b) => b.summary.round - a.summary.round)[0];
    const line: RoundLogLine = {
      type: 'round',
      round,
      ...summary,
      best_this_round: asBest(bestOf(mine)),
      best_so_far: asBest(bestOf([...before, ...mine])),
      round_cost_usd: roundCost,
      run_cost_usd: (previous?.summary.run_cost_usd ?? 0) + roundCost,
    };
    appendLogGroup(logFile, [...candidates, line]);
    // Kept as a reader of the file will see it (JSON: NaN becomes null), so a resumed run derives the same.
    const written = JSON.parse(JSON.stringify({ candidates, summary: line })) as { candidates: CandidateLogLine[]; summary: RoundLogLine };
    log.rounds.set(round, written);
    syncPromptMetadata();
    say(describeRound(line, plan.rounds));
  }

  /** Prompt metadata of the templates this run added, from the log (idempotent: a resumed run rewrites the same). */
  function syncPromptMetadata(): void {
    if (!services.writeMetadata || workspace.readOnly) return;
    const reports = [...log.rounds.values()].flatMap(({ candidates }) =>
      candidates.filter((line) => line.new_template).map((line) => ({ id: String(line.template_id), evaluation: line.evaluation })),
    );
    if (reports.length > 0) updatePromptMetadata(workspace.root, task.name, reports);
  }

  async function scoreStartTemplates(): Promise<string | undefined> {
    const { scored, stopped } = await score(plan.startTemplates, plan.rows, identity.split, `opro ${task.name} round 0: start templates`);
    if (!scored) return stopped;
    const candidates = scored.map((entry, index) => candidateLine(0, index, entry, instructionOf(entry.template), false));
    finishRound(0, candidates, {
      optimizer: null,
      proposed: plan.startTemplates.length,
      scored: candidates.length,
      duplicates: 0,
      invalid: 0,
      extra: 0,
      rejected: [],
    });
    return undefined;
  }

  async function searchRound(round: number): Promise<string | undefined> {
    const job = optimizerJob(plan, stores, metaPromptFor(plan, log, round), round);
    const optimizerStore = job.store;
    const expected = averageCompletionTokens(optimizerStore, plan.optimizer.model) ?? expectedOptimizerCompletion(plan, log);
    const asked = await run([job], services.optimizerPrice, `opro ${task.name} round ${round}: optimiser`, spend.optimizer, expected);
    if (!asked.complete) return stopReason(asked.run);
    const outcome = asked.run.outcomes[0];
    if (outcome.kind !== 'fresh' && outcome.kind !== 'cached') return stopReason(asked.run);
    const optimizerCost = tokenCostOf(outcome, services.optimizerPrice);

    const answer = parseOptimizerAnswer(outcome.record.response, identity.candidates);
    const known = new Map<string, number>();
    for (const entry of scoredInstructions(log).filter((scored) => scored.round < round)) known.set(normalizeInstruction(entry.instruction), entry.templateId);
    const verdicts = judgeCandidates(answer.texts, task, known);
    const rejected: RejectedCandidate[] = [];
    for (const verdict of verdicts)
      if (verdict.kind !== 'accepted')
        rejected.push({ candidate: verdict.candidate, reason: verdict.kind, detail: verdict.detail, instruction: verdict.instruction });
    answer.extra.forEach((instruction, index) =>
      rejected.push({ candidate: identity.candidates + index, reason: 'extra', detail: `past --candidates ${identity.candidates}`, instruction }),
    );
    if (answer.unterminated !== undefined) {
      rejected.push({
        candidate: answer.texts.length + answer.extra.length,
        reason: 'invalid',
        detail: 'a <PRT> without </PRT> (cut-off answer?)',
        instruction: answer.unterminated,
      });
    }
    const accepted = verdicts.flatMap((verdict) => (verdict.kind === 'accepted' ? [verdict] : []));
    const made = templatesForCandidates(
      workspace,
      task.name,
      plan.name,
      accepted.map((verdict) => ({ instruction: verdict.instruction, round, candidate: verdict.candidate })),
      identity.parse,
    );
    let candidates: CandidateLogLine[] = [];
    if (made.length > 0) {
      const { scored, stopped } = await score(
        made.map((entry) => entry.template),
        plan.rows,
        identity.split,
        `opro ${task.name} round ${round}: scoring`,
      );
      if (!scored) return stopped;
      candidates = scored.map((entry, index) => candidateLine(round, accepted[index].candidate, entry, accepted[index].instruction, made[index].created));
    }
    const count = (reason: RejectedCandidate['reason']) => rejected.filter((entry) => entry.reason === reason).length;
    finishRound(round, candidates, {
      optimizer: optimizerCost,
      proposed: answer.texts.length + answer.extra.length + (answer.unterminated !== undefined ? 1 : 0),
      scored: candidates.length,
      duplicates: count('duplicate'),
      invalid: count('invalid'),
      extra: count('extra'),
      rejected,
    });
    return undefined;
  }

  async function finalStep(final: FinalPlan): Promise<string | undefined> {
    const all = scoredInstructions(log).filter((entry) => entry.round <= plan.rounds);
    const top = [...all].sort(compareScored).slice(0, final.top);
    // Done before with the same settings (after the same rounds, as many instructions, as many rows)?
    let line = log.finals.find((entry) => entry.after_round === plan.rounds && entry.n_rows === final.rows.length && entry.scores.length === top.length);
    if (!line) {
      const templates = loadTemplates(workspace, task.name);
      const chosen = top.map((entry) => getTemplate(templates, entry.templateId));
      const { scored, stopped } = await score(chosen, final.rows, identity.split, `opro ${task.name} final: top ${top.length} on ${final.rows.length} rows`);
      if (!scored) return stopped;
      const scores = scored.map((entry, index) => ({
        template_id: entry.template.id,
        search_accuracy: top[index].accuracy,
        accuracy: entry.evaluation.accuracy ?? 0,
        explanation_rate: entry.evaluation.explanation_rate,
      }));
      // Higher accuracy on the larger sample wins; ties keep the search's order.
      const order = scores.map((_, index) => index).sort((a, b) => scores[b].accuracy - scores[a].accuracy || a - b);
      const winner = top[order[0]];
      line = {
        type: 'final',
        after_round: plan.rounds,
        n_rows: final.rows.length,
        scores,
        winner: { template_id: winner.templateId, accuracy: scores[order[0]].accuracy, instruction: winner.instruction, round: winner.round },
        cost_usd: scored.reduce((sum, entry) => sum + entry.cost.cost_usd, 0),
      };
      appendLogGroup(logFile, [line]);
      log.finals.push(line);
      say(
        `final: ${top.length} best re-scored on ${final.rows.length} rows; winner template ${winner.templateId} (accuracy ${line.winner.accuracy.toFixed(3)}, ${winner.accuracy.toFixed(3)} in the search)`,
      );
    }
    const validation = final.validation;
    if (!validation) return undefined;
    const winnerId = line.winner.template_id;
    const rowsWanted = 'skipped' in validation ? undefined : validation.rows.length;
    const done = log.validations.some(
      (entry) =>
        entry.after_round === plan.rounds &&
        entry.template_id === winnerId &&
        entry.split === validation.split &&
        ('skipped' in entry ? undefined : entry.n_rows) === rowsWanted,
    );
    if (done) return undefined;
    let validationLine: ValidationLogLine;
    if ('skipped' in validation) {
      validationLine = { type: 'validation', after_round: plan.rounds, split: validation.split, template_id: winnerId, skipped: validation.skipped };
      say(`validation skipped: ${validation.skipped}`);
    } else {
      const template = getTemplate(loadTemplates(workspace, task.name), winnerId);
      const { scored, stopped } = await score(
        [template],
        validation.rows,
        validation.split,
        `opro ${task.name} validation: template ${winnerId} on ${validation.split}`,
      );
      if (!scored) return stopped;
      const [entry] = scored;
      validationLine = {
        type: 'validation',
        after_round: plan.rounds,
        split: validation.split,
        template_id: winnerId,
        n_rows: entry.evaluation.n_responses,
        accuracy: entry.evaluation.accuracy ?? 0,
        explanation_rate: entry.evaluation.explanation_rate,
        cost_usd: entry.cost.cost_usd,
      };
      say(
        `validation: template ${winnerId} on ${validation.split} (${validation.rows.length} rows): accuracy ${validationLine.accuracy.toFixed(3)}, explanation rate ${validationLine.explanation_rate.toFixed(3)}`,
      );
    }
    appendLogGroup(logFile, [validationLine]);
    log.validations.push(validationLine);
    return undefined;
  }

  for (let round = 0; round <= plan.rounds; round++) {
    const logged = log.rounds.get(round);
    if (logged) {
      say(`${describeRound(logged.summary, plan.rounds)} (from the log)`);
      continue;
    }
    if (services.signal?.aborted) return result('interrupted');
    const stopped = round === 0 ? await scoreStartTemplates() : await searchRound(round);
    if (stopped !== undefined) return result(stopped);
  }
  if (plan.final) {
    const stopped = await finalStep(plan.final);
    if (stopped !== undefined) return result(stopped);
  }
  return result();
}

/** Completion tokens expected from the optimiser before any answer is stored: K instructions of the usual length. */
export function expectedOptimizerCompletion(plan: Pick<OproPlan, 'identity' | 'startTemplates' | 'optimizer'>, log: OproLog): number {
  const instructions = [...scoredInstructions(log).map((entry) => entry.instruction), ...plan.startTemplates.map(instructionOf)];
  const mean = instructions.length > 0 ? instructions.reduce((sum, text) => sum + countTextTokens(text, plan.optimizer.model), 0) / instructions.length : 60;
  return plan.identity.candidates * (mean + 8);
}

export function describeRound(line: RoundLogLine, rounds: number): string {
  const best = (entry: RoundLogLine['best_so_far']) => (entry ? `${entry.accuracy.toFixed(3)} (template ${entry.template_id})` : 'none');
  const what =
    line.round === 0
      ? `${line.scored} start templates scored`
      : `${line.proposed} proposed, ${line.scored} scored, ${line.duplicates} duplicates, ${line.invalid} invalid${line.extra > 0 ? `, ${line.extra} extra` : ''}`;
  return `round ${line.round}/${rounds}: ${what}; best this round ${best(line.best_this_round)}; best so far ${best(line.best_so_far)}; $${line.round_cost_usd.toFixed(4)} (run $${line.run_cost_usd.toFixed(4)})`;
}
