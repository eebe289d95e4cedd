import * as fs from 'node:fs';
import { ZsdError } from '../core/errors';
import type { Workspace } from '../core/paths';
import { loadSplit, splitFile } from '../data/datasets';
import { getTask } from '../data/tasks';
import { loadPriceTable, priceFor, type ModelPrice } from '../teacher/prices';
import { palmFiles, readPalmCompletions } from '../teacher/palm';
import { listRecordedTemplateIds, STUDY_MODEL } from '../teacher/recorded-responses';
import { countTextTokens } from '../teacher/tokens';
import { promptMetadataRecords } from './prompt-metadata-table';
import { recordedUsage } from './recorded-usage';

/**
 * What annotating a task's train split costs, few-shot PaLM against zero-shot gpt-3.5, derived from the data:
 *
 *   zero-shot = train rows x dollars per query of the annotating template + the OPRO search that found it
 *   few-shot  = train rows x dollars per few-shot query
 *
 * - train rows: the train split's row count where the data root or workspace has it; ANLI1's train split is not
 *   shipped, so its size (16,946, ANLI round 1) is the study's.
 * - dollars per zero-shot query: the template's `costs.avg_cost_per_query` in the workspace's prompt metadata when
 *   it has one; otherwise the recorded responses of that template (every split recorded: anli1 template 100 has
 *   valid and test here, its 16,946 train answers are not shipped), tokens counted with the model's tokenizer
 *   (recorded-usage.ts) and priced with the price table (lib/teacher/prices.yaml: gpt-3.5-turbo $0.0015 / $0.002 per 1K).
 * - OPRO: the summed costs of the search's candidate templates in the prompt metadata (computed from the recorded
 *   train responses when the workspace has no metadata file). That covers the scoring queries only; the optimizer's
 *   own calls (the meta-prompts) were not recorded, and the winner's own train answers are not shipped.
 * - dollars per few-shot query: PaLM had no public token price when the study ran; the study assumed $0.0033 per
 *   query, and so does this (a stated input, not a measurement).
 */

export interface CostStudy {
  task: string;
  /** the template that annotates the split */
  template: number;
  /** candidate templates of the OPRO search that found it (inclusive id range) */
  oproTemplates: { first: number; last: number };
  model: string;
  fewShotCostPerQuery: number;
  /** the split's size when the data does not have it */
  trainRowsIfMissing?: number;
}

/**
 * ANLI1 as the study ran it: templates 1-3 were written by hand (scored on 125 rows), 4-100 are the OPRO search's
 * candidates (50 rows each; 100 won), 101-179 are later variations of 100 (e.g. 178 asks for high reading ease,
 * 179 gives the label). This split is read off the recorded study (row counts, the templates' text), not
 * documented by it.
 */
export const STUDY_ANLI1_COSTS: CostStudy = {
  task: 'anli1',
  template: 100,
  oproTemplates: { first: 4, last: 100 },
  model: STUDY_MODEL,
  fewShotCostPerQuery: 0.0033,
  trainRowsIfMissing: 16946,
};

export interface ZeroShotQueryCost {
  template: number;
  queries: number;
  promptTokensPerQuery: number;
  completionTokensPerQuery: number;
  costPerQuery: number;
  source: string;
}

export interface AnnotationCosts {
  task: string;
  trainRows: number;
  trainRowsSource: string;
  price: ModelPrice;
  zeroShot: ZeroShotQueryCost;
  zeroShotAnnotation: number;
  opro: { templates: number[]; queries: number; cost: number; source: string; notCovered: string[] };
  fewShotCostPerQuery: number;
  fewShotAnnotation: number;
  zeroShotTotal: number;
  /** 1 - zero-shot total / few-shot */
  saving: number;
}

export function annotationCosts(options: { dataRoot: string; workspace: Workspace; study?: CostStudy }): AnnotationCosts {
  const study = options.study ?? STUDY_ANLI1_COSTS;
  const { dataRoot, workspace } = options;
  const task = getTask(study.task, [dataRoot, workspace.root]);
  const price = priceFor(study.model, loadPriceTable(workspace.root));

  const roots = [dataRoot, workspace.root];
  let trainRows: number;
  let trainRowsSource: string;
  if (splitFile(task, 'train', roots)) {
    const split = loadSplit(task, 'train', roots);
    trainRows = split.rows.length;
    trainRowsSource = split.file;
  } else if (study.trainRowsIfMissing !== undefined) {
    trainRows = study.trainRowsIfMissing;
    trainRowsSource = `the study (the ${study.task} train split is not in the data root)`;
  } else {
    throw new ZsdError('not-found', `no ${study.task} train split to count rows in (datasets/${study.task}/${study.task}_train.json)`);
  }

  const metadata = promptMetadataRecords({ dataRoot, workspace, task: study.task });
  const zeroShot = zeroShotQueryCost(workspace, study, price, metadata);

  const candidates = metadata.records.filter((record) => record.template_id >= study.oproTemplates.first && record.template_id <= study.oproTemplates.last);
  const priced = candidates.filter((record) => record.total_accumulated_costs !== null);
  const notCovered: string[] = ['the optimizer calls (meta-prompts) of each round: not recorded'];
  const missing: number[] = [];
  for (let id = study.oproTemplates.first; id <= study.oproTemplates.last; id++) if (!priced.some((record) => record.template_id === id)) missing.push(id);
  if (missing.length > 0) notCovered.push(`candidate template${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: no costs in ${metadata.source.location}`);
  const opro = {
    templates: priced.map((record) => record.template_id),
    queries: priced.reduce((sum, record) => sum + (record.queries ?? 0), 0),
    cost: priced.reduce((sum, record) => sum + (record.total_accumulated_costs as number), 0),
    source: `${metadata.source.kind}: ${metadata.source.location}`,
    notCovered,
  };

  const zeroShotAnnotation = trainRows * zeroShot.costPerQuery;
  const fewShotAnnotation = trainRows * study.fewShotCostPerQuery;
  const zeroShotTotal = zeroShotAnnotation + opro.cost;
  return {
    task: study.task,
    trainRows,
    trainRowsSource,
    price,
    zeroShot,
    zeroShotAnnotation,
    opro,
    fewShotCostPerQuery: study.fewShotCostPerQuery,
    fewShotAnnotation,
    zeroShotTotal,
    saving: 1 - zeroShotTotal / fewShotAnnotation,
  };
}

