import { loadSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { evaluateTeacher } from '../evaluate/evaluate-teacher';
import { STUDY_MODEL } from '../teacher/recorded-responses';
import { studentInput } from '../student/student-examples';
import { DATA_ROOT, studyWorkspace } from '../test-support/fixtures';
import { compareTeacherAndStudent, studentOutcome } from './compare';
import { startStudentServer } from './server';
import type { Answerer, StudentAnswer, StudentQuestion } from './student-answerer';

// Teacher vs student on svamp test: the study's recorded gpt-3.5-turbo answers (template 1) and a fake student that
// knows the gold equation of every third problem and explains every other one.
const task = getTask('svamp');
const rows = loadSplit(task, 'test', [DATA_ROOT]).rows;
const goldByInput = new Map(rows.map((row, index) => [studentInput(task, row), { index, gold: row.goldLabel }]));

class OracleStudent implements Answerer {
  readonly canExplain = true;
  readonly prefixes = { predict: 'predict: ', explain: 'explain: ' };
  readonly maxInputTokens = 10_000;
  explained = 0;
  countInputTokens(): number {
    return 1;
  }
  answer(questions: readonly StudentQuestion[]): StudentAnswer[] {
    return questions.map((question) => {
      const { index, gold } = goldByInput.get(question.input)!;
      if (question.explain) this.explained++;
      return {
        label: index % 3 === 0 ? gold : '( 0.125 * 0.001 )',
        rationale: index % 2 === 0 ? 'First add the two numbers, then subtract the rest.' : 'Too short.',
        promptTokens: 1,
        completionTokens: 1,
        finishReason: 'stop',
      };
    });
  }
  dispose(): void {}
}

test('both sides are scored on the same rows with the same metrics; dollars, latency and size are reported as documented', async () => {
  const student = new OracleStudent();
  const server = await startStudentServer({
    answerer: student,
    modelId: 'oracle',
    port: 0,
    maxBatchSize: 16,
    batchWaitMs: 2,
    maxQueue: 1024,
    maxNewTokens: 8,
    modelDetails: { parameters: 5_000_000, model_bytes: 20_000_000, explain: true },
  });
  try {
    const workspace = studyWorkspace();
    const price = { prompt: 0.0015, completion: 0.002 };
    const comparison = await compareTeacherAndStudent({
      task,
      split: 'test',
      dataRoot: DATA_ROOT,
      workspace,
      templateId: 1,
      teacherModel: STUDY_MODEL,
      price,
      student: { baseUrl: server.baseUrl, modelId: 'oracle' },
      concurrency: 4,
      machineUsdPerHour: 3.6,
    });
    expect(comparison.rows).toEqual(rows.map((_, index) => index)); // the study answered all 200 with template 1
    expect(student.explained).toBe(200);

    // the teacher's numbers are zsd evaluate's for the template
    const evaluated = evaluateTeacher({ task, split: 'test', dataRoot: DATA_ROOT, workspace, teacher: STUDY_MODEL, templateIds: [1] }).reports[0].evaluation;
    expect(comparison.teacher.accuracy).toBe(evaluated.accuracy);
    expect(comparison.teacher.explanation_rate).toBe(evaluated.explanation_rate);
    expect(comparison.teacher.latency_ms).toBeNull();
    // study lines carry no usage: tiktoken counts, at list price (svamp: tens of tokens each way, a few tenths of a dollar per 1,000)
    expect(comparison.teacher.usd_per_1000_answers).toBeGreaterThan(0.05);
    expect(comparison.teacher.usd_per_1000_answers).toBeLessThan(2);

    // the student's: a third right (equations by value), half explained (a rationale under 5 words does not count)
    expect(comparison.student.evaluation.n_correct).toBe(rows.filter((_, index) => index % 3 === 0).length);
    expect(comparison.student.explanation_rate).toBe(0.5);
    expect(comparison.student.parameters).toBe(5_000_000);
    expect(comparison.student.model_bytes).toBe(20_000_000);
    expect(comparison.student.latency_ms!.p50).toBeLessThanOrEqual(comparison.student.latency_ms!.p95);
    // $3.60 an hour is $0.001 a second: $ per 1,000 answers is 1 / (answers per second)
    expect(comparison.student.usd_per_1000_answers).toBeCloseTo(1 / comparison.student.answers_per_second!, 10);

    const fewer = await compareTeacherAndStudent({
      task,
      split: 'test',
      dataRoot: DATA_ROOT,
      workspace,
      templateId: 1,
      teacherModel: STUDY_MODEL,
      price: { prompt: 0.003, completion: 0.004 },
      student: { baseUrl: server.baseUrl, modelId: 'oracle' },
      rows: 30,
      concurrency: 1,
      machineUsdPerHour: 0.1,
    });
    expect(fewer.rows).toEqual(rows.slice(0, 30).map((_, index) => index));
    expect(fewer.student.answers).toBe(30);
  } finally {
    await server.close();
  }
});

test("the student's answer is scored as a teacher's: a blank label is a parse error, a rationale must clean", () => {
  expect(studentOutcome({ label: '  ', rationale: null })).toEqual({ kind: 'parse-error', reason: 'empty-label' });
  expect(studentOutcome({ label: ' ( 1 + 2 ) ', rationale: null })).toEqual({ kind: 'no-explanation', label: '( 1 + 2 )' });
  expect(studentOutcome({ label: 'x', rationale: 'two words' })).toEqual({ kind: 'no-explanation', label: 'x' });
  expect(studentOutcome({ label: 'x', rationale: 'Add the apples of both baskets together.' })).toMatchObject({ kind: 'parsed', label: 'x' });
});
