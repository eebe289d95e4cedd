import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { parseJsonLines } from '../core/jsonl';
import type { ExampleRow } from './datasets';
import { BUILT_IN_TASKS, type TaskDefinition } from './tasks';

/**
 * TinyLLM's multi-teacher tasks (arc, obqa, riddle, pubmedqa, bioasq) under `<dataRoot>/multi-teacher/<task>/`:
 * the splits `<task>_<split>.json` (read here) and the teachers' rationales `llm/<split>_CoT_<k>.json`
 * (lib/teacher/multi-teacher.ts). Every such task is multiple choice, with as many choices as a row has.
 */

const CHOICE_LETTERS = 'abcdefghijklmnopqrstuvwxyz';

export function multiTeacherDirectory(dataRoot: string, task: string): string {
  return path.join(dataRoot, 'multi-teacher', task);
}

export function multiTeacherSplitFile(dataRoot: string, task: string, split: string): string {
  return path.join(multiTeacherDirectory(dataRoot, task), `${task}_${split}.json`);
}

/** The task named `name` when its directory exists under `<dataRoot>/multi-teacher/` (never a built-in task). */
export function multiTeacherTask(name: string, dataRoot: string): TaskDefinition | undefined {
  if (BUILT_IN_TASKS.includes(name) || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) return undefined;
  const directory = multiTeacherDirectory(dataRoot, name);
  if (!fs.existsSync(directory)) return undefined;
  const splits = fs
    .readdirSync(directory)
    .map((file) => (file.startsWith(`${name}_`) && file.endsWith('.json') ? file.slice(name.length + 1, -'.json'.length) : undefined))
    .filter((split): split is string => split !== undefined)
    .sort();
  return { name, kind: 'multiple-choice', splits, promptFields: ['question'], builtIn: false };
}

export function isMultiTeacherTask(task: TaskDefinition, dataRoot: string): boolean {
  return !task.builtIn && task.kind === 'multiple-choice' && fs.existsSync(multiTeacherDirectory(dataRoot, task.name));
}

/** A TinyLLM split: JSON Lines (obqa) or one JSON array (arc, riddle, pubmedqa, bioasq) of {id, question, choices, answer}. */
export function readMultiTeacherRows(file: string): ExampleRow[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ZsdError('not-found', 'no such multi-teacher split (expected a JSON array or JSON Lines of {id, question, choices, answer})', { file });
  }
  let values: { value: unknown; where: { file: string; line?: number; key?: string } }[];
  if (text.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new ZsdError('invalid-file', `not valid JSON: ${(error as Error).message}`, { file });
    }
    if (!Array.isArray(parsed)) throw new ZsdError('invalid-file', 'expected a JSON array of rows', { file });
    values = parsed.map((value, position) => ({ value, where: { file, key: String(position) } }));
  } else {
    const content = parseJsonLines(text, file);
    if (content.tornTail) throw new ZsdError('invalid-file', 'last line is incomplete', { file, line: content.tornTail.line });
    values = content.lines.map(({ value, line }) => ({ value, where: { file, line } }));
  }
  return values.map(({ value, where }, index) => {
    const row = value as Record<string, unknown>;
    if (typeof row !== 'object' || row === null || Array.isArray(row))
      throw new ZsdError('invalid-file', 'expected an object {id, question, choices, answer}', where);
    const { question, choices, answer } = row;
    if (typeof question !== 'string')
      throw new ZsdError('invalid-file', 'expected "question" to be a string', { ...where, key: joinKey(where.key, 'question') });
    if (!Array.isArray(choices) || choices.length < 1 || choices.length > CHOICE_LETTERS.length || !choices.every((choice) => typeof choice === 'string')) {
      throw new ZsdError('invalid-file', 'expected "choices" to be an array of 1 to 26 strings', { ...where, key: joinKey(where.key, 'choices') });
    }
    if (typeof answer !== 'string') throw new ZsdError('invalid-file', 'expected "answer" to be a string', { ...where, key: joinKey(where.key, 'answer') });
    const promptValues: Record<string, string> = { question };
    (choices as string[]).forEach((choice, position) => (promptValues[`choice_${CHOICE_LETTERS[position]}`] = choice));
    return { index, promptValues, goldLabel: answer, humanRationale: null };
  });
}

function joinKey(prefix: string | undefined, key: string): string {
  return prefix === undefined ? key : `${prefix}.${key}`;
}
