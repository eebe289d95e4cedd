import { pythonStrip } from '../core/python';
import type { TaskKind } from '../data/tasks';
import type { PalmCompletion } from '../teacher/palm';
import { buildParsePattern, type PromptTemplate } from '../prompts/templates';
import { cleanExplanation } from './explanation';
import { normalizeTeacherLabel } from './labels';
import type { ParseOutcome } from './parse-outcome';

/**
 * Parses one teacher response with its template's pattern: first match wins; the label is normalised for the
 * task, the explanation cleaned. The values are the ones the prompt was rendered with (they may appear in
 * the pattern, e.g. a multiple-choice task matches the choice texts).
 */
export function parseTeacherResponse(kind: TaskKind, template: PromptTemplate, response: string, promptValues: Readonly<Record<string, string>>): ParseOutcome {
  const pattern = buildParsePattern(template, promptValues);
  const match = pattern.regex.exec(response);
  if (!match) return { kind: 'parse-error', reason: 'no-match' };
  const rawLabel = match[pattern.labelGroup];
  if (rawLabel === undefined) return { kind: 'parse-error', reason: 'no-match' };
  const label = normalizeTeacherLabel(kind, rawLabel, promptValues);
  const rawExplanation = pattern.explanationGroup > 0 ? match[pattern.explanationGroup] : undefined;
  const explanation = rawExplanation === undefined ? null : cleanExplanation(rawExplanation);
  return explanation === null ? { kind: 'no-explanation', label } : { kind: 'parsed', label, explanation };
}

/** A recorded PaLM completion as a parse outcome: a blank label is a parse error; the rationale is used as written. */
export function parsePalmCompletion(completion: PalmCompletion): ParseOutcome {
  if (pythonStrip(completion.label) === '') return { kind: 'parse-error', reason: 'empty-label' };
  return pythonStrip(completion.rationale) === ''
    ? { kind: 'no-explanation', label: completion.label }
    : { kind: 'parsed', label: completion.label, explanation: completion.rationale };
}
