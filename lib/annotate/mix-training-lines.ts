import { ZsdError } from '../core/errors';
import type { TaskDefinition } from '../data/tasks';
import { outcomeExplanation, outcomeLabel } from '../parse/parse-outcome';
import { parseTeacherResponse } from '../parse/parse-response';
import { mixAssignment, subsampleExplanations, type PromptMix } from '../prompts/mixes';
import { getTemplate, type TemplateSet } from '../prompts/templates';
import type { RecordedResponse } from '../teacher/recorded-responses';
import type { TrainingLine } from './training-data-file';

/**
 * The lines of a training-data file (training-data-file.ts) from the answers to a prompt mix. Each row takes its
 * label from the answer of the template the mix's label part assigns it, and its explanation from the answer of the
 * template the explanation part assigns it (both parts cut by `mixAssignment`). One query per distinct
 * (template, row): where the parts agree, one answer gives both.
 */

export interface Query {
  templateId: number;
  row: number;
}

/**
 * The distinct (template, row) answers a split needs, in the study's query order: label part, then explanation
 * part; each part's templates in the mix's order, each template's rows in shuffled order.
 */
export function queriesForMix(mix: PromptMix, n: number): Query[] {
  const assignment = mixAssignment(mix, n);
  const seen = new Set<string>();
  const queries: Query[] = [];
  for (const part of [assignment.label, assignment.explanation]) {
    for (const [templateId, rows] of part) {
      for (const row of rows) {
        const id = `${templateId}:${row}`;
        if (seen.has(id)) continue;
        seen.add(id);
        queries.push({ templateId, row });
      }
    }
  }
  return queries;
}

/** Parses the answers into one line per row; `answerOf` must have an answer for every query of the mix. */
export function buildTrainingLines(
  task: TaskDefinition,
  templates: TemplateSet,
  mix: PromptMix,
  n: number,
  answerOf: (templateId: number, row: number) => RecordedResponse | undefined,
): TrainingLine[] {
  const assignment = mixAssignment(mix, n);
  const lines: { label?: string | null; explanation?: string | null }[] = Array.from({ length: n }, () => ({}));
  const fields = [
    ['label', assignment.label],
    ['explanation', assignment.explanation],
  ] as const;
  for (const [field, part] of fields) {
    for (const [templateId, rows] of part) {
      const template = getTemplate(templates, templateId);
      for (const row of rows) {
        const answer = answerOf(templateId, row);
        if (!answer) throw new ZsdError('internal', `no answer of template ${templateId} for row ${row}`);
        const outcome = parseTeacherResponse(task.kind, template, answer.response, answer.promptValues);
        lines[row][field] = field === 'label' ? outcomeLabel(outcome) : outcomeExplanation(outcome);
      }
    }
  }
  return lines.map((line) => ({ label: line.label ?? null, explanation: line.explanation ?? null }));
}

export interface ExplanationRateResult {
  lines: TrainingLine[];
  /** Share of rows with an explanation before and after. */
  rateBefore: number;
  rateAfter: number;
  applied: boolean;
}

/**
 * The study's explanation-rate subsampling (train only, by the caller): applied only when `rate` is below the
 * rate the teacher achieved; see `subsampleExplanations` for the draws.
 */
export function applyExplanationRate(lines: readonly TrainingLine[], rate: number): ExplanationRateResult {
  const has = lines.map((line) => line.explanation !== null);
  const rateBefore = lines.length === 0 ? 0 : has.filter(Boolean).length / lines.length;
  const keep = subsampleExplanations(has, rate);
  if (!(rate < rateBefore)) return { lines: [...lines], rateBefore, rateAfter: rateBefore, applied: false };
  const subsampled = lines.map((line, row) => (keep[row] ? line : { ...line, explanation: null }));
  const rateAfter = subsampled.filter((line) => line.explanation !== null).length / lines.length;
  return { lines: subsampled, rateBefore, rateAfter, applied: true };
}
