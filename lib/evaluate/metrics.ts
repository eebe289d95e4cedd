import { codePointLength, pythonWordCount } from '../core/python';
import type { TaskKind } from '../data/tasks';
import { outcomeExplanation, outcomeLabel, type ParseOutcome } from '../parse/parse-outcome';
import { equationsAgree } from './equation';
import { fleschReadingEase } from './readability';

/**
 * Per-template metrics of a teacher, with the study's definitions (its prompt-metadata schema):
 * - accuracy = correct / (correct + wrong); a parse error is wrong; null when the split has no gold labels;
 * - n_none_responses: rows without a usable explanation (parse errors included);
 * - total_responses: rows *with* an explanation (the study's name; `n_explanations` says the same);
 * - explanation statistics over the explanations: characters (code points), words (whitespace split),
 *   sentences (". " split), population variance of the length, Flesch reading ease of all of them joined.
 */

export interface TemplateEvaluation {
  accuracy: number | null;
  n_correct: number | null;
  n_wrong: number | null;
  n_parse_errors: number;
  n_none_responses: number;
  total_responses: number;
  n_explanations: number;
  n_responses: number;
  explanation_rate: number;
  avg_len_of_explanations: number;
  avg_nr_of_words: number;
  avg_nr_of_sentences: number;
  variance_length_of_explanations: number | null;
  flesch_reading_ease: number;
  total_length_of_explanations: number;
  total_number_of_words: number;
  total_number_of_sentences: number;
}

export interface ScoredOutcome {
  outcome: ParseOutcome;
  /** Gold label as text, or null when the split has none. */
  gold: string | null;
}

export function isCorrect(kind: TaskKind, label: string | null, gold: string): boolean {
  if (label === null) return false;
  if (kind === 'math') return equationsAgree(label, gold);
  if (kind === 'generic') return label === gold.trim().toLowerCase();
  return label === gold;
}

export function evaluateOutcomes(kind: TaskKind, scored: readonly ScoredOutcome[]): TemplateEvaluation {
  const hasGold = scored.length > 0 && scored.every((item) => item.gold !== null);
  let correct = 0;
  let parseErrors = 0;
  const lengths: number[] = [];
  const explanations: string[] = [];
  let words = 0;
  let sentences = 0;
  for (const { outcome, gold } of scored) {
    if (outcome.kind === 'parse-error') parseErrors++;
    if (hasGold && isCorrect(kind, outcomeLabel(outcome), gold!)) correct++;
    const explanation = outcomeExplanation(outcome);
    if (explanation !== null) {
      explanations.push(explanation);
      lengths.push(codePointLength(explanation));
      words += pythonWordCount(explanation);
      sentences += explanation.split('. ').length;
    }
  }
  const total = scored.length;
  const explained = explanations.length;
  const totalLength = lengths.reduce((sum, length) => sum + length, 0);
  return {
    accuracy: hasGold ? correct / total : null,
    n_correct: hasGold ? correct : null,
    n_wrong: hasGold ? total - correct : null,
    n_parse_errors: parseErrors,
    n_none_responses: total - explained,
    total_responses: explained,
    n_explanations: explained,
    n_responses: total,
    explanation_rate: total > 0 ? explained / total : 0,
    avg_len_of_explanations: explained > 0 ? totalLength / explained : 0,
    avg_nr_of_words: explained > 0 ? words / explained : 0,
    avg_nr_of_sentences: explained > 0 ? sentences / explained : 0,
    variance_length_of_explanations: explained > 0 ? populationVariance(lengths) : null,
    flesch_reading_ease: fleschReadingEase(explanations.join(' ')),
    total_length_of_explanations: totalLength,
    total_number_of_words: words,
    total_number_of_sentences: sentences,
  };
}

/** numpy's `np.var` (population variance), with the mean subtracted first like numpy does. */
export function populationVariance(values: readonly number[]): number {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  return values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length;
}

/**
 * Best first: accuracy, then explanation rate (the only signal where a split has no gold labels), then id.
 * How `evaluate` and `experiment` name the best template.
 */
export function rankByAccuracy<T extends { id: string | number; evaluation: TemplateEvaluation }>(reports: readonly T[]): T[] {
  return [...reports].sort((a, b) => {
    const left = a.evaluation.accuracy ?? -1;
    const right = b.evaluation.accuracy ?? -1;
    if (left !== right) return right - left;
    if (a.evaluation.explanation_rate !== b.evaluation.explanation_rate) return b.evaluation.explanation_rate - a.evaluation.explanation_rate;
    return Number(a.id) - Number(b.id);
  });
}
