import { getTemplate, loadTemplates } from '../prompts/templates';
import { readRecordedResponses } from '../teacher/recorded-responses';
import { studyWorkspace } from '../test-support/fixtures';
import { parsePalmCompletion, parseTeacherResponse } from './parse-response';

const workspace = studyWorkspace();
function recorded(task: string, split: string, templateId: number, idx: number) {
  const response = readRecordedResponses(workspace, task, split, templateId).find((candidate) => candidate.idx === idx);
  if (!response) throw new Error(`no recorded response ${task}/${split}/${templateId}/${idx}`);
  return { response, template: getTemplate(loadTemplates(workspace, task), templateId) };
}

// Real recorded gpt-3.5-turbo responses, each outcome checked by hand against the template's pattern.
describe('recorded responses, one per task', () => {
  test('cqa: "(d)" is the first match, mapped to the choice text; the explanation follows it', () => {
    const { response, template } = recorded('cqa', 'test', 3, 542);
    expect(response.response).toBe('The correct answer is (d) broken law because James was engaging in an illegal activity by purchasing alcohol for minors.');
    expect(parseTeacherResponse('multiple-choice', template, response.response, response.promptValues)).toEqual({
      kind: 'parsed',
      label: 'broken law',
      explanation: 'broken law because James was engaging in an illegal activity by purchasing alcohol for minors.',
    });
  });

  test('svamp: the last number after a space or brace is the label; markup and the answer tail are cleaned', () => {
    const { response, template } = recorded('svamp', 'test', 1, 95);
    expect(response.response).toContain('60/10 = <<60/10=6>>6 flower beds. Answer: \\boxed{6}.');
    expect(parseTeacherResponse('math', template, response.response, response.promptValues)).toEqual({
      kind: 'parsed',
      label: '6',
      explanation: 'If they put 10 seeds in each flower bed and planted 60 seeds altogether, then they must have had 60/10 = 60/10=6 flower beds',
    });
  });

  test('anli1: "false" is a contradiction; the explanation starts after the label sentence', () => {
    const { response, template } = recorded('anli1', 'valid', 100, 521);
    expect(parseTeacherResponse('nli', template, response.response, response.promptValues)).toEqual({
      kind: 'parsed',
      label: 'contradiction',
      explanation: "Swift crater is specifically mentioned to be on Mars's moon Deimos, not the moon of Earth.",
    });
  });

  test('anli1: a response that names no verdict is a parse error', () => {
    const { response, template } = recorded('anli1', 'train', 10, 13064);
    expect(response.response).toMatch(/^Based on the given information, there is no mention of whether/);
    expect(parseTeacherResponse('nli', template, response.response, response.promptValues)).toEqual({ kind: 'parse-error', reason: 'no-match' });
  });

  test('svamp: a one-sentence answer has a label but fewer than 5 words of explanation', () => {
    const { response, template } = recorded('svamp', 'test', 3, 157);
    expect(response.response).toBe('There are 7 houses in a block.');
    expect(parseTeacherResponse('math', template, response.response, response.promptValues)).toEqual({ kind: 'no-explanation', label: '7' });
  });

  test('esnli: a template that asks for no explanation yields labels only', () => {
    const set = loadTemplates(workspace, 'esnli');
    const template = [...set.templates.values()].find((candidate) => candidate.explanationParse === '')!;
    expect(parseTeacherResponse('nli', template, 'Inconclusive.', {})).toMatchObject({ kind: 'no-explanation' });
  });
});

describe('PaLM completions as outcomes', () => {
  test('a label and a rationale', () => {
    expect(parsePalmCompletion({ index: 0, rationale: 'Because.', label: 'neutral' })).toEqual({ kind: 'parsed', label: 'neutral', explanation: 'Because.' });
  });

  test('a blank label is a parse error', () => {
    expect(parsePalmCompletion({ index: 0, rationale: 'x', label: ' ' })).toEqual({ kind: 'parse-error', reason: 'empty-label' });
  });

  test('a blank rationale is no explanation', () => {
    expect(parsePalmCompletion({ index: 0, rationale: '  ', label: '(1 + 2)' })).toEqual({ kind: 'no-explanation', label: '(1 + 2)' });
  });
});
