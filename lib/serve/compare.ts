/**
 * Teacher vs student on the same test rows, with the same metrics (`evaluateOutcomes`, as `zsd evaluate` scores a
 * teacher): the teacher's recorded answers parsed by their template's pattern; the served student's answers (label
 * and, in explain mode, rationale) through the same explanation cleaning and correctness rule. Side by side:
 * accuracy, explanation rate, latency per answer (p50, p95), throughput, dollars per 1,000 answers and model size.
 *
 * The student is measured over HTTP on this machine (closed loop, `concurrency` clients), as a user of
 * `zsd serve` gets it. Its dollars are the machine's: `machineUsdPerHour` / answers per hour. The teacher's are its
 * list price (prices.yaml) times the tokens of each answer (recorded usage, else counted with tiktoken). Recorded
 * answers carry no timing, so the teacher's latency and throughput are unknown (null), never guessed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pythonStrip } from '../core/python';
import { ZsdError } from '../core/errors';
import type { Workspace } from '../core/paths';
import { loadSplit } from '../data/datasets';
import type { TaskDefinition } from '../data/tasks';
import { evaluateOutcomes, type TemplateEvaluation } from '../evaluate/metrics';
import { cleanExplanation } from '../parse/explanation';
import type { ParseOutcome } from '../parse/parse-outcome';
import { parseTeacherResponse } from '../parse/parse-response';
import { getTemplate, loadTemplates, renderTemplate } from '../prompts/templates';
import { promptTokensOf } from '../teacher/estimate';
import { costOf, type ModelPrice } from '../teacher/prices';
import { readRecordedResponses } from '../teacher/recorded-responses';
import { countTextTokens } from '../teacher/tokens';
import { studentInput } from '../student/student-examples';

/**
 * What a machine that serves the student costs, by default: a 2-vCPU general-purpose on-demand cloud VM with
 * 8 GiB (the kind of machine these numbers are measured on), at about $0.10 per hour in 2025 list prices (AWS
 * m7i.large $0.1008, GCP e2-standard-2 $0.067, Azure D2s v5 $0.096). Pass your own with --machine-cost.
 */
export const DEFAULT_MACHINE_USD_PER_HOUR = 0.1;

export interface ComparisonSide {
  name: string;
  answers: number;
  accuracy: number | null;
  explanation_rate: number;
  latency_ms: { p50: number; p95: number } | null;
  answers_per_second: number | null;
  usd_per_1000_answers: number;
  /** how the dollars were reckoned */
  cost_basis: string;
  parameters: number | null;
  model_bytes: number | null;
  evaluation: TemplateEvaluation;
}

export interface Comparison {
  formatVersion: 1;
  task: string;
  split: string;
  template: number;
  /** the rows both answered, by index in the split */
  rows: number[];
  teacher: ComparisonSide;
  student: ComparisonSide;
  concurrency: number;
  machine_usd_per_hour: number;
}

export interface StudentEndpoint {
  /** http://host:port/v1 of a `zsd serve` */
  baseUrl: string;
  modelId: string;
  apiKey?: string;
}

export interface CompareOptions {
  task: TaskDefinition;
  split: string;
  dataRoot: string;
  workspace: Workspace;
  templateId: number;
  teacherModel: string;
  price: ModelPrice;
  student: StudentEndpoint;
  /** the first this many rows the teacher answered (default all) */
  rows?: number;
  /** student requests in flight at once */
  concurrency: number;
  machineUsdPerHour: number;
}

interface StudentModelInfo {
  parameters?: number;
  model_bytes?: number;
  explain?: boolean;
}

