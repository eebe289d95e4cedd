import { getTask } from '../data/tasks';
import { DATA_ROOT, studyWorkspace } from '../test-support/fixtures';
import { evaluateTeacher, type TeacherEvaluation } from './evaluate-teacher';
import { matchesPublished, PUBLISHED_TEACHER_ACCURACIES } from './published';

const workspace = studyWorkspace();
const cache = new Map<string, TeacherEvaluation>();
function evaluate(task: string, split: string, teacher = 'gpt-3.5-turbo', templateIds?: number[]): TeacherEvaluation {
  const key = `${task}/${split}/${teacher}/${templateIds?.join(',') ?? ''}`;
  if (!cache.has(key)) cache.set(key, evaluateTeacher({ task: getTask(task), split, dataRoot: DATA_ROOT, workspace, teacher, templateIds }));
  return cache.get(key)!;
}
function report(task: string, split: string, template: string, teacher = 'gpt-3.5-turbo') {
  const found = evaluate(task, split, teacher).reports.find((candidate) => candidate.id === template);
  if (!found) throw new Error(`no report for ${task} ${split} ${template}`);
  return found.evaluation;
}

describe('published teacher accuracies are reproduced from the recorded responses', () => {
  test.each(PUBLISHED_TEACHER_ACCURACIES.map((published) => [`${published.task} ${published.split} ${published.template}: ${published.accuracy}`, published]))(
    '%s',
    (_name, published) => {
      const { accuracy } = report(published.task, published.split, published.template, published.teacher);
      expect(accuracy).not.toBeNull();
      expect(matchesPublished(accuracy!, published)).toBe(true);
      expect(accuracy!).toBeCloseTo(published.accuracy, published.decimals);
    },
  );
});

describe('counts agree with the study’s own evaluation of the same responses', () => {
  // Values of the study's prompt-metadata (characteristics and performance) for these templates, which
  // its evaluator computed from the same response files; anli1 train accuracy needs labels not shipped here.
  test('anli1 train template 1: 125 rows, every explanation usable', () => {
    const evaluation = report('anli1', 'train', '1');
    expect(evaluation).toMatchObject({
      n_responses: 125,
      n_parse_errors: 0,
      n_none_responses: 0,
      total_responses: 125,
      total_length_of_explanations: 15470,
      total_number_of_sentences: 130,
      total_number_of_words: 2583,
    });
    expect(evaluation.variance_length_of_explanations).toBeCloseTo(1687.254, 3);
  });

  test('anli1 train template 4: a parse error and two rows without explanation', () => {
    expect(report('anli1', 'train', '4')).toMatchObject({
      n_parse_errors: 1,
      n_none_responses: 2,
      total_responses: 48,
      total_length_of_explanations: 15915,
      total_number_of_sentences: 140,
      total_number_of_words: 2580,
    });
  });

  test('anli1 train template 10: nine parse errors', () => {
    expect(report('anli1', 'train', '10')).toMatchObject({ n_parse_errors: 9, n_none_responses: 9, total_responses: 41, total_length_of_explanations: 14141 });
  });

  test('anli1 train template 3 asks for no explanation: every row is "none", variance undefined', () => {
    const evaluation = report('anli1', 'train', '3');
    expect(evaluation).toMatchObject({ n_none_responses: 125, total_responses: 0, explanation_rate: 0, avg_len_of_explanations: 0 });
    expect(evaluation.variance_length_of_explanations).toBeNull();
  });

  test('cqa test template 3: correct, wrong, parse errors and explanations', () => {
    expect(report('cqa', 'test', '3')).toMatchObject({ n_correct: 908, n_wrong: 313, n_parse_errors: 2, n_none_responses: 3, total_responses: 1218 });
  });

  test('svamp test template 3: 52 rows, most without an explanation of 5 words', () => {
    expect(report('svamp', 'test', '3')).toMatchObject({ n_responses: 52, n_correct: 38, n_wrong: 14, n_parse_errors: 2, n_none_responses: 45 });
  });

  test('every recorded template of every task is evaluated', () => {
    expect(evaluate('anli1', 'train').reports).toHaveLength(177);
    expect(evaluate('cqa', 'train').reports).toHaveLength(84);
    expect(evaluate('esnli', 'train').reports).toHaveLength(113);
    expect(evaluate('svamp', 'train').reports).toHaveLength(3);
    const total = ['anli1/train', 'anli1/valid', 'anli1/test', 'cqa/train', 'cqa/test', 'esnli/train', 'svamp/train', 'svamp/test']
      .map((key) => key.split('/'))
      .reduce((sum, [task, split]) => sum + evaluate(task, split).reports.reduce((inner, r) => inner + r.evaluation.n_responses, 0), 0);
    expect(total).toBe(29740);
  });
});

