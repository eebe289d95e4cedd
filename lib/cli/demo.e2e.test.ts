import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCliAsync, temporaryDirectory } from '../test-support/fixtures';
import type { DemoSummary } from '../pipeline/demo';

// The main job, smoke-sized: every number the summary prints is the one in the run's test.json, in
// analytics/demo-summary.json and in the figure data; a second run reuses everything and asks the teacher nothing.
test('zsd demo --quick: end to end offline, printed numbers = written JSON, idempotent', async () => {
  const workspace = temporaryDirectory('zsd-demo-');
  const first = await runCliAsync(['demo', '--quick', '--workspace', workspace]);
  expect(first.stderr).not.toMatch(/error/i);
  expect(first.status).toBe(0);
  const summary = JSON.parse(fs.readFileSync(path.join(workspace, 'analytics', 'demo-summary.json'), 'utf8')) as DemoSummary;
  expect(summary.teacher.rows).toBe(20);
  expect(summary.annotation.rows).toBe(800);
  expect(summary.annotation.halfExplanationRate).toBeLessThan(summary.annotation.explanationRate);
  expect(summary.students.map((student) => student.name)).toEqual([
    'standard (gold labels)',
    'standard (gpt-3.5-turbo labels)',
    'step-by-step, PaLM rationales',
    'step-by-step, gpt-3.5-turbo rationales',
    'step-by-step, gpt-3.5-turbo, 50% explanations',
  ]);

  expect(first.stdout).toContain(
    `best template                                                   ${summary.teacher.bestTemplate} (teacher accuracy ${summary.teacher.accuracy?.toFixed(3)}`,
  );
  expect(first.stdout).toContain(`$${summary.teacher.costUsd.toFixed(4)}`);
  const figure = JSON.parse(fs.readFileSync(path.join(workspace, 'analytics', 'results-students-subsampling.json'), 'utf8')) as {
    series: { points: { values: number[] }[] }[];
  };
  const plotted = figure.series.flatMap((series) => series.points.flatMap((point) => point.values));
  for (const student of summary.students) {
    const tested = JSON.parse(fs.readFileSync(path.join(student.results, 'test.json'), 'utf8'));
    expect(student.testAccuracy).toBe(tested.accuracy);
    expect(student.validationAccuracy).toBe(tested.evalAccuracy);
    const line = first.stdout.split('\n').find((candidate) => candidate.startsWith(student.name));
    expect(line).toContain(`${tested.evalAccuracy.toFixed(3)}           ${tested.accuracy.toFixed(3)}`);
    expect(line).toContain('trained');
    expect(plotted).toContain(tested.evalAccuracy);
  }
  // the floor every student is read against, printed beside them
  expect(summary.baselines).toEqual([
    { name: 'best single rule', rule: '( max - min )', referenceSplit: 'train', referenceAccuracy: 0.21375, testAccuracy: 0.21 },
    { name: 'oracle operation', rule: 'the right + - * / on two of the numbers', referenceSplit: 'train', referenceAccuracy: null, testAccuracy: 0.79 },
  ]);
  expect(first.stdout).toMatch(/no training: best single rule +- +0\.210 .*\( max - min \) \(chosen on train\)/);
  expect(fs.existsSync(path.join(workspace, 'analytics', 'results-students-subsampling.png'))).toBe(true);
  // how to read them: the teacher's svamp labels are numbers; pretrained students of the study, from its tracking file
  expect(summary.notes).toHaveLength(2);
  expect(summary.notes[1]).toMatch(
    /T5-v1_1-small on anli1 reached 0\.408 standard and 0\.445 step-by-step \(PaLM\) test accuracy, means of 3 and 3 runs, against the majority label at 0\.334/,
  );
  for (const note of summary.notes) expect(first.stdout).toContain(`note: ${note}`);
  // teacher vs student: the best step-by-step student, served, against the teacher's test answers; printed and drawn
  const compared = summary.teacherVsStudent!;
  expect(compared.rows).toHaveLength(40);
  expect(compared.teacher.name).toBe('gpt-3.5-turbo');
  expect(compared.student.answers).toBe(40);
  expect(first.stdout).toContain(`teacher vs student (zsd compare), svamp test, 40 rows (template ${compared.template}'s recorded answers)`);
  expect(first.stdout).toMatch(new RegExp(`\\nstudent +demo-student +${compared.student.accuracy === 0 ? '0' : compared.student.accuracy!.toFixed(3)} `));
  expect(fs.existsSync(path.join(workspace, 'analytics', `teacher-vs-student-svamp-test-${compared.template}.png`))).toBe(true);

  const second = await runCliAsync(['demo', '--quick', '--workspace', workspace, '--no-figures']);
  expect(second.status).toBe(0);
  expect(second.stderr).toMatch(/spent: 0 queries/);
  expect(second.stdout.match(/finished already/g)).toHaveLength(5);
  const again = JSON.parse(fs.readFileSync(path.join(workspace, 'analytics', 'demo-summary.json'), 'utf8')) as DemoSummary;
  expect(again.students.map((student) => [student.testAccuracy, student.reused])).toEqual(summary.students.map((student) => [student.testAccuracy, true]));
}, 300_000);