export async function compareTeacherAndStudent(options: CompareOptions): Promise<Comparison> {
  const { task, split, workspace } = options;
  const gold = loadSplit(task, split, [options.dataRoot, workspace.root]);
  const template = getTemplate(loadTemplates(workspace, task.name), options.templateId);
  let recorded = readRecordedResponses(workspace, task.name, split, options.templateId, { model: options.teacherModel }).sort((a, b) => a.idx - b.idx);
  if (recorded.length === 0)
    throw new ZsdError('not-found', `no recorded ${options.teacherModel} answers for ${task.name} ${split} template ${options.templateId}`);
  if (options.rows !== undefined) recorded = recorded.slice(0, options.rows);
  for (const response of recorded) {
    if (!gold.rows[response.idx])
      throw new ZsdError('invalid-file', `idx ${response.idx} is beyond the ${gold.rows.length} rows of ${task.name} ${split}`, {
        file: response.file,
        line: response.line,
        key: 'idx',
      });
  }

  // teacher: parsed by its template, priced at list price per answer
  const teacherOutcomes = recorded.map((response) => ({
    outcome: parseTeacherResponse(task.kind, template, response.response, response.promptValues),
    gold: gold.rows[response.idx].goldLabel,
  }));
  const teacherDollars = recorded.reduce((sum, response) => {
    const rendered = renderTemplate(template, response.promptValues);
    const usage = response.usage ?? {
      prompt_tokens: promptTokensOf({
        model: options.teacherModel,
        endpoint: response.endpoint ?? 'chat',
        system: rendered.system,
        user: rendered.user,
        parameters: {},
      }),
      completion_tokens: countTextTokens(response.response, options.teacherModel),
    };
    return sum + costOf(usage, options.price);
  }, 0);
  const teacherEvaluation = evaluateOutcomes(task.kind, teacherOutcomes);

  // student: every row's task input over HTTP, timed
  const info = await studentModelInfo(options.student);
  const explain = info.explain !== false;
  const inputs = recorded.map((response) => studentInput(task, gold.rows[response.idx]));
  const { answers, latencies, seconds } = await askStudent(options.student, inputs, explain, options.concurrency);
  const studentOutcomes = answers.map((answer, index) => ({ outcome: studentOutcome(answer), gold: gold.rows[recorded[index].idx].goldLabel }));
  const studentEvaluation = evaluateOutcomes(task.kind, studentOutcomes);
  const answersPerSecond = answers.length / seconds;
  const sorted = [...latencies].sort((a, b) => a - b);

  return {
    formatVersion: 1,
    task: task.name,
    split,
    template: options.templateId,
    rows: recorded.map((response) => response.idx),
    concurrency: options.concurrency,
    machine_usd_per_hour: options.machineUsdPerHour,
    teacher: {
      name: options.teacherModel,
      answers: recorded.length,
      accuracy: teacherEvaluation.accuracy,
      explanation_rate: teacherEvaluation.explanation_rate,
      latency_ms: null,
      answers_per_second: null,
      usd_per_1000_answers: (teacherDollars / recorded.length) * 1000,
      cost_basis: `list price $${options.price.prompt}/$${options.price.completion} per 1K prompt/completion tokens, tokens of the recorded answers`,
      parameters: null,
      model_bytes: null,
      evaluation: teacherEvaluation,
    },
    student: {
      name: options.student.modelId,
      answers: answers.length,
      accuracy: studentEvaluation.accuracy,
      explanation_rate: studentEvaluation.explanation_rate,
      latency_ms: { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95) },
      answers_per_second: answersPerSecond,
      usd_per_1000_answers: (options.machineUsdPerHour / 3600 / answersPerSecond) * 1000,
      cost_basis: `a machine at $${options.machineUsdPerHour} per hour, busy only with these answers (${answersPerSecond.toFixed(2)} answers/s at ${options.concurrency} concurrent requests)`,
      parameters: info.parameters ?? null,
      model_bytes: info.model_bytes ?? null,
      evaluation: studentEvaluation,
    },
  };
}

interface StudentReply {
  label: string;
  rationale: string | null;
}

