import * as aq from 'arquero';
import type { Workspace } from '../core/paths';
import { loadPriceTable, priceFor } from '../teacher/prices';
import { listRecordedTemplateIds, STUDY_MODEL } from '../teacher/recorded-responses';
import { recordedUsage, type RecordedUsage } from './recorded-usage';

/**
 * Query results as a table: one row per (task, split, template) with recorded answers in the workspace or the
 * recorded study: queries, tokens sent and received, dollars (stored usage where zsd recorded it, else counted and
 * priced with the price table; recorded-usage.ts), and the per-query averages.
 */

export interface QueryResultsRow extends RecordedUsage {
  promptTokensPerQuery: number;
  completionTokensPerQuery: number;
  costPerQuery: number;
}

export function queryResultsRecords(options: { workspace: Workspace; task: string; splits?: readonly string[]; model?: string }): QueryResultsRow[] {
  const price = priceFor(options.model ?? STUDY_MODEL, loadPriceTable(options.workspace.root));
  const rows: QueryResultsRow[] = [];
  for (const split of options.splits ?? ['train', 'valid', 'test']) {
    for (const templateId of listRecordedTemplateIds(options.workspace, options.task, split)) {
      const usage = recordedUsage(options.workspace, options.task, split, templateId, price);
      rows.push({
        ...usage,
        promptTokensPerQuery: usage.promptTokens / usage.queries,
        completionTokensPerQuery: usage.completionTokens / usage.queries,
        costPerQuery: usage.costUsd / usage.queries,
      });
    }
  }
  return rows;
}

export function queryResultsTable(options: { workspace: Workspace; task: string; splits?: readonly string[]; model?: string }): aq.ColumnTable {
  return aq.from(queryResultsRecords(options));
}
