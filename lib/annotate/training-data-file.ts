import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { parseJsonLines } from '../core/jsonl';
import { writeFileAtomic } from '../core/paths';
import { pythonJsonDumps } from '../core/python';

/**
 * The training-data file, in the study's format: `datasets/<task>/<model slug>/<mix>/<split>_CoT.json` in the
 * workspace, one `{"label": ..., "explanation": ...}` line per row of the split (rows 0..n-1, in order), `null`
 * where the teacher gave no label (parse error) or no usable explanation. `zsd generate` writes it (lines as
 * Python's `json.dump` wrote them, so the study's files regenerate byte for byte); the student reads it back here.
 */

export interface TrainingLine {
  label: string | null;
  explanation: string | null;
}

/** `gpt-3.5-turbo` -> `gpt_35_turbo` (the study's directory name): dots dropped, anything else not a word character -> `_`. */
export function modelSlug(model: string): string {
  return (
    model
      .replace(/\./g, '')
      .replace(/[^A-Za-z0-9_]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'model'
  );
}

export function trainingDataFile(workspaceRoot: string, task: string, model: string, mixId: string, split: string): string {
  return path.join(workspaceRoot, 'datasets', task, modelSlug(model), mixId, `${split}_CoT.json`);
}

export function formatTrainingLines(lines: readonly TrainingLine[]): string {
  return lines.map((line) => `${pythonJsonDumps({ label: line.label, explanation: line.explanation })}\n`).join('');
}

export function writeTrainingData(file: string, lines: readonly TrainingLine[]): void {
  writeFileAtomic(file, formatTrainingLines(lines));
}

/** Reads a training-data file back, checking every line: one {"label", "explanation"} object per row, in row order. */
export function readTrainingData(file: string): TrainingLine[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ZsdError('not-found', 'no training-data file (expected the <split>_CoT.json `zsd generate` writes)', { file });
  }
  const content = parseJsonLines(text, file);
  if (content.tornTail)
    throw new ZsdError('invalid-file', 'last line is incomplete (not valid JSON): the file was cut off', { file, line: content.tornTail.line });
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  const blank = lines.findIndex((line) => line.trim() === '');
  if (blank !== -1) throw new ZsdError('invalid-file', 'blank line: every row of the split needs one {"label", "explanation"} line', { file, line: blank + 1 });
  return content.lines.map(({ line, value }) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ZsdError('invalid-file', 'expected an object {"label": ..., "explanation": ...}', { file, line });
    }
    const record = value as Record<string, unknown>;
    const field = (key: 'label' | 'explanation'): string | null => {
      if (!(key in record)) throw new ZsdError('invalid-file', `missing "${key}" (a string or null)`, { file, line, key });
      const fieldValue = record[key];
      if (fieldValue !== null && typeof fieldValue !== 'string')
        throw new ZsdError('invalid-file', `expected "${key}" to be a string or null, got ${JSON.stringify(fieldValue)}`, { file, line, key });
      return fieldValue as string | null;
    };
    return { label: field('label'), explanation: field('explanation') };
  });
}
