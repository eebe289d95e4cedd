import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ZsdError } from './errors';
import { resolveDataRoot } from './paths';
import { indentQuotedContinuationLines, parseYamlText, readYamlFile } from './yaml';
import { thrownBy } from '../test-support/fixtures';

// A template like the study's cqa.yaml: the single-quoted value continues at column 0, left of its key.
const UNDER_INDENTED_TEMPLATE = ['templates:', '  1:', '    id: 1', "    user_message: 'a", 'b) {x}', "c'", '    swap: True', ''].join('\n');

describe('parseYamlText, lenient quoted scalars', () => {
  test('a single-quoted scalar continued left of its key folds its lines with single spaces, as PyYAML', () => {
    const { document } = parseYamlText(UNDER_INDENTED_TEMPLATE, 'cqa.yaml');
    expect(document.toJS()).toEqual({ templates: { 1: { id: 1, user_message: 'a b) {x} c', swap: true } } });
  });

  test('a double-quoted scalar continued left of its key is accepted too', () => {
    const { document } = parseYamlText('k:\n  m: "a\n b"\n', 'x.yaml');
    expect(document.toJS()).toEqual({ k: { m: 'a b' } });
  });

  test('the study cqa.yaml parses, template 7 folded as PyYAML folds it', () => {
    const file = path.join(resolveDataRoot(), 'zero-shot', 'prompt-templates', 'cqa.yaml');
    const { document } = readYamlFile(file);
    const templates = (document.toJS() as { templates: Record<string, { user_message: string }> }).templates;
    expect(templates['7'].user_message).toBe('What is the best option for {question}? a) {choice_a} b) {choice_b} c) {choice_c} d) {choice_d} e) {choice_e}');
  });
});

describe('parseYamlText, YAML 1.1 scalars', () => {
  test('True, yes and on are booleans, a quoted True stays a string', () => {
    const { document } = parseYamlText("flags: [True, False, yes, no, on, 'True']\nswap: True\n", 'x.yaml');
    expect(document.toJS()).toEqual({ flags: [true, false, true, false, true, 'True'], swap: true });
  });
});

describe('parseYamlText, broken YAML', () => {
  const DUPLICATE_KEY = 'dataset: cqa\ntemplates:\n  1:\n    id: 1\n    id: 2\n';

  test('throws an invalid-file ZsdError naming the file and the problem', () => {
    const error = thrownBy(() => parseYamlText(DUPLICATE_KEY, 'templates.yaml'));
    expect(error).toBeInstanceOf(ZsdError);
    expect((error as ZsdError).kind).toBe('invalid-file');
    expect((error as ZsdError).location.file).toBe('templates.yaml');
    expect((error as ZsdError).message).toContain('Map keys must be unique');
  });

  test('the error carries the line of the problem and the message names file:line', () => {
    const duplicate = thrownBy(() => parseYamlText(DUPLICATE_KEY, 'templates.yaml')) as ZsdError;
    expect(duplicate.location.line).toBe(5);
    expect(duplicate.message).toBe('templates.yaml:5: broken YAML: Map keys must be unique');
    const unclosed = 'dataset: cqa\ntemplates:\n  1:\n    user_message: x\n    label_parse: [a, b\n  2:\n    id: 2\n';
    expect((thrownBy(() => parseYamlText(unclosed, 'templates.yaml')) as ZsdError).location.line).toBe(6);
  });

  test('when the lenient retry fails too, the strict parse error is reported', () => {
    const text = "templates:\n  1:\n    user_message: 'first\nsecond'\n    id: 1\n    id: 2\n";
    const error = thrownBy(() => parseYamlText(text, 'templates.yaml'));
    expect((error as ZsdError).kind).toBe('invalid-file');
    expect((error as ZsdError).message).toContain("Missing closing 'quote");
  });
});

describe('readYamlFile', () => {
  test('reads a file from disk', () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'zsd-yaml-'));
    try {
      const file = path.join(directory, 'mix.yaml');
      fs.writeFileSync(file, 'seed: 42\nlabels: {1: 0.5, 2: 0.5}\n');
      expect(readYamlFile(file).document.toJS()).toEqual({ seed: 42, labels: { 1: 0.5, 2: 0.5 } });
    } finally {
      fs.rmSync(directory, { recursive: true, force: true });
    }
  });

  test('a missing file throws a not-found ZsdError naming it', () => {
    const file = path.join(os.tmpdir(), 'zsd-yaml-does-not-exist', 'missing.yaml');
    const error = thrownBy(() => readYamlFile(file));
    expect(error).toBeInstanceOf(ZsdError);
    expect((error as ZsdError).kind).toBe('not-found');
    expect((error as ZsdError).message).toContain(file);
  });
});

describe('indentQuotedContinuationLines', () => {
  test('indents continuation lines of a quoted scalar to the key line indent plus two', () => {
    expect(indentQuotedContinuationLines(UNDER_INDENTED_TEMPLATE)).toBe(
      ['templates:', '  1:', '    id: 1', "    user_message: 'a", '      b) {x}', "      c'", '    swap: True', ''].join('\n'),
    );
  });

  test('leaves text without multi-line quoted scalars unchanged', () => {
    const text = "a: 'x'\nb: \"y\"\nc: plain # 'not a quote, a comment\nd: it's a plain scalar\ne: 'it''s closed'\nf:\n  - 'item'\n";
    expect(indentQuotedContinuationLines(text)).toBe(text);
  });

  test('leaves continuation lines that are already indented enough unchanged', () => {
    const text = "k:\n  m: 'a\n      b'\n";
    expect(indentQuotedContinuationLines(text)).toBe(text);
  });
});
