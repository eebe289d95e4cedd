/**
 * What parsing one teacher response can give. Metrics count kinds; nothing downstream checks for nulls.
 * - parsed: a label and a usable explanation;
 * - no-explanation: a label, but no explanation (none asked for, none found, or fewer than 5 words once cleaned);
 * - parse-error: no label could be read (the response counts as wrong).
 */
export type ParseOutcome =
  | { kind: 'parsed'; label: string; explanation: string }
  | { kind: 'no-explanation'; label: string }
  | { kind: 'parse-error'; reason: 'no-match' | 'empty-label' };

export function outcomeLabel(outcome: ParseOutcome): string | null {
  return outcome.kind === 'parse-error' ? null : outcome.label;
}

export function outcomeExplanation(outcome: ParseOutcome): string | null {
  return outcome.kind === 'parsed' ? outcome.explanation : null;
}
