import { loadSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { getTemplate, loadTemplates, type PromptTemplate } from '../prompts/templates';
import { DATA_ROOT, studyWorkspace } from '../test-support/fixtures';
import { buildQueryJobs, StoreRegistry, type TeacherSettings } from './query-jobs';
import { canonicalJson, requestKey, type TeacherRequest } from './request-key';

const workspace = studyWorkspace();
const template = getTemplate(loadTemplates(workspace, 'svamp'), 1);
const row = loadSplit(getTask('svamp'), 'test', [DATA_ROOT]).rows[0];
const teacher: TeacherSettings = { model: 'gpt-3.5-turbo', endpoint: 'chat', parameters: { temperature: 0.7 } };

function keyOf(settings = teacher, withTemplate: PromptTemplate = template): string {
  return buildQueryJobs('svamp', 'test', withTemplate, [row], settings, new StoreRegistry(workspace))[0].key;
}

test('editing the template text, the model or the temperature changes the key; the same request keeps it', () => {
  const key = keyOf();
  expect(keyOf()).toBe(key);
  expect(key).toMatch(/^[0-9a-f]{64}$/);
  expect(keyOf(teacher, { ...template, userMessage: `${template.userMessage} ` })).not.toBe(key);
  expect(keyOf(teacher, { ...template, systemMessage: 'You are a careful tutor.' })).not.toBe(key);
  expect(keyOf({ ...teacher, model: 'gpt-4o-mini' })).not.toBe(key);
  expect(keyOf({ ...teacher, parameters: { temperature: 0 } })).not.toBe(key);
  expect(keyOf({ ...teacher, parameters: { temperature: 0.7, max_tokens: 256 } })).not.toBe(key);
  expect(keyOf({ ...teacher, endpoint: 'completion' })).not.toBe(key);
});

test('the key is canonical: parameter order and undefined parameters do not matter', () => {
  const request: TeacherRequest = { model: 'm', endpoint: 'chat', system: 's', user: 'u', parameters: { temperature: 0.5, top_p: 1 } };
  const reordered: TeacherRequest = { user: 'u', system: 's', endpoint: 'chat', model: 'm', parameters: { top_p: 1, temperature: 0.5, seed: undefined } };
  expect(requestKey(reordered)).toBe(requestKey(request));
  expect(canonicalJson({ b: 1, a: [1, { d: undefined, c: 'x' }] })).toBe('{"a":[1,{"c":"x"}],"b":1}');
});

test('a study line (no key) is a hit for gpt-3.5-turbo at any temperature, never for another model', () => {
  const store = new StoreRegistry(workspace).get('svamp', 'test', 1);
  const job = buildQueryJobs('svamp', 'test', template, [row], teacher, new StoreRegistry(workspace))[0];
  expect(store.lookup(job.request, job.key)?.idx).toBe(row.index);
  const other = buildQueryJobs('svamp', 'test', template, [row], { ...teacher, model: 'gpt-4o-mini' }, new StoreRegistry(workspace))[0];
  expect(store.lookup(other.request, other.key)).toBeUndefined();
});
