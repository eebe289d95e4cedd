/**
 * What an answer that needs no training scores, so that no student's accuracy is read without its floor.
 *
 * - Classification tasks (NLI, multiple choice, generic): the majority label of the reference split (train where
 *   the task has it, else the first split it has that is not the scored one), scored on the requested split. For
 *   multiple choice the label is the answer's position (a to e): the answer texts differ from question to question.
 * - svamp (math): every single-operation rule `x op y` over two of the problem's numbers picked by role (first,
 *   second, last, largest, smallest), and the sum of all numbers; the rule with the best accuracy on the reference
 *   split is scored on the requested split. And an oracle: the share of problems that some operation (+ - * /) on
 *   some ordered pair of the problem's numbers answers, an upper bound for students that pick one operation.
 * svamp answers are compared by value with the gold equation's, within 1e-9 relative: a rule computes the same
 * operations in another order than the gold equation may (the task's scoring of student equations is exact).
 */
import { ZsdError } from '../core/errors';
import { loadSplit, splitFile, type ExampleRow } from '../data/datasets';
import type { TaskDefinition } from '../data/tasks';
import { evaluateEquation } from './equation';

export interface BaselineScore {
  /** e.g. 'majority label', 'best single rule', 'oracle operation' */
  name: string;
  /** what it answers, e.g. 'neutral' or '( max - min )' */
  rule: string;
  /** accuracy on the reference split (where the rule was chosen); null for the oracle, which is not chosen */
  referenceAccuracy: number | null;
  accuracy: number;
  correct: number;
  rows: number;
}

export interface BaselineReport {
  task: string;
  split: string;
  referenceSplit: string;
  baselines: BaselineScore[];
}

/** The numbers a problem states, in order of appearance ("1,200" is 1200). */
export function problemNumbers(text: string): number[] {
  return Array.from(text.matchAll(/\d[\d,]*(?:\.\d+)?|\.\d+/g), (match) => Number(match[0].replace(/,/g, ''))).filter((value) => Number.isFinite(value));
}

type Role = 'first' | 'second' | 'last' | 'max' | 'min';
const ROLES: readonly Role[] = ['first', 'second', 'last', 'max', 'min'];
const OPERATIONS = ['+', '-', '*', '/'] as const;
type Operation = (typeof OPERATIONS)[number];

interface Rule {
  text: string;
  answer(numbers: number[]): number;
}

function pick(numbers: number[], role: Role): number {
  switch (role) {
    case 'first':
      return numbers[0];
    case 'second':
      return numbers[1];
    case 'last':
      return numbers[numbers.length - 1];
    case 'max':
      return Math.max(...numbers);
    case 'min':
      return Math.min(...numbers);
  }
}

function apply(operation: Operation, left: number, right: number): number {
  switch (operation) {
    case '+':
      return left + right;
    case '-':
      return left - right;
    case '*':
      return left * right;
    case '/':
      return right === 0 ? Number.NaN : left / right;
  }
}

/** Every rule the search tries, in a fixed order (ties keep the first). */
export function singleOperationRules(): Rule[] {
  const rules: Rule[] = [];
  for (const operation of OPERATIONS) {
    for (const left of ROLES) {
      for (const right of ROLES) {
        if (left === right) continue;
        rules.push({
          text: `( ${left} ${operation} ${right} )`,
          answer: (numbers) => (numbers.length < 2 ? Number.NaN : apply(operation, pick(numbers, left), pick(numbers, right))),
        });
      }
    }
  }
  rules.push({ text: 'sum of all numbers', answer: (numbers) => (numbers.length === 0 ? Number.NaN : numbers.reduce((sum, value) => sum + value, 0)) });
  return rules;
}

/** The same value within 1e-9 relative (float order of operations); NaN is never equal. */
function sameValue(answer: number, gold: number): boolean {
  if (Number.isNaN(answer) || Number.isNaN(gold)) return false;
  return answer === gold || Math.abs(answer - gold) <= 1e-9 * Math.max(1, Math.abs(gold));
}

function goldValue(row: ExampleRow): number {
  return evaluateEquation(row.goldLabel);
}

function questionOf(row: ExampleRow): string {
  const question = row.promptValues.question ?? row.promptValues.input;
  if (question === undefined) throw new ZsdError('invalid-file', `row ${row.index}: no question to take numbers from`);
  return question;
}

