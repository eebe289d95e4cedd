import * as aq from 'arquero';
import * as fs from 'node:fs';
import type { Workspace } from '../core/paths';
import { getTask } from '../data/tasks';
import { evaluateTeacher } from '../evaluate/evaluate-teacher';
import { applyEvaluation, metadataFile, readPromptMetadata, type MetadataEntry, type PromptMetadata } from '../evaluate/prompt-metadata';
import { loadPriceTable, priceFor } from '../teacher/prices';
import { listRecordedTemplateIds, STUDY_MODEL } from '../teacher/recorded-responses';
import { recordedUsage } from './recorded-usage';

/**
 * Prompt metadata as a table: one row per prompt template of a task, with the study's characteristics
 * (explanation rate, Flesch reading ease, words, SD of explanation length), performance (accuracy) and costs
 * (tokens and dollars per query).
 *
 * Source: `<workspace>/prompt-metadata/<task>.yaml` when the workspace has one (what `zsd evaluate`, `zsd experiment`
 * and `zsd query` write, or the study's own metadata copied in); otherwise computed from the recorded study's train
 * responses through lib/evaluate (evaluateTeacher, then applyEvaluation, so the rounding is a metadata file's) and
 * the recorded token counts priced with the price table. The computed tables are cached per process.
 *
 * Where a split has no gold labels (the study's anli1 and esnli train splits are not shipped) accuracy is null and
 * `goldUnavailable` says why.
 */

export interface PromptMetadataRecord {
  task: string;
  template_id: number;
  accuracy: number | null;
  n_correct: number | null;
  n_wrong: number | null;
  /** rows answered (with or without an explanation) */
  n_responses: number | null;
  /** rows with a usable explanation (the study's total_responses) */
  n_explanations: number | null;
  n_none_responses: number | null;
  n_parse_errors: number | null;
  /** n_explanations / n_responses */
  explanation_rate: number | null;
  flesch_reading_ease: number | null;
  avg_nr_of_words: number | null;
  avg_len_of_explanations: number | null;
  avg_nr_of_sentences: number | null;
  variance_length_of_explanations: number | null;
  /** square root of the variance of explanation length (characters) */
  sd_length_of_explanations: number | null;
  /** queries behind the costs */
  queries: number | null;
  avg_nr_tokens_sent: number | null;
  avg_nr_tokens_received: number | null;
  avg_cost_per_query: number | null;
  total_accumulated_costs: number | null;
}

export interface PromptMetadataSource {
  kind: 'workspace metadata' | 'recorded study';
  /** the metadata file, or the recorded study's query-results folder */
  location: string;
  /** why accuracy is null, when it is */
  goldUnavailable?: string;
}

export interface PromptMetadataRecords {
  task: string;
  source: PromptMetadataSource;
  records: PromptMetadataRecord[];
}

export interface PromptMetadataRequest {
  dataRoot: string;
  workspace: Workspace;
  task: string;
}

const cache = new Map<string, PromptMetadataRecords>();

export function promptMetadataRecords(request: PromptMetadataRequest): PromptMetadataRecords {
  const { workspace, task } = request;
  const file = metadataFile(workspace.root, task);
  if (fs.existsSync(file)) {
    const metadata = readPromptMetadata(file);
    return { task, source: { kind: 'workspace metadata', location: file }, records: recordsOf(task, metadata) };
  }
  const cacheKey = JSON.stringify([request.dataRoot, workspace.root, workspace.readLayers, workspace.recordedResponses, task]);
  const cached = cache.get(cacheKey);
  if (cached) return cached;
  const computed = computeFromRecordedStudy(request);
  cache.set(cacheKey, computed);
  return computed;
}

/** The records as an arquero table (columns as PromptMetadataRecord's fields). */
export function promptMetadataTable(request: PromptMetadataRequest): aq.ColumnTable {
  return aq.from(promptMetadataRecords(request).records);
}

function computeFromRecordedStudy(request: PromptMetadataRequest): PromptMetadataRecords {
  const { dataRoot, workspace, task } = request;
  const location = [workspace.root, ...workspace.readLayers].map((layer) => `${layer}/query-results/${task}/train`).join(', ');
  if (listRecordedTemplateIds(workspace, task, 'train').length === 0) {
    return { task, source: { kind: 'recorded study', location }, records: [] };
  }
  const evaluation = evaluateTeacher({ task: getTask(task, [dataRoot, workspace.root]), split: 'train', dataRoot, workspace, teacher: STUDY_MODEL });
  const price = priceFor(STUDY_MODEL, loadPriceTable(workspace.root));
  const metadata: PromptMetadata = new Map();
  for (const report of evaluation.reports) {
    const templateId = Number(report.id);
    applyEvaluation(metadata, templateId, report.evaluation);
    const usage = recordedUsage(workspace, task, 'train', templateId, price);
    const entry = metadata.get(templateId)!;
    entry.costs = {
      total_performed_queries: usage.queries,
      total_tokens_sent: usage.promptTokens,
      total_tokens_received: usage.completionTokens,
      total_accumulated_costs: usage.costUsd,
      avg_cost_per_query: usage.costUsd / usage.queries,
      avg_nr_tokens_sent: usage.promptTokens / usage.queries,
      avg_nr_tokens_received: usage.completionTokens / usage.queries,
    };
  }
  return { task, source: { kind: 'recorded study', location, goldUnavailable: evaluation.goldUnavailable }, records: recordsOf(task, metadata) };
}

function recordsOf(task: string, metadata: PromptMetadata): PromptMetadataRecord[] {
  return [...metadata.entries()].sort(([a], [b]) => a - b).map(([templateId, entry]) => recordOf(task, templateId, entry));
}

/** One metadata entry (the study's schema) as a record; what the entry lacks is null. */
export function recordOf(task: string, templateId: number, entry: MetadataEntry): PromptMetadataRecord {
  const field = (category: string, name: string): number | null => {
    const value = entry[category]?.[name];
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  };
  const explained = field('characteristics', 'total_responses');
  const none = field('characteristics', 'n_none_responses');
  const responses = explained !== null && none !== null ? explained + none : null;
  const variance = field('characteristics', 'variance_length_of_explanations');
  return {
    task,
    template_id: templateId,
    accuracy: field('performance', 'accuracy'),
    n_correct: field('performance', 'n_correct'),
    n_wrong: field('performance', 'n_wrong'),
    n_responses: responses,
    n_explanations: explained,
    n_none_responses: none,
    n_parse_errors: field('characteristics', 'n_parse_errors'),
    explanation_rate: responses !== null && responses > 0 ? explained! / responses : null,
    flesch_reading_ease: field('characteristics', 'flesch_reading_ease'),
    avg_nr_of_words: field('characteristics', 'avg_nr_of_words'),
    avg_len_of_explanations: field('characteristics', 'avg_len_of_explanations'),
    avg_nr_of_sentences: field('characteristics', 'avg_nr_of_sentences'),
    variance_length_of_explanations: variance,
    sd_length_of_explanations: variance === null ? null : Math.sqrt(variance),
    queries: field('costs', 'total_performed_queries'),
    avg_nr_tokens_sent: field('costs', 'avg_nr_tokens_sent'),
    avg_nr_tokens_received: field('costs', 'avg_nr_tokens_received'),
    avg_cost_per_query: field('costs', 'avg_cost_per_query'),
    total_accumulated_costs: field('costs', 'total_accumulated_costs'),
  };
}
