import * as aq from 'arquero';

/**
 * The study's aggregation of student runs: per configuration, the mean validation accuracy (eval_acc) of the
 * 3 runs with the best validation accuracy, with the standard error of that mean (sample SD / sqrt(n), as
 * pandas' sem) for the bands.
 *
 * A configuration is every setting that names a run except the run number and the batch size: the study pooled its
 * first runs (batch 64) with its reruns (batch 32) of the same configuration, and the published ANLI1 numbers need
 * that pooling (step-by-step with PaLM rationales: 0.463 = mean of 0.496 at batch 64 and 0.469, 0.423 at batch 32).
 * The experiment group is not part of it either: a "RERUN ..." or "HSIEH ET AL ..." group holds more runs of a
 * configuration of its base group.
 */
export const CONFIGURATION_COLUMNS = [
  'dataset',
  'model',
  'mode',
  'llm',
  'subsample',
  'prompt_mix',
  'label_type',
  'alpha',
  'max_input_length',
  'optimizer',
  'lr',
] as const;

export interface BestRunsOptions {
  /** runs per configuration (default 3) */
  top?: number;
  /** the metric that ranks runs and is averaged (default eval_acc) */
  metric?: 'eval_acc' | 'test_acc';
  /** grouping columns (default CONFIGURATION_COLUMNS) */
  keys?: readonly string[];
}

/**
 * One row per configuration: its key columns, `mean`, `sem` (null for one run), `n` (runs averaged), `runs` (runs the
 * configuration has) and `values` (the averaged accuracies, best first). Runs without the metric are left out.
 */
export function bestRunsMean(runs: aq.ColumnTable, options: BestRunsOptions = {}): aq.ColumnTable {
  const top = options.top ?? 3;
  const metric = options.metric ?? 'eval_acc';
  const keys = [...(options.keys ?? CONFIGURATION_COLUMNS)];
  // Expressions are strings (arquero parses them); the metric is one of two known column names, so it is inlined.
  const scored = runs.filter(`d => d.${metric} != null`);
  if (scored.numRows() === 0) {
    const columns: Record<string, unknown[]> = {};
    for (const key of [...keys, 'runs', 'n', 'mean', 'sd', 'values', 'sem']) columns[key] = [];
    return aq.table(columns);
  }
  const counts = scored.groupby(keys).count({ as: 'runs' });
  return scored
    .groupby(keys)
    .orderby(aq.desc(metric))
    .derive({ rank: 'op.row_number()' })
    .filter(`d => d.rank <= ${Math.floor(top)}`)
    .rollup({
      n: 'op.count()',
      mean: `d => op.mean(d.${metric})`,
      sd: `d => op.stdev(d.${metric})`,
      values: `d => op.array_agg(d.${metric})`,
    })
    .lookup(counts, [keys, keys], 'runs')
    .derive({ sem: 'd => d.n > 1 ? d.sd / op.sqrt(d.n) : null' })
    .orderby(...keys);
}