function zeroShotQueryCost(workspace: Workspace, study: CostStudy, price: ModelPrice, metadata: ReturnType<typeof promptMetadataRecords>): ZeroShotQueryCost {
  const fromMetadata = metadata.source.kind === 'workspace metadata' ? metadata.records.find((record) => record.template_id === study.template) : undefined;
  if (fromMetadata && fromMetadata.avg_cost_per_query !== null) {
    return {
      template: study.template,
      queries: fromMetadata.queries ?? 0,
      promptTokensPerQuery: fromMetadata.avg_nr_tokens_sent ?? Number.NaN,
      completionTokensPerQuery: fromMetadata.avg_nr_tokens_received ?? Number.NaN,
      costPerQuery: fromMetadata.avg_cost_per_query,
      source: `${metadata.source.location} (costs of template ${study.template})`,
    };
  }
  let queries = 0;
  let promptTokens = 0;
  let completionTokens = 0;
  let cost = 0;
  const splits: string[] = [];
  for (const split of ['train', 'valid', 'test']) {
    if (!listRecordedTemplateIds(workspace, study.task, split).includes(study.template)) continue;
    const usage = recordedUsage(workspace, study.task, split, study.template, price);
    queries += usage.queries;
    promptTokens += usage.promptTokens;
    completionTokens += usage.completionTokens;
    cost += usage.costUsd;
    splits.push(`${split} (${usage.queries})`);
  }
  if (queries === 0) {
    throw new ZsdError(
      'not-found',
      `no recorded responses of ${study.task} template ${study.template} (query-results/${study.task}/<split>/${study.template}/) and no costs for it in prompt metadata: nothing to price a zero-shot query with`,
    );
  }
  return {
    template: study.template,
    queries,
    promptTokensPerQuery: promptTokens / queries,
    completionTokensPerQuery: completionTokens / queries,
    costPerQuery: cost / queries,
    source: `recorded ${study.task} template ${study.template} responses: ${splits.join(', ')}; tokens counted, priced with the price table`,
  };
}

export interface FewShotTokenEstimate {
  shots: number;
  promptTokensPerQuery: number;
  completionTokensPerQuery: number;
  source: string;
}

/**
 * Tokens of a few-shot chain-of-thought query, estimated from the PaLM files (the study's 6-shot prompts are not in
 * the data): a prompt of `shots` worked examples in the format the PaLM completions run on in ("Premise: ...
 * Hypothesis: ... Answer: <rationale> So the answer is <label>."), built from the split's rows and their PaLM
 * rationales, plus the question; the completion is the raw PaLM output, all of it (the model ran on past the
 * answer, and that is generated, so paid, text). Tokens counted with gpt-3.5's tokenizer, as the zero-shot ones.
 */
export function fewShotTokenEstimate(options: {
  dataRoot: string;
  workspace: Workspace;
  task?: string;
  split?: string;
  shots?: number;
  model?: string;
}): FewShotTokenEstimate {
  const taskName = options.task ?? 'anli1';
  const split = options.split ?? 'valid';
  const shots = options.shots ?? 6;
  const model = options.model ?? STUDY_MODEL;
  const task = getTask(taskName, [options.dataRoot, options.workspace.root]);
  const rows = loadSplit(task, split, [options.dataRoot, options.workspace.root]).rows;
  const completions = readPalmCompletions(options.dataRoot, task, split);
  const question = (values: Readonly<Record<string, string>>) =>
    task.kind === 'nli' ? `Premise: ${values.premise}\nHypothesis: ${values.hypothesis}\nAnswer:` : `Q: ${Object.values(values).join('\n')}\nA:`;
  let exemplarTokens = 0;
  let questionTokens = 0;
  for (const completion of completions) {
    const values = rows[completion.index].promptValues;
    exemplarTokens += countTextTokens(`${question(values)} ${completion.rationale} So the answer is ${completion.label}.\n\n`, model);
    questionTokens += countTextTokens(question(values), model);
  }
  let rawTokens = 0;
  let raw = 0;
  for (const file of palmFiles(options.dataRoot, taskName, split)) {
    for (const output of JSON.parse(fs.readFileSync(file, 'utf8')) as string[]) {
      rawTokens += countTextTokens(output, model);
      raw++;
    }
  }
  return {
    shots,
    promptTokensPerQuery: (shots * exemplarTokens) / completions.length + questionTokens / completions.length,
    completionTokensPerQuery: rawTokens / raw,
    source: `estimated from ${taskName} ${split}: ${shots} worked examples of the PaLM files' format (rows + PaLM rationales) and the question; completions: the raw PaLM outputs`,
  };
}
