import * as fs from 'node:fs';
import * as path from 'node:path';
import { getTemplate, loadTemplates } from '../prompts/templates';
import { DATA_ROOT, studyWorkspace, temporaryDirectory, writeFile } from '../test-support/fixtures';
import { largestTemplateId, templatesForCandidates } from './candidate-templates';
import type { ParsePatterns } from './run-log';

const STUDY_CQA = path.join(DATA_ROOT, 'zero-shot', 'prompt-templates', 'cqa.yaml');
const CHOICES = 'a){choice_a} b){choice_b} c){choice_c} d){choice_d} e){choice_e}';
const study = loadTemplates(studyWorkspace(), 'cqa');
const parse: ParsePatterns = {
  label_parse: getTemplate(study, 2).labelParse,
  explanation_parse: getTemplate(study, 2).explanationParse,
  swap: false,
  escape_values: false,
};

test("new templates get ids above every layer's largest, in candidate order, appended to a copy of the study's file that keeps its bytes", () => {
  const workspace = studyWorkspace();
  expect(largestTemplateId(workspace, 'cqa')).toBe(93);
  const made = templatesForCandidates(
    workspace,
    'cqa',
    'run-a',
    [
      { instruction: `It's {question}, yes? ${CHOICES}`, round: 1, candidate: 0 },
      { instruction: `Line one {question}\nline two ${CHOICES}`, round: 1, candidate: 2 },
    ],
    parse,
  );
  expect(made.map((entry) => [entry.template.id, entry.created])).toEqual([
    [94, true],
    [95, true],
  ]);
  const file = path.join(workspace.root, 'prompt-templates', 'cqa.yaml');
  const written = fs.readFileSync(file, 'utf8');
  expect(written.startsWith(fs.readFileSync(STUDY_CQA, 'utf8'))).toBe(true);
  const reloaded = loadTemplates(workspace, 'cqa');
  expect(reloaded.file).toBe(file);
  expect(reloaded.templates.size).toBe(95);
  expect(getTemplate(reloaded, 7).userMessage).toBe(getTemplate(study, 7).userMessage);
  expect(getTemplate(reloaded, 95)).toMatchObject({
    userMessage: `Line one {question}\nline two ${CHOICES}`,
    systemMessage: '',
    labelParse: parse.label_parse,
    explanationParse: '.?(.*)',
    meta: { source: 'opro', opro_run: 'run-a', round: 1, candidate: 2 },
  });
  expect(written).toMatch(/\n {2}94:\n {4}id: 94\n {4}system_message: ''\n {4}user_message: 'It''s \{question\}, yes\? /);
  expect(fs.readdirSync(path.dirname(file))).toEqual(['cqa.yaml']);
});

test('a template with the same content keeps its id: a resumed round gets the ids the interrupted one wrote', () => {
  const workspace = studyWorkspace();
  const specs = [
    { instruction: `First {question} ${CHOICES}`, round: 3, candidate: 0 },
    { instruction: `Second {question} ${CHOICES}`, round: 3, candidate: 1 },
  ];
  const first = templatesForCandidates(workspace, 'cqa', 'run-b', specs, parse).map((entry) => [entry.template.id, entry.created]);
  const before = fs.readFileSync(path.join(workspace.root, 'prompt-templates', 'cqa.yaml'), 'utf8');
  expect(templatesForCandidates(workspace, 'cqa', 'run-b', specs, parse).map((entry) => [entry.template.id, entry.created])).toEqual(first);
  expect(fs.readFileSync(path.join(workspace.root, 'prompt-templates', 'cqa.yaml'), 'utf8')).toBe(before);
  // Another run finding the same instruction reuses the template but did not create it; an existing study template too.
  const other = templatesForCandidates(
    workspace,
    'cqa',
    'run-c',
    [specs[1], { instruction: getTemplate(study, 6).userMessage, round: 1, candidate: 0 }],
    parse,
  );
  expect(other.map((entry) => [entry.template.id, entry.created])).toEqual([
    [95, false],
    [6, false],
  ]);
});

test('a workspace file of its own (no study copy) gets entries appended below its templates, other keys unchanged', () => {
  const root = temporaryDirectory();
  const workspace = { root, readLayers: [], readOnly: false };
  const file = writeFile(
    path.join(root, 'prompt-templates', 'mine.yaml'),
    "# my task\ndataset: mine\ntemplates:\n  3:\n    id: 3\n    system_message: ''\n    user_message: 'Classify {input}'\n    label_parse: '(yes|no)'\n    explanation_parse: '.?(.*)'\n",
  );
  const made = templatesForCandidates(workspace, 'mine', 'r', [{ instruction: 'Decide: {input}', round: 1, candidate: 0 }], {
    label_parse: '(yes|no)',
    explanation_parse: '.?(.*)',
    swap: false,
    escape_values: false,
  });
  expect(made[0].template.id).toBe(4);
  const text = fs.readFileSync(file, 'utf8');
  expect(text.startsWith('# my task\ndataset: mine\ntemplates:\n  3:\n')).toBe(true);
  expect([...loadTemplates(workspace, 'mine').templates.keys()]).toEqual([3, 4]);
});

test('a file whose templates are not its last key is edited as a document instead, values intact', () => {
  const root = temporaryDirectory();
  const workspace = { root, readLayers: [], readOnly: false };
  const file = writeFile(
    path.join(root, 'prompt-templates', 'mine.yaml'),
    "templates:\n  3:\n    id: 3\n    system_message: ''\n    user_message: 'Classify {input}'\n    label_parse: '(yes|no)'\n    explanation_parse: '.?(.*)'\ndataset: mine\n",
  );
  const made = templatesForCandidates(workspace, 'mine', 'r', [{ instruction: 'Decide: {input}', round: 1, candidate: 0 }], {
    label_parse: '(yes|no)',
    explanation_parse: '.?(.*)',
    swap: false,
    escape_values: false,
  });
  expect(made[0]).toMatchObject({ created: true, template: { id: 4, userMessage: 'Decide: {input}' } });
  expect(fs.readFileSync(file, 'utf8')).toMatch(/dataset: mine/);
  expect(getTemplate(loadTemplates(workspace, 'mine'), 3).userMessage).toBe('Classify {input}');
});

test.each([['anli1'], ['esnli'], ['svamp']])("appending to a copy of the study's %s file keeps every template it had", (task) => {
  const workspace = studyWorkspace();
  const before = loadTemplates(workspace, task);
  const fields = task === 'svamp' ? '{question}' : '{premise} {hypothesis}';
  const [made] = templatesForCandidates(workspace, task, 'r', [{ instruction: `New: ${fields}`, round: 1, candidate: 0 }], {
    label_parse: '(True|False)',
    explanation_parse: '.?(.*)',
    swap: false,
    escape_values: false,
  });
  const after = loadTemplates(workspace, task);
  expect(made.template.id).toBe(Math.max(...before.templates.keys()) + 1);
  expect(after.templates.size).toBe(before.templates.size + 1);
  for (const [id, template] of before.templates) expect({ ...after.templates.get(id), file: '' }).toEqual({ ...template, file: '' });
});
