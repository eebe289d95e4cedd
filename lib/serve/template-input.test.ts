import { loadSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { loadTemplates, renderTemplate } from '../prompts/templates';
import { studentInput } from '../student/student-examples';
import { DATA_ROOT, studyWorkspace } from '../test-support/fixtures';
import { templateInputReader } from './template-input';

// Every study template of every task, rendered on real rows, is read back into the input the student was trained on.
const SPLITS: Record<string, string> = { svamp: 'test', cqa: 'test', anli1: 'test', esnli: 'test' };

test.each(Object.keys(SPLITS))("%s: each template's prompt gives back the student input of its row", (name) => {
  const task = getTask(name);
  const templates = loadTemplates(studyWorkspace(), name);
  const rows = loadSplit(task, SPLITS[name], [DATA_ROOT]).rows.slice(0, 5);
  const reader = templateInputReader(task, templates);
  const misread: string[] = [];
  for (const template of templates.templates.values()) {
    for (const row of rows) {
      const { input } = reader.read(renderTemplate(template, row.promptValues).user);
      if (input !== studentInput(task, row)) misread.push(`template ${template.id}, row ${row.index}: ${JSON.stringify(input).slice(0, 120)}`);
    }
  }
  expect(misread).toEqual([]);
});

test('a message no template renders is the input as it is', () => {
  const task = getTask('cqa');
  const reader = templateInputReader(task, loadTemplates(studyWorkspace(), 'cqa'));
  expect(reader.read('What is two plus two?')).toEqual({ input: 'What is two plus two?', templateId: null });
});
