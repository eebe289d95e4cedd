import { getTask } from '../data/tasks';
import { outcomeExplanation, outcomeLabel } from '../parse/parse-outcome';
import { parseTeacherResponse } from '../parse/parse-response';
import { loadMix, subsampleExplanations } from '../prompts/mixes';
import { getTemplate, loadTemplates } from '../prompts/templates';
import { readRecordedResponses } from '../teacher/recorded-responses';
import { studyWorkspace } from '../test-support/fixtures';
import { applyExplanationRate, buildTrainingLines, queriesForMix } from './mix-training-lines';

const workspace = studyWorkspace();
const svamp = getTask('svamp');
const templates = loadTemplates(workspace, 'svamp');

test('one query per distinct (template, row): where label and explanation parts agree, one answer serves both', () => {
  // Mix 2: label {1: 0.5, 3: 0.5}, explanation {1: 0.5, 2: 0.5}, one seed: template 1 gets the same rows in both parts.
  const queries = queriesForMix(loadMix(workspace, '2', templates), 200);
  expect(queries).toHaveLength(300);
  expect(new Set(queries.map((query) => `${query.templateId}:${query.row}`)).size).toBe(300);
  expect(queries.filter((query) => query.templateId === 1)).toHaveLength(100);
  // Mix 4 (template 2 for both parts): exactly one query per row.
  expect(queriesForMix(loadMix(workspace, '4', templates), 200)).toHaveLength(200);
});

test('labels come from the label template, explanations from the explanation template (mix 3 on svamp test)', () => {
  const mix = loadMix(workspace, '3', templates); // label: template 2, explanation: template 1
  const answers = new Map([1, 2].map((id) => [id, new Map(readRecordedResponses(workspace, 'svamp', 'test', id).map((record) => [record.idx, record]))]));
  const lines = buildTrainingLines(svamp, templates, mix, 200, (templateId, row) => answers.get(templateId)?.get(row));
  expect(lines).toHaveLength(200);
  const parse = (id: number, row: number) => {
    const record = answers.get(id)!.get(row)!;
    return parseTeacherResponse('math', getTemplate(templates, id), record.response, record.promptValues);
  };
  lines.forEach((line, row) => {
    expect(line.label).toBe(outcomeLabel(parse(2, row)));
    expect(line.explanation).toBe(outcomeExplanation(parse(1, row)));
  });
  expect(lines.some((line) => line.explanation === null)).toBe(true);
  expect(() => buildTrainingLines(svamp, templates, mix, 200, () => undefined)).toThrow(/no answer of template 2 for row/);
});

test("explanation-rate subsampling applies only below the rate achieved, with the study's draws", () => {
  const lines = Array.from({ length: 10 }, (_, row) => ({ label: String(row), explanation: row % 5 === 0 ? null : `because ${row}` }));
  expect(applyExplanationRate(lines, 0.8)).toMatchObject({ applied: false, rateBefore: 0.8, rateAfter: 0.8 });
  const result = applyExplanationRate(lines, 0.5);
  expect(result.applied).toBe(true);
  const kept = subsampleExplanations(
    lines.map((line) => line.explanation !== null),
    0.5,
  );
  expect(result.lines.map((line) => line.explanation !== null)).toEqual(kept);
  expect(result.lines.map((line) => line.label)).toEqual(lines.map((line) => line.label));
  expect(() => applyExplanationRate(lines, -0.1)).toThrow(/between 0 and 1/);
});
