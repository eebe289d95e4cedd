import { STUDY_EXPERIMENT_SEED } from '../annotate/experiment';
import { ZsdError } from '../core/errors';
import { recordedCompletionAverages } from '../evaluate/prompt-metadata';
import { estimateOproRun, type OproEstimate } from '../opro/estimate';
import { planOproRun } from '../opro/plan';
import { runOproSearch, type OproPlan, type OproResult } from '../opro/search';
import { TeacherClient, TeacherError } from '../teacher/client';
import { dotEnvFileOf } from '../teacher/connection';
import { StoreRegistry } from '../teacher/query-jobs';
import type { TeacherRequest } from '../teacher/request-key';
import type { QueryProgress } from '../teacher/scheduler';
import { ignoreEvents } from './events';
import { resolveRoots } from './roots';
import { resolveTeacher, type TeacherStepOptions } from './teacher-session';

export interface RunOproOptions extends TeacherStepOptions {
  task: string;
  /** Split the rows are scored on (default train; anli1 and esnli ship none). */
  split?: string;
  /** Optimisation rounds after round 0, which scores the start templates (default 20). */
  rounds?: number;
  /** Candidate instructions asked of the optimiser per round (default 8). */
  candidates?: number;
  /** Rows each candidate is scored on, the same seeded rows for all (default 25). */
  evalSamples?: number;
  /** Best instructions (with scores) shown in the meta-prompt (default 10). */
  keepBest?: number;
  /** Seed of the row sample (default 42, as the prompt experiment). */
  seed?: number;
  /** Templates scored in round 0 (default: the lowest id using the task's usual parse patterns). */
  startTemplates?: number[];
  /** Template whose label/explanation patterns every candidate gets (default: those most templates use). */
  parseTemplate?: number;
  /** Meta-prompt template file (default: prompt-templates/opro/<task>.txt, else the study's, else built in). */
  metaPrompt?: string;
  /** Model that proposes instructions (default: the teacher's). */
  optimizerModel?: string;
  /** Model that answers the rows (default: the teacher's). */
  scorerModel?: string;
  /** Optimiser sampling temperature (default 1.0, as OPRO). */
  optimizerTemperature?: number;
  /** Name of the run (default: <task>-<hash of the settings>, so the same call resumes it). */
  runName?: string;
  /** Final step: re-score the n best on `finalSamples` rows, name the winner, score it on `validationSplit` (default 0: none). */
  finalTop?: number;
  /** Rows of the final re-scoring (default 4 x evalSamples). */
  finalSamples?: number;
  /** Split the winner is scored on ("none" to skip; default valid). */
  validationSplit?: string;
  /** Rows of the validation split (default: all). */
  validationSamples?: number;
}

/** A dry run: the plan and what it would send. Searched: the search's result (`finished` false when it stopped early). */
export type RunOproResult = { kind: 'estimate'; plan: OproPlan; estimate: OproEstimate } | { kind: 'searched'; plan: OproPlan; result: OproResult };

/**
 * OPRO, prompt search with an LLM as optimiser (lib/opro): each round the optimiser reads the best instructions so
 * far with their scores and proposes new ones; each is scored on the same seeded rows by the scorer. Resumable
 * (the same call again), with a cost estimate (dry run), a budget and a spending summary.
 */
