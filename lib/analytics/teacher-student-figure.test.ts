import * as path from 'node:path';
import { comparisonFile, type Comparison, type ComparisonSide } from '../serve/compare';
import { temporaryDirectory, writeFile } from '../test-support/fixtures';
import { teacherStudentFigures } from './teacher-student-figure';

const side = (overrides: Partial<ComparisonSide>): ComparisonSide =>
  ({
    name: 'x',
    answers: 200,
    accuracy: 0.5,
    explanation_rate: 1,
    latency_ms: null,
    answers_per_second: null,
    usd_per_1000_answers: 1,
    cost_basis: 'b',
    parameters: null,
    model_bytes: null,
    evaluation: {} as ComparisonSide['evaluation'],
    ...overrides,
  }) as ComparisonSide;

const comparison: Comparison = {
  formatVersion: 1,
  task: 'svamp',
  split: 'test',
  template: 1,
  rows: Array.from({ length: 200 }, (_, index) => index),
  concurrency: 8,
  machine_usd_per_hour: 0.1,
  teacher: side({ name: 'gpt-3.5-turbo', accuracy: 0.75, explanation_rate: 0.9, usd_per_1000_answers: 0.232 }),
  student: side({
    name: 'zsd-student',
    accuracy: 0.4,
    explanation_rate: 0.6,
    usd_per_1000_answers: 0.0008,
    latency_ms: { p50: 120, p95: 300 },
    answers_per_second: 35,
    parameters: 5_000_000,
  }),
};

test("one figure per kept comparison: four panels, the teacher's unmeasured latency noted, never drawn as 0", () => {
  const root = temporaryDirectory();
  expect(teacherStudentFigures(root)).toEqual([]);
  writeFile(comparisonFile(root, comparison), JSON.stringify(comparison));
  const [figure] = teacherStudentFigures(root);
  expect(figure.name).toBe('teacher-vs-student-svamp-test-1');
  const traces = figure.figure.data as { y: number[]; x: string[] }[];
  expect(traces.map((trace) => trace.y)).toEqual([[0.75, 0.4], [0.9, 0.6], [0.232, 0.0008], [300]]);
  expect(traces[3].x).toEqual(['student<br>zsd-student']);
  expect(JSON.stringify(figure.figure.layout)).toContain('teacher: not measured (recorded, untimed)');
  expect((figure.figure.layout as { yaxis3: { type: string } }).yaxis3.type).toBe('log');
  expect(figure.data).toMatchObject({
    rows: 200,
    sides: [
      { role: 'teacher', p95_latency_ms: null },
      { role: 'student', p95_latency_ms: 300, parameters: 5_000_000 },
    ],
  });
});

test('a file there that is not a comparison is an error naming it', () => {
  const root = temporaryDirectory();
  const file = writeFile(path.join(root, 'analytics', 'teacher-vs-student', 'bad.json'), '{"formatVersion": 1}');
  expect(() => teacherStudentFigures(root)).toThrow(`${file}: expected a comparison written by zsd compare`);
});
