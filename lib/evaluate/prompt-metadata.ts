import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { ZsdError } from '../core/errors';
import { writeFileAtomic } from '../core/paths';
import { pythonRound } from '../core/python';
import { readYamlFile } from '../core/yaml';
import type { QueryOutcome } from '../teacher/scheduler';
import type { TemplateEvaluation } from './metrics';

/**
 * Prompt metadata: `prompt-metadata/<task>.yaml` in the workspace, the study's schema, one entry per template:
 *   <id>: {characteristics: {...}, costs: {...}, performance: {accuracy, n_correct, n_wrong}}
 * Evaluation rewrites characteristics and performance (rounded as the study did); querying accumulates costs.
 * Without gold labels the performance entry is left as it was instead of being overwritten with a guess.
 */

export type MetadataEntry = Record<string, Record<string, number | null>>;
export type PromptMetadata = Map<number, MetadataEntry>;

export function metadataFile(workspaceRoot: string, task: string): string {
  return path.join(workspaceRoot, 'prompt-metadata', `${task}.yaml`);
}

export function readPromptMetadata(file: string): PromptMetadata {
  const metadata: PromptMetadata = new Map();
  if (!fs.existsSync(file)) return metadata;
  const { document } = readYamlFile(file);
  const content = document.toJS() as unknown;
  if (content === null || content === undefined) return metadata;
  if (typeof content !== 'object' || Array.isArray(content)) throw new ZsdError('invalid-file', 'expected a mapping of template id to metadata', { file });
  for (const [key, entry] of Object.entries(content as Record<string, unknown>)) {
    if (!/^\d+$/.test(key)) throw new ZsdError('invalid-file', `template id "${key}" is not a non-negative integer`, { file, key });
    if (typeof entry !== 'object' || entry === null) throw new ZsdError('invalid-file', 'expected a mapping of categories', { file, key });
    metadata.set(Number(key), entry as MetadataEntry);
  }
  return metadata;
}

export function applyEvaluation(metadata: PromptMetadata, templateId: number, evaluation: TemplateEvaluation): void {
  const entry = metadata.get(templateId) ?? {};
  const explained = evaluation.total_responses;
  entry.characteristics = {
    ...(entry.characteristics ?? {}),
    total_responses: explained,
    n_none_responses: evaluation.n_none_responses,
    total_length_of_explanations: evaluation.total_length_of_explanations,
    n_parse_errors: evaluation.n_parse_errors,
    total_number_of_sentences: evaluation.total_number_of_sentences,
    total_number_of_words: evaluation.total_number_of_words,
    flesch_reading_ease: pythonRound(evaluation.flesch_reading_ease, 1),
    variance_length_of_explanations:
      evaluation.variance_length_of_explanations === null ? Number.NaN : pythonRound(evaluation.variance_length_of_explanations, 3),
    avg_len_of_explanations: pythonRound(evaluation.avg_len_of_explanations, 2),
    avg_nr_of_sentences: pythonRound(evaluation.avg_nr_of_sentences, 2),
    avg_nr_of_words: pythonRound(evaluation.avg_nr_of_words, 2),
  };
  if (evaluation.accuracy !== null) {
    entry.performance = {
      ...(entry.performance ?? {}),
      n_correct: evaluation.n_correct,
      n_wrong: evaluation.n_wrong,
      accuracy: pythonRound(evaluation.accuracy, 4),
    };
  }
  metadata.set(templateId, entry);
}

/** Writes the metadata atomically, ids ascending and keys sorted (as PyYAML's dump did). */
export function writePromptMetadata(file: string, metadata: PromptMetadata): void {
  writeFileAtomic(file, stringify(metadata, { sortMapEntries: compareKeys }));
}

function compareKeys(a: { key: unknown }, b: { key: unknown }): number {
  const left = (a.key as { value?: unknown })?.value ?? a.key;
  const right = (b.key as { value?: unknown })?.value ?? b.key;
  if (typeof left === 'number' && typeof right === 'number') return left - right;
  return String(left) < String(right) ? -1 : String(left) > String(right) ? 1 : 0;
}

/** Reads `prompt-metadata/<task>.yaml`, applies these evaluations (one per template id) and writes it back. */
export function updatePromptMetadata(workspaceRoot: string, task: string, reports: readonly { id: string; evaluation: TemplateEvaluation }[]): string {
  const file = metadataFile(workspaceRoot, task);
  const metadata = readPromptMetadata(file);
  for (const report of reports) applyEvaluation(metadata, Number(report.id), report.evaluation);
  writePromptMetadata(file, metadata);
  return file;
}

export interface QueryCosts {
  queries: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

/** A run's paid (fresh) queries per template, leaving out the outcomes `include` rejects. */
export function paidQueryCosts(
  outcomes: readonly (QueryOutcome | undefined)[],
  include: (outcome: QueryOutcome) => boolean = () => true,
): Map<number, QueryCosts> {
  const costs = new Map<number, QueryCosts>();
  for (const outcome of outcomes) {
    if (outcome?.kind !== 'fresh' || !include(outcome)) continue;
    const id = outcome.job.row.templateId;
    const entry = costs.get(id) ?? { queries: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 };
    entry.queries++;
    entry.promptTokens += outcome.usage.prompt_tokens;
    entry.completionTokens += outcome.usage.completion_tokens;
    entry.costUsd += outcome.costUsd;
    costs.set(id, entry);
  }
  return costs;
}

/**
 * Adds a run's paid queries to each template's `costs`, as the study's update_from_callback did: totals
 * accumulate (total_performed_queries, total_tokens_sent, total_tokens_received, total_accumulated_costs), the
 * averages are recomputed from them. Templates with no paid query are left alone. Returns the file, or
 * undefined when there was nothing to add.
 */
export function accumulateQueryCosts(workspaceRoot: string, task: string, costs: ReadonlyMap<number, QueryCosts>): string | undefined {
  const paid = [...costs].filter(([, run]) => run.queries > 0);
  if (paid.length === 0) return undefined;
  const file = metadataFile(workspaceRoot, task);
  const metadata = readPromptMetadata(file);
  for (const [templateId, run] of paid) {
    const entry = metadata.get(templateId) ?? {};
    const before = entry.costs ?? {};
    const total = (field: string, added: number) => (typeof before[field] === 'number' ? (before[field] as number) : 0) + added;
    const queries = total('total_performed_queries', run.queries);
    const sent = total('total_tokens_sent', run.promptTokens);
    const received = total('total_tokens_received', run.completionTokens);
    const dollars = total('total_accumulated_costs', run.costUsd);
    entry.costs = {
      ...before,
      total_performed_queries: queries,
      total_tokens_sent: sent,
      total_tokens_received: received,
      total_accumulated_costs: dollars,
      avg_cost_per_query: dollars / queries,
      avg_nr_tokens_sent: sent / queries,
      avg_nr_tokens_received: received / queries,
    };
    metadata.set(templateId, entry);
  }
  writePromptMetadata(file, metadata);
  return file;
}

/** avg_nr_tokens_received per template id, for completion-token estimates. */
export function recordedCompletionAverages(workspaceRoot: string, task: string): Map<number, number> {
  const averages = new Map<number, number>();
  for (const [templateId, entry] of readPromptMetadata(metadataFile(workspaceRoot, task))) {
    const value = entry.costs?.avg_nr_tokens_received;
    if (typeof value === 'number' && Number.isFinite(value)) averages.set(templateId, value);
  }
  return averages;
}
