import { pythonStrip } from '../core/python';
import type { TaskKind } from '../data/tasks';

/**
 * Label normalisation, per task kind, as the study's parser does it:
 * - NLI: lower-case, then synonyms to the three classes (contradiction <- false, not valid, contradicts;
 *   neutral <- inconclusive, cannot be determined, uncertain, cannot determine; entailment <- true, valid, entails);
 * - multiple choice: lower-case; an answer given as an identifier only ("a)", "1)", "1.", spaces ignored)
 *   becomes that choice's text;
 * - math and generic tasks: lower-case and stripped.
 */

const NLI_SYNONYMS: Readonly<Record<string, string>> = {
  contradiction: 'contradiction',
  false: 'contradiction',
  'not valid': 'contradiction',
  contradicts: 'contradiction',
  neutral: 'neutral',
  inconclusive: 'neutral',
  'cannot be determined': 'neutral',
  uncertain: 'neutral',
  'cannot determine': 'neutral',
  entailment: 'entailment',
  true: 'entailment',
  valid: 'entailment',
  entails: 'entailment',
};

const CHOICE_LETTERS = ['a', 'b', 'c', 'd', 'e'] as const;

export function normalizeTeacherLabel(kind: TaskKind, rawLabel: string, promptValues: Readonly<Record<string, string>>): string {
  const label = pythonStrip(rawLabel.toLowerCase());
  switch (kind) {
    case 'nli':
      return NLI_SYNONYMS[label] ?? label;
    case 'multiple-choice':
      return choiceTextForIdentifier(label, promptValues) ?? label;
    case 'math':
    case 'generic':
      return label;
  }
}

function choiceTextForIdentifier(label: string, promptValues: Readonly<Record<string, string>>): string | undefined {
  const compact = label.replace(/ /g, '');
  for (let position = 0; position < CHOICE_LETTERS.length; position++) {
    const letter = CHOICE_LETTERS[position];
    if (compact === `${letter})` || compact === `${position + 1})` || compact === `${position + 1}.`) {
      return promptValues[`choice_${letter}`];
    }
  }
  return undefined;
}
