import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { readJsonLines } from '../core/jsonl';
import { NLI_LABELS, type TaskDefinition } from './tasks';

/**
 * Dataset splits: `datasets/<task>/<task>_<split>.json` (JSON Lines, one example per line) under the data root
 * (or, for a user's generic task, the workspace). Each row becomes the prompt values the study's templates
 * expect, a gold label as text, and the human rationale where the dataset has one.
 */

export interface ExampleRow {
  /** Position in the split (the `idx` of recorded responses). */
  index: number;
  promptValues: Readonly<Record<string, string>>;
  goldLabel: string;
  /** The dataset's own human explanation (CoS-E, ANLI reason, e-SNLI explanation_1, generic rationale). */
  humanRationale: string | null;
}

export interface DatasetSplit {
  task: string;
  split: string;
  file: string;
  rows: readonly ExampleRow[];
}

export function splitFile(task: TaskDefinition, split: string, roots: readonly string[]): string | undefined {
  const extensions = task.builtIn ? ['.json'] : ['.jsonl', '.json'];
  for (const root of roots) {
    for (const extension of extensions) {
      const candidate = path.join(root, 'datasets', task.name, `${task.name}_${split}${extension}`);
      if (fs.existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

export function loadSplit(task: TaskDefinition, split: string, roots: readonly string[]): DatasetSplit {
  const file = splitFile(task, split, roots);
  if (!file) {
    throw new ZsdError(
      'not-found',
      `no "${split}" split for task "${task.name}": expected datasets/${task.name}/${task.name}_${split}.json${task.builtIn ? '' : 'l'} under ${roots.join(' or ')}` +
        (task.splits.length > 0 ? ` (the task defines splits ${task.splits.join(', ')})` : ''),
    );
  }
  const content = readJsonLines<Record<string, unknown>>(file);
  if (content.tornTail) {
    throw new ZsdError('invalid-file', 'last line is incomplete (no newline and not valid JSON): the file was cut off while being written', {
      file,
      line: content.tornTail.line,
    });
  }
  const rows = content.lines.map(({ line, value }, index) => toExampleRow(task, value, index, { file, line }));
  // An empty split would "succeed" with nothing asked, trained or scored: almost always a failed download or export.
  if (rows.length === 0)
    throw new ZsdError('invalid-file', `the "${split}" split of task "${task.name}" has no rows; expected one JSON object per line`, { file });
  return { task: task.name, split, file, rows };
}

interface RowLocation {
  file: string;
  line: number;
}

function toExampleRow(task: TaskDefinition, value: unknown, index: number, where: RowLocation): ExampleRow {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ZsdError('invalid-file', 'expected a JSON object per line', where);
  }
  const row = value as Record<string, unknown>;
  switch (task.kind) {
    case 'multiple-choice': {
      const choices = field(row, 'choices', where);
      if (!Array.isArray(choices) || choices.length !== 5 || !choices.every((choice) => typeof choice === 'string')) {
        throw new ZsdError('invalid-file', 'expected "choices" to be an array of 5 strings', { ...where, key: 'choices' });
      }
      const [a, b, c, d, e] = choices as string[];
      return {
        index,
        promptValues: { question: text(row, 'question', where), choice_a: a, choice_b: b, choice_c: c, choice_d: d, choice_e: e },
        goldLabel: text(row, 'answer', where),
        humanRationale: optionalText(row, 'abstractive_explanation', where),
      };
    }
    case 'math':
      return {
        index,
        promptValues: { question: text(row, 'input', where) },
        goldLabel: text(row, 'label', where),
        humanRationale: null,
      };
    case 'nli': {
      const label = field(row, 'label', where);
      if (typeof label !== 'number' || !Number.isInteger(label) || label < 0 || label > 2) {
        throw new ZsdError('invalid-file', `expected "label" to be 0 (entailment), 1 (neutral) or 2 (contradiction), got ${JSON.stringify(label)}`, {
          ...where,
          key: 'label',
        });
      }
      const goldLabel = NLI_LABELS[label];
      return {
        index,
        promptValues: { premise: text(row, 'premise', where), hypothesis: text(row, 'hypothesis', where), label: goldLabel },
        goldLabel,
        humanRationale: optionalText(row, 'reason', where) ?? optionalText(row, 'explanation_1', where),
      };
    }
    case 'generic': {
      const label = field(row, 'label', where);
      if (typeof label !== 'string' && typeof label !== 'number') {
        throw new ZsdError('invalid-file', `expected "label" to be a string or number, got ${JSON.stringify(label)}`, { ...where, key: 'label' });
      }
      const goldLabel = String(label);
      return {
        index,
        promptValues: { input: text(row, 'input', where), label: goldLabel },
        goldLabel,
        humanRationale: optionalText(row, 'rationale', where),
      };
    }
  }
}

function field(row: Record<string, unknown>, key: string, where: RowLocation): unknown {
  if (!(key in row)) throw new ZsdError('invalid-file', `missing field "${key}"`, { ...where, key });
  return row[key];
}

function text(row: Record<string, unknown>, key: string, where: RowLocation): string {
  const value = field(row, key, where);
  if (typeof value !== 'string') throw new ZsdError('invalid-file', `expected "${key}" to be a string, got ${JSON.stringify(value)}`, { ...where, key });
  return value;
}

function optionalText(row: Record<string, unknown>, key: string, where: RowLocation): string | null {
  const value = row[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string')
    throw new ZsdError('invalid-file', `expected "${key}" to be a string or null, got ${JSON.stringify(value)}`, { ...where, key });
  return value;
}