/** The student's answer as the teacher's are scored: a blank label cannot be read; a rationale must clean. */
export function studentOutcome(answer: StudentReply): ParseOutcome {
  const label = pythonStrip(answer.label);
  if (label === '') return { kind: 'parse-error', reason: 'empty-label' };
  const explanation = answer.rationale === null ? null : cleanExplanation(answer.rationale);
  return explanation === null ? { kind: 'no-explanation', label } : { kind: 'parsed', label, explanation };
}

async function studentModelInfo(student: StudentEndpoint): Promise<StudentModelInfo> {
  const response = await fetch(`${student.baseUrl}/models/${encodeURIComponent(student.modelId)}`, { headers: authorization(student) });
  if (response.status !== 200)
    throw new ZsdError(
      'not-found',
      `the student server at ${student.baseUrl} does not serve "${student.modelId}" (${response.status}: ${await response.text()})`,
    );
  return (await response.json()) as StudentModelInfo;
}

async function askStudent(
  student: StudentEndpoint,
  inputs: readonly string[],
  explain: boolean,
  concurrency: number,
): Promise<{ answers: StudentReply[]; latencies: number[]; seconds: number }> {
  const answers: StudentReply[] = new Array(inputs.length);
  const latencies: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < inputs.length) {
      const index = next++;
      const requestStarted = process.hrtime.bigint();
      const response = await fetch(`${student.baseUrl}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...authorization(student) },
        body: JSON.stringify({ model: student.modelId, messages: [{ role: 'user', content: inputs[index] }], explain }),
      });
      const body = (await response.json()) as { choices?: { zsd?: StudentReply }[]; error?: { message: string } };
      const reply = body.choices?.[0]?.zsd;
      if (response.status !== 200 || reply === undefined) {
        throw new ZsdError(
          'incomplete',
          `the student server answered row ${index + 1} with ${response.status}: ${body.error?.message ?? JSON.stringify(body)}`,
        );
      }
      latencies.push(Number(process.hrtime.bigint() - requestStarted) / 1e6);
      answers[index] = reply;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, inputs.length) }, worker));
  return { answers, latencies, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

function authorization(student: StudentEndpoint): Record<string, string> {
  return student.apiKey === undefined ? {} : { authorization: `Bearer ${student.apiKey}` };
}

/** numpy's default (linear) percentile of sorted values. */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * fraction;
  const low = Math.floor(position);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

/** Where `zsd compare` keeps a comparison: `<workspace>/analytics/teacher-vs-student/<task>-<split>-<template>.json`. */
export const COMPARISONS_DIRECTORY = path.join('analytics', 'teacher-vs-student');

export function comparisonFile(workspaceRoot: string, comparison: Pick<Comparison, 'task' | 'split' | 'template'>): string {
  return path.join(workspaceRoot, COMPARISONS_DIRECTORY, `${comparison.task}-${comparison.split}-${comparison.template}.json`);
}

/** Every comparison a workspace keeps, by file name; a file that is not one is an error naming it. */
export function readComparisons(workspaceRoot: string): Comparison[] {
  const directory = path.join(workspaceRoot, COMPARISONS_DIRECTORY);
  if (!fs.existsSync(directory)) return [];
  return fs
    .readdirSync(directory)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => {
      const file = path.join(directory, name);
      let value: Partial<Comparison>;
      try {
        value = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (error) {
        throw new ZsdError('invalid-file', `not JSON: ${(error as Error).message}`, { file });
      }
      const side = (candidate: unknown) =>
        typeof candidate === 'object' && candidate !== null && typeof (candidate as ComparisonSide).usd_per_1000_answers === 'number';
      if (value.formatVersion !== 1 || typeof value.task !== 'string' || !side(value.teacher) || !side(value.student)) {
        throw new ZsdError('invalid-file', 'expected a comparison written by zsd compare ({"formatVersion": 1, "task", "teacher": {...}, "student": {...}})', {
          file,
        });
      }
      return value as Comparison;
    });
}