describe('missing gold labels', () => {
  test('anli1 train: accuracy is unavailable, not invented, and the reason is given', () => {
    const result = evaluate('anli1', 'train');
    expect(result.goldUnavailable).toMatch(/anli1_train\.json/);
    for (const { evaluation } of result.reports) {
      expect(evaluation.accuracy).toBeNull();
      expect(evaluation.n_correct).toBeNull();
    }
  });

  test('esnli train: parse errors and explanation statistics are still reported', () => {
    const result = evaluate('esnli', 'train');
    expect(result.goldUnavailable).toBeDefined();
    const explained = result.reports.reduce((sum, r) => sum + r.evaluation.total_responses, 0);
    expect(explained).toBeGreaterThan(1000);
  });
});

describe('PaLM few-shot teacher', () => {
  test('cqa train: every row has a label; accuracy from the recorded completions', () => {
    const evaluation = report('cqa', 'train', 'palm', 'palm');
    expect(evaluation.n_responses).toBe(9741);
    expect(evaluation.n_correct).toBe(7234);
  });

  test('anli1 valid: blank labels count as parse errors and wrong', () => {
    const evaluation = report('anli1', 'valid', 'palm', 'palm');
    expect(evaluation.n_correct).toBe(668);
    expect(evaluation.n_parse_errors).toBe(9);
  });

  test('--templates is refused for PaLM', () => {
    expect(() => evaluate('cqa', 'test', 'palm', [1])).toThrow(/does not apply/);
  });
});

describe('template selection', () => {
  test('only the requested templates are evaluated', () => {
    expect(evaluate('cqa', 'train', 'gpt-3.5-turbo', [1, 2]).reports.map((r) => r.id)).toEqual(['1', '2']);
  });

  test('a template without recorded responses for the split is an error naming it', () => {
    expect(() => evaluate('cqa', 'test', 'gpt-3.5-turbo', [1])).toThrow(/template 1 of task "cqa" has no recorded responses for split "test"/);
  });

  test('an unknown template id is an error listing the known ids', () => {
    expect(() => evaluate('cqa', 'train', 'gpt-3.5-turbo', [9999])).toThrow(/no template with id 9999 for task "cqa"/);
  });
});

describe('every recorded (task, split, template) agrees with the study’s evaluator', () => {
  const fixture = require('./study-counts.fixture.json') as { counts: Record<string, [number, number, number, number, number, number, number, number | null]> };
  const keys = Object.keys(fixture.counts);

  test('the fixture covers all 384 sets', () => {
    expect(keys).toHaveLength(384);
  });

  test.each(['anli1/train', 'anli1/valid', 'anli1/test', 'cqa/train', 'cqa/test', 'esnli/train', 'svamp/train', 'svamp/test'])('%s', (taskSplit) => {
    const [task, split] = taskSplit.split('/');
    const reports = evaluate(task, split).reports;
    const expected = keys.filter((key) => key.startsWith(`${taskSplit}/`));
    expect(reports.map((r) => `${taskSplit}/${r.id}`).sort()).toEqual([...expected].sort());
    for (const { id, evaluation: e } of reports) {
      const actual = [
        e.n_responses,
        e.n_parse_errors,
        e.n_none_responses,
        e.total_responses,
        e.total_length_of_explanations,
        e.total_number_of_words,
        e.total_number_of_sentences,
        e.n_correct,
      ];
      expect([`${taskSplit}/${id}`, ...actual]).toEqual([`${taskSplit}/${id}`, ...fixture.counts[`${taskSplit}/${id}`]]);
    }
  });
});