export async function runOpro(options: RunOproOptions): Promise<RunOproResult> {
  const querying = options.querying ?? {};
  const onEvent = options.onEvent ?? ignoreEvents;
  if (querying.batch) throw new ZsdError('usage', '--batch is not supported by opro: each round needs the answers of the one before');
  const { dataRoot, workspace } = resolveRoots(options);
  const teacherOptions = options.teacher ?? {};
  const scorer = resolveTeacher({ ...teacherOptions, model: options.scorerModel ?? teacherOptions.model }, workspace);
  const optimizer = resolveTeacher(
    {
      ...teacherOptions,
      model: options.optimizerModel ?? teacherOptions.model,
      temperature: options.optimizerTemperature ?? 1,
      topP: undefined,
      maxTokens: undefined,
      requestSeed: undefined,
    },
    workspace,
  );
  const settings = {
    split: options.split ?? 'train',
    seed: options.seed ?? STUDY_EXPERIMENT_SEED,
    evalSamples: options.evalSamples ?? 25,
    candidates: options.candidates ?? 8,
    keepBest: options.keepBest ?? 10,
    rounds: options.rounds ?? 20,
  };
  const plan = planOproRun({
    workspace,
    dataRoot,
    task: options.task,
    ...settings,
    startTemplates: options.startTemplates,
    parseTemplate: options.parseTemplate,
    metaPrompt: options.metaPrompt,
    scorer: scorer.settings,
    optimizer: optimizer.settings,
    run: options.runName,
    finalTop: options.finalTop ?? 0,
    finalSamples: options.finalSamples,
    validationSplit: options.validationSplit ?? 'valid',
    validationSamples: options.validationSamples,
  });
  const { task, name } = plan;
  const stores = new StoreRegistry(workspace);
  const metadataCompletionTokens = recordedCompletionAverages(workspace.root, task.name);
  const estimateServices = {
    stores,
    scorerPrice: scorer.price,
    optimizerPrice: optimizer.price,
    completionTokens: querying.completionTokens,
    metadataCompletionTokens,
  };

  onEvent({
    kind: 'info',
    message:
      `opro on ${task.name} ${plan.identity.split}: run ${name}; ${plan.rows.length} rows (seed ${settings.seed}), ${settings.rounds} rounds x ${settings.candidates} candidates, ` +
      `best ${settings.keepBest} in the meta-prompt (${plan.metaPromptSource}); optimiser ${optimizer.settings.model}, scorer ${scorer.settings.model}`,
  });
  if (querying.dryRun) return { kind: 'estimate', plan, estimate: estimateOproRun(plan, estimateServices, true) };
  if (workspace.readOnly) throw new ZsdError('read-only', `the workspace ${workspace.root} is inside the read-only data root; pass --workspace DIR`);
  onEvent({ kind: 'opro-start', task: task.name, estimate: estimateOproRun(plan, estimateServices, false) });

  // Made on first use: a run answered wholly from the store needs no key.
  const connection = scorer.connection;
  let teacher: TeacherClient | undefined;
  const client = {
    complete: (request: TeacherRequest) => {
      if (!connection.apiKey && !connection.baseURL) {
        return Promise.reject(
          new TeacherError(
            'auth',
            `queries to send but no API key: set OPENAI_API_KEY (or put it in ${dotEnvFileOf(workspace.root)}), or pass --base-url for a local server`,
            false,
          ),
        );
      }
      teacher ??= new TeacherClient({ baseURL: connection.baseURL, apiKey: connection.apiKey, timeoutMs: (querying.timeoutSeconds ?? 60) * 1000 });
      return teacher.complete(request);
    },
  };

  const lastProgress = new Map<string, QueryProgress>();
  const result = await runOproSearch(plan, {
    workspace,
    client,
    stores,
    scorerPrice: scorer.price,
    optimizerPrice: optimizer.price,
    concurrency: querying.concurrency ?? 16,
    maxAttempts: querying.maxAttempts ?? 8,
    maxRetryWaitMs: querying.maxRetryWaitSeconds === undefined ? undefined : querying.maxRetryWaitSeconds * 1000,
    onWait: (wait) => onEvent({ kind: 'query-wait', label: `opro ${task.name}`, wait }),
    maxCostUsd: querying.maxCostUsd,
    completionTokens: querying.completionTokens,
    metadataCompletionTokens,
    writeMetadata: plan.identity.split === 'train',
    signal: options.signal,
    log: (message) => onEvent({ kind: 'info', message }),
    onProgress: (label, progress) => {
      if (progress !== undefined) {
        lastProgress.set(label, progress);
        onEvent({ kind: 'query-progress', label, progress });
        return;
      }
      onEvent({ kind: 'query-finished', label, progress: lastProgress.get(label) });
      lastProgress.delete(label);
    },
  });
  return { kind: 'searched', plan, result };
}
