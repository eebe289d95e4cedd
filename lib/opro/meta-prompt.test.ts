import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { DATA_ROOT, studyWorkspace, thrownBy, writeFile } from '../test-support/fixtures';
import { BUILT_IN_META_PROMPT, loadMetaPromptTemplate, renderExamples, renderMetaPrompt, selectPreviousBest, workspaceMetaPromptFile } from './meta-prompt';
import type { ScoredInstruction } from './run-log';

const cqa = getTask('cqa');
const scored = (templateId: number, accuracy: number, instruction = `instruction ${templateId}`, round = 1): ScoredInstruction => ({
  round,
  candidate: templateId,
  templateId,
  instruction,
  accuracy,
  explanationRate: 1,
});

test("the study's meta-prompt is the fallback for cqa and anli1; a workspace file replaces it; other tasks get the built-in one", () => {
  const workspace = studyWorkspace();
  const study = loadMetaPromptTemplate(workspace, 'cqa');
  expect(study.source).toBe(path.join(DATA_ROOT, 'zero-shot', 'opro', 'meta-prompts', 'cqa.txt'));
  expect(study.text).toBe(fs.readFileSync(study.source, 'utf8'));
  expect(loadMetaPromptTemplate(workspace, 'svamp')).toEqual({ text: BUILT_IN_META_PROMPT, source: 'built-in' });
  const mine = writeFile(workspaceMetaPromptFile(workspace.root, 'cqa'), 'Mine: <[PREVIOUS_BEST]> <[CANDIDATES]>');
  expect(loadMetaPromptTemplate(workspace, 'cqa')).toEqual({ text: 'Mine: <[PREVIOUS_BEST]> <[CANDIDATES]>', source: mine });
  writeFile(mine, 'No list here <[CANDIDATES]>');
  expect((thrownBy(() => loadMetaPromptTemplate(workspace, 'cqa')) as Error).message).toMatch(
    /cqa\.txt: a meta-prompt needs the placeholder <\[PREVIOUS_BEST\]>/,
  );
  writeFile(mine, '<[PREVIOUS_BEST]> <[BEST]>');
  expect((thrownBy(() => loadMetaPromptTemplate(workspace, 'cqa')) as Error).message).toMatch(/unknown placeholder <\[BEST\]>/);
});

test('the best instructions so far, worst of them first, with scores in percent; ties go to the earlier one', () => {
  const list = [scored(1, 0.5), scored(2, 0.7), scored(3, 0.6), scored(4, 0.7, 'later', 2), scored(5, 0.2)];
  expect(selectPreviousBest(list, 3).map((entry) => entry.templateId)).toEqual([3, 4, 2]);
  const text = renderMetaPrompt('Before\n<[PREVIOUS_BEST]>\nAfter', {
    previousBest: selectPreviousBest(list, 2),
    candidates: 1,
    examples: '',
    task: cqa,
    round: 1,
  });
  expect(text).toBe('Before\ntemplate:\n<PRT>later</PRT>\nscore:\n70\n\ntemplate:\n<PRT>instruction 2</PRT>\nscore:\n70\nAfter');
});

test("the study's text asks for one template: with K > 1 a last paragraph asks for K; a K placeholder is filled instead", () => {
  const study = fs.readFileSync(path.join(DATA_ROOT, 'zero-shot', 'opro', 'meta-prompts', 'cqa.txt'), 'utf8');
  const values = { previousBest: [scored(2, 0.71)], examples: '', task: cqa, round: 3 };
  expect(renderMetaPrompt(study, { ...values, candidates: 1 })).toBe(study.replace('<[PREVIOUS_BEST]>', 'template:\n<PRT>instruction 2</PRT>\nscore:\n71'));
  expect(renderMetaPrompt(study, { ...values, candidates: 8 })).toMatch(
    /all of the above prompt templates\.\nWrite 8 such prompt templates, each different from the others, each beginning with <PRT> and ending with <\/PRT>\.$/,
  );
  const builtIn = renderMetaPrompt(BUILT_IN_META_PROMPT, { ...values, candidates: 8, examples: 'EXAMPLES' });
  expect(builtIn).toContain('Generate 8 new prompt templates');
  expect(builtIn).toContain('Below are some problems.\n\nEXAMPLES\n');
  expect(builtIn).toContain('must include the placeholders {question}, {choice_a}, {choice_b}, {choice_c}, {choice_d} and {choice_e}.');
  expect(builtIn).not.toContain('Write 8 such');
});

test('text filled in is never read as a placeholder, and rendering is deterministic', () => {
  const tricky = [scored(7, 0.5, 'says <[CANDIDATES]> and <[ROUND]>')];
  const render = () => renderMetaPrompt('<[PREVIOUS_BEST]> / <[ROUND]>', { previousBest: tricky, candidates: 1, examples: '', task: cqa, round: 2 });
  expect(render()).toBe('template:\n<PRT>says <[CANDIDATES]> and <[ROUND]></PRT>\nscore:\n50 / 2');
  expect(render()).toBe(render());
});

test("example rows in the study's format, without the gold label among the fields", () => {
  const anli1 = getTask('anli1');
  const row = loadSplit(anli1, 'valid', [DATA_ROOT]).rows[0];
  expect(renderExamples(anli1, [row])).toBe(
    `Problem:\npremise: ${JSON.stringify(row.promptValues.premise)}\nhypothesis: ${JSON.stringify(row.promptValues.hypothesis)}\ntemplate: <PRT>\nGround truth answer:\n${row.goldLabel}`,
  );
});
