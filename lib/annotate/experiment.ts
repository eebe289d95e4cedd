import { ZsdError } from '../core/errors';
import { numpyPermutationOfRange } from '../core/numpy-random';
import type { ExampleRow } from '../data/datasets';
import type { TaskDefinition } from '../data/tasks';
import { evaluateOutcomes, type TemplateEvaluation } from '../evaluate/metrics';
import { parseTeacherResponse } from '../parse/parse-response';
import type { PromptTemplate } from '../prompts/templates';
import type { RecordedResponse } from '../teacher/recorded-responses';

/**
 * Prompt experiments: every template answers the same random train rows, then each is evaluated on exactly
 * those rows, so templates are compared on equal terms.
 *
 * The rows are the study's: `np.random.seed(seed); np.random.choice(n, k, replace=False)`, which numpy's legacy
 * generator computes as `permutation(n)[:k]` (so the first k of the seeded shuffle of 0..n-1). A `samples` below
 * 1 is a fraction of the split (`int(fraction * n)`), as the study's `--test_size`.
 */

export const STUDY_EXPERIMENT_SEED = 42;

export function sampleRowIndices(n: number, samples: number, seed: number): number[] {
  if (!(samples > 0)) throw new ZsdError('usage', `--samples must be above 0 (a count, or a fraction below 1), got ${samples}`);
  const count = samples < 1 ? Math.trunc(samples * n) : samples;
  if (!Number.isInteger(count)) throw new ZsdError('usage', `--samples must be a whole number of rows or a fraction below 1, got ${samples}`);
  if (count > n) throw new ZsdError('usage', `--samples ${samples} is more than the ${n} rows of the split`);
  return numpyPermutationOfRange(n, seed).slice(0, count);
}

export interface AnsweredRow {
  row: ExampleRow;
  record: RecordedResponse;
}

/** One template's metrics over the rows it answered, against the rows' gold labels. */
export function evaluateAnswers(task: TaskDefinition, template: PromptTemplate, answers: readonly AnsweredRow[]): TemplateEvaluation {
  return evaluateOutcomes(
    task.kind,
    answers.map(({ row, record }) => ({
      outcome: parseTeacherResponse(task.kind, template, record.response, record.promptValues),
      gold: row.goldLabel,
    })),
  );
}