function ruleAccuracy(rule: Rule, rows: readonly ExampleRow[]): number {
  let correct = 0;
  for (const row of rows) if (sameValue(rule.answer(problemNumbers(questionOf(row))), goldValue(row))) correct++;
  return rows.length === 0 ? 0 : correct / rows.length;
}

/** Some operation on some ordered pair of distinct positions gives the gold value. */
export function oracleSolves(row: ExampleRow): boolean {
  const numbers = problemNumbers(questionOf(row));
  const gold = goldValue(row);
  for (let i = 0; i < numbers.length; i++) {
    for (let j = 0; j < numbers.length; j++) {
      if (i === j) continue;
      if (OPERATIONS.some((operation) => sameValue(apply(operation, numbers[i], numbers[j]), gold))) return true;
    }
  }
  return false;
}

function score(
  name: string,
  rule: string,
  referenceAccuracy: number | null,
  rows: readonly ExampleRow[],
  isCorrect: (row: ExampleRow) => boolean,
): BaselineScore {
  const correct = rows.filter(isCorrect).length;
  return { name, rule, referenceAccuracy, accuracy: rows.length === 0 ? 0 : correct / rows.length, correct, rows: rows.length };
}

/** The label a classification baseline predicts for a row: the answer's position for multiple choice. */
function classLabel(task: TaskDefinition, row: ExampleRow): string {
  if (task.kind !== 'multiple-choice') return row.goldLabel;
  const letters = ['a', 'b', 'c', 'd', 'e'];
  const position = letters.findIndex((letter) => row.promptValues[`choice_${letter}`] === row.goldLabel);
  return position < 0 ? '?' : `(${letters[position]})`;
}

export function computeBaselines(
  task: TaskDefinition,
  scored: { split: string; rows: readonly ExampleRow[] },
  reference: { split: string; rows: readonly ExampleRow[] },
): BaselineReport {
  if (scored.rows.length === 0) throw new ZsdError('invalid-file', `task ${task.name}, split ${scored.split}: no rows to score`);
  if (reference.rows.length === 0) throw new ZsdError('invalid-file', `task ${task.name}, split ${reference.split}: no rows to choose a baseline on`);
  const baselines: BaselineScore[] = [];
  if (task.kind === 'math') {
    let best: { rule: Rule; accuracy: number } | undefined;
    for (const rule of singleOperationRules()) {
      const accuracy = ruleAccuracy(rule, reference.rows);
      if (best === undefined || accuracy > best.accuracy) best = { rule, accuracy };
    }
    const chosen = best!;
    baselines.push(
      score('best single rule', chosen.rule.text, chosen.accuracy, scored.rows, (row) =>
        sameValue(chosen.rule.answer(problemNumbers(questionOf(row))), goldValue(row)),
      ),
    );
    baselines.push(score('oracle operation', 'the right + - * / on two of the numbers', null, scored.rows, oracleSolves));
  } else {
    const counts = new Map<string, number>();
    for (const row of reference.rows) counts.set(classLabel(task, row), (counts.get(classLabel(task, row)) ?? 0) + 1);
    const [majority, count] = [...counts].reduce((best, entry) => (entry[1] > best[1] || (entry[1] === best[1] && entry[0] < best[0]) ? entry : best));
    baselines.push(score('majority label', majority, count / reference.rows.length, scored.rows, (row) => classLabel(task, row) === majority));
  }
  return { task: task.name, split: scored.split, referenceSplit: reference.split, baselines };
}

/** The split a baseline is chosen on: train where the task has it, else the first other split. */
export function referenceSplitFor(task: TaskDefinition, scoredSplit: string, available: (split: string) => boolean): string {
  if (available('train')) return 'train';
  const other = task.splits.find((split) => split !== scoredSplit && available(split));
  if (other === undefined)
    throw new ZsdError(
      'not-found',
      `task ${task.name}: no split other than ${scoredSplit} to choose a baseline on (looked for train, ${task.splits.join(', ')})`,
    );
  return other;
}

/** Loads the scored and reference splits of a task from the data roots and computes its baselines. */
export function taskBaselines(task: TaskDefinition, split: string, roots: readonly string[]): BaselineReport {
  const scored = loadSplit(task, split, roots);
  const referenceSplit = referenceSplitFor(task, split, (candidate) => splitFile(task, candidate, roots) !== undefined);
  const reference = referenceSplit === split ? scored : loadSplit(task, referenceSplit, roots);
  return computeBaselines(task, { split, rows: scored.rows }, { split: referenceSplit, rows: reference.rows });
}
