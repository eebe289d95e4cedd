import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { listRecordedTemplateIds, readRecordedResponses } from '../teacher/recorded-responses';
import { DATA_ROOT, studyWorkspace, temporaryDirectory, writeFile } from '../test-support/fixtures';
import { buildParsePattern, completePrompt, getTemplate, loadTemplateFile, loadTemplates, renderTemplate } from './templates';

const workspace = studyWorkspace();

describe("the study's template files", () => {
  test.each([
    ['anli1', 180],
    ['cqa', 93],
    ['esnli', 113],
    ['svamp', 3],
  ])('%s loads with %i templates, every parse pattern compiling', (task, count) => {
    const set = loadTemplates(workspace, task);
    expect(set.templates.size).toBe(count);
    expect(set.file).toBe(path.join(DATA_ROOT, 'zero-shot', 'prompt-templates', `${task}.yaml`));
  });

  test('a multi-line quoted message indented less than its key reads as PyYAML reads it', () => {
    const template = getTemplate(loadTemplates(workspace, 'cqa'), 7);
    expect(template.userMessage).toBe('What is the best option for {question}? a) {choice_a} b) {choice_b} c) {choice_c} d) {choice_d} e) {choice_e}');
  });

  test('"\\n" in single-quoted YAML stays a backslash and an n, as the study sent it', () => {
    expect(getTemplate(loadTemplates(workspace, 'anli1'), 2).userMessage).toBe('premise: {premise}\\nhypothesis: {hypothesis}');
  });

  test('swap: True is read as a boolean (svamp: explanation first, then the number)', () => {
    expect(getTemplate(loadTemplates(workspace, 'svamp'), 1).swap).toBe(true);
    expect(getTemplate(loadTemplates(workspace, 'anli1'), 1).swap).toBe(false);
  });
});

describe('rendering reproduces the prompts the study sent', () => {
  test.each([
    ['cqa', 'test', 3],
    ['anli1', 'valid', 100],
    ['anli1', 'test', 179],
    ['svamp', 'test', 2],
    ['esnli', 'train', 5],
  ])('%s %s template %i: every complete_prompt byte for byte', (task, split, id) => {
    const template = getTemplate(loadTemplates(workspace, task), id);
    const responses = readRecordedResponses(workspace, task, split, id);
    expect(responses.length).toBeGreaterThan(40);
    for (const response of responses) expect(completePrompt(renderTemplate(template, response.promptValues))).toBe(response.completePrompt);
  });

  test('all recorded chat prompts of cqa train render identically', () => {
    const set = loadTemplates(workspace, 'cqa');
    let compared = 0;
    for (const id of listRecordedTemplateIds(workspace, 'cqa', 'train')) {
      for (const response of readRecordedResponses(workspace, 'cqa', 'train', id)) {
        expect(completePrompt(renderTemplate(getTemplate(set, id), response.promptValues))).toBe(response.completePrompt);
        compared++;
      }
    }
    expect(compared).toBe(6350);
  });
});

describe('parse patterns', () => {
  test('label first by default, choice texts interpolated with parentheses escaped', () => {
    const template = getTemplate(loadTemplates(workspace, 'cqa'), 3);
    const choices = { choice_a: 'bank (money)', choice_b: 'river', choice_c: 'forest', choice_d: 'desert', choice_e: 'ocean' };
    const pattern = buildParsePattern(template, { question: 'q', ...choices });
    expect(pattern.labelGroup).toBe(1);
    expect(pattern.explanationGroup).toBe(2);
    const match = pattern.regex.exec('The answer is Bank (money), because deposits are kept there.');
    expect(match?.[1]).toBe('Bank (money)');
    expect(match?.[2]).toBe(' because deposits are kept there.'); // '.?' takes the comma
  });

  test('swap puts the explanation group first', () => {
    const pattern = buildParsePattern(getTemplate(loadTemplates(workspace, 'svamp'), 1), { question: 'q' });
    expect(pattern).toMatchObject({ labelGroup: 2, explanationGroup: 1 });
  });

  test('a template without explanation_parse has no explanation group', () => {
    expect(buildParsePattern(getTemplate(loadTemplates(workspace, 'anli1'), 3), {}).explanationGroup).toBe(0);
  });
});

describe('bad template files get clear errors naming file, template and key', () => {
  const directory = temporaryDirectory();
  const load = (name: string, yaml: string) => () => loadTemplateFile(writeFile(path.join(directory, `${name}.yaml`), yaml), name);
  const valid = (overrides: string) => `templates:\n  1:\n    id: 1\n    system_message: ''\n${overrides}`;

  test('broken YAML names the line', () => {
    expect(load('broken', 'templates:\n  1: {id: 1\n  2: x\n')).toThrow(/broken\.yaml:\d+: broken YAML/);
  });

  test('a regular expression that does not compile', () => {
    expect(load('regex', valid("    user_message: 'x'\n    label_parse: '(a|b'\n    explanation_parse: ''\n"))).toThrow(
      /regex\.yaml:6, key templates\.1\.label_parse: label_parse is not a valid regular expression/,
    );
  });

  test('a label pattern without a capture group', () => {
    expect(load('nogroup', valid("    user_message: 'x'\n    label_parse: 'true|false'\n    explanation_parse: ''\n"))).toThrow(
      /label_parse has no capture group/,
    );
  });

  test('a missing key says which and what was expected', () => {
    expect(load('missing', valid("    label_parse: '(a)'\n    explanation_parse: ''\n"))).toThrow(/key templates\.1\.user_message: .*expected string/);
  });

  test('an unknown key is rejected (a typo would otherwise be ignored)', () => {
    expect(load('typo', valid("    user_mesage: 'x'\n    user_message: 'x'\n    label_parse: '(a)'\n    explanation_parse: ''\n"))).toThrow(/user_mesage/);
  });

  test('an id that disagrees with its key', () => {
    expect(
      load('id', "templates:\n  1:\n    id: 2\n    system_message: ''\n    user_message: 'x'\n    label_parse: '(a)'\n    explanation_parse: ''\n"),
    ).toThrow(/listed under 1 says id: 2/);
  });

  test('a malformed placeholder in a message', () => {
    expect(load('placeholder', valid("    user_message: 'Is {premise true?'\n    label_parse: '(a)'\n    explanation_parse: ''\n"))).toThrow(
      /templates\.1\.user_message: unmatched "\{"/,
    );
  });

  test('a placeholder with no value when rendering names the placeholder and the values there are', () => {
    const set = load('render', valid("    user_message: '{premise} / {hypothesis}'\n    label_parse: '(a)'\n    explanation_parse: ''\n"))();
    expect(() => renderTemplate(getTemplate(set, 1), { premise: 'p' })).toThrow(/placeholder \{hypothesis\} has no value; this row provides \{premise\}/);
  });

  test('an unknown template id lists the ids there are', () => {
    const set = load('ids', valid("    user_message: 'x'\n    label_parse: '(a)'\n    explanation_parse: ''\n"))();
    expect(() => getTemplate(set, 5)).toThrow(ZsdError);
    expect(() => getTemplate(set, 5)).toThrow(/no template with id 5 .*\(ids 1\)/);
  });

  test('a task with no template file anywhere', () => {
    expect(() => loadTemplates(workspace, 'nosuchtask')).toThrow(/no prompt templates for task "nosuchtask"/);
  });
});
