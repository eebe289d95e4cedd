import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ZsdError } from './errors';
import { parseJsonLines, readJsonLines } from './jsonl';
import { temporaryDirectory, thrownBy } from '../test-support/fixtures';

describe('parseJsonLines', () => {
  test('returns each value with its 1-based line number', () => {
    const content = parseJsonLines('{"a":1}\n{"b":2}\n[3]\n', 'rows.jsonl');
    expect(content).toEqual({
      lines: [
        { line: 1, value: { a: 1 } },
        { line: 2, value: { b: 2 } },
        { line: 3, value: [3] },
      ],
    });
  });

  test('skips blank and whitespace-only lines but keeps counting them', () => {
    const content = parseJsonLines('{"a":1}\n\n   \n{"b":2}\n', 'rows.jsonl');
    expect(content.lines).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 4, value: { b: 2 } },
    ]);
    expect(content.tornTail).toBeUndefined();
  });

  test('accepts Windows line endings', () => {
    expect(parseJsonLines('{"a":1}\r\n\r\n[2]\r\n', 'rows.jsonl').lines).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 3, value: [2] },
    ]);
  });

  test('a valid last line without a trailing newline is a normal line', () => {
    const content = parseJsonLines('{"a":1}\n{"b":2}', 'rows.jsonl');
    expect(content.lines.map((row) => row.line)).toEqual([1, 2]);
    expect(content.tornTail).toBeUndefined();
  });

  test('an invalid last line without a trailing newline is a torn tail, not an error', () => {
    const content = parseJsonLines('{"a":1}\n{"b":2}\n{"c":', 'rows.jsonl');
    expect(content.lines).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 2, value: { b: 2 } },
    ]);
    expect(content.tornTail).toEqual({ line: 3, text: '{"c":', byteOffset: 16 });
  });

  test('the torn tail byte offset counts UTF-8 bytes and blank lines', () => {
    // '{"a":1}\n' is 8 bytes, '\n' 1, '{"é":"ü"}\n' 12 (é and ü take two bytes each).
    const text = '{"a":1}\n\n{"é":"ü"}\n{"b":';
    const content = parseJsonLines(text, 'rows.jsonl');
    expect(content.tornTail).toEqual({ line: 4, text: '{"b":', byteOffset: 21 });
    expect(Buffer.from(text, 'utf8').subarray(content.tornTail!.byteOffset).toString('utf8')).toBe('{"b":');
  });

  test('an invalid line in the middle throws an invalid-file error naming file and line', () => {
    const error = thrownBy(() => parseJsonLines('{"a":1}\n{bad\n{"c":3}\n', '/data/rows.jsonl'));
    expect(error).toBeInstanceOf(ZsdError);
    expect((error as ZsdError).kind).toBe('invalid-file');
    expect((error as ZsdError).location).toEqual({ file: '/data/rows.jsonl', line: 2 });
    expect((error as ZsdError).message).toMatch(/^\/data\/rows\.jsonl:2: line is not valid JSON/);
  });

  test('an invalid last line that ends with a newline is an error, not a torn tail', () => {
    const error = thrownBy(() => parseJsonLines('{"a":1}\n{"b":2}\n{"c":\n', 'rows.jsonl'));
    expect(error).toBeInstanceOf(ZsdError);
    expect((error as ZsdError).kind).toBe('invalid-file');
    expect((error as ZsdError).location.line).toBe(3);
    expect((error as ZsdError).message).toContain('rows.jsonl:3');
  });

  test('empty text has no lines', () => {
    expect(parseJsonLines('', 'rows.jsonl')).toEqual({ lines: [] });
  });
});

describe('readJsonLines', () => {
  let directory: string;

  beforeEach(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'zsd-jsonl-'));
  });

  afterEach(() => {
    fs.rmSync(directory, { recursive: true, force: true });
  });

  test('reads a file and reports its torn tail', () => {
    const file = path.join(directory, 'responses.jsonl');
    fs.writeFileSync(file, '{"idx":0,"response":"ok"}\n{"idx":1,"resp');
    const content = readJsonLines<{ idx: number }>(file);
    expect(content.lines).toEqual([{ line: 1, value: { idx: 0, response: 'ok' } }]);
    expect(content.tornTail).toEqual({ line: 2, text: '{"idx":1,"resp', byteOffset: 26 });
  });

  test('an invalid line names the file path in the error', () => {
    const file = path.join(directory, 'broken.jsonl');
    fs.writeFileSync(file, '{"idx":0}\nnot json\n{"idx":2}\n');
    const error = thrownBy(() => readJsonLines(file));
    expect(error).toBeInstanceOf(ZsdError);
    expect((error as ZsdError).kind).toBe('invalid-file');
    expect((error as ZsdError).message).toContain(`${file}:2`);
  });

  test('a missing file throws a not-found error naming the file', () => {
    const file = path.join(directory, 'missing.jsonl');
    const error = thrownBy(() => readJsonLines(file));
    expect(error).toBeInstanceOf(ZsdError);
    expect((error as ZsdError).kind).toBe('not-found');
    expect((error as ZsdError).location).toEqual({ file });
    expect((error as ZsdError).message).toContain(file);
  });
});

describe('strict UTF-8', () => {
  const file = (bytes: Buffer) => {
    const target = path.join(temporaryDirectory(), 'lines.jsonl');
    fs.writeFileSync(target, bytes);
    return target;
  };
  const invalid = Buffer.from([0xff, 0xfe]);

  test('a complete line with bytes that are not UTF-8 is refused with its line number', () => {
    const target = file(Buffer.concat([Buffer.from('{"a": 1}\n{"a": 2}\n{"a": "'), invalid, Buffer.from('"}\n')]));
    expect(() => readJsonLines(target)).toThrow(/lines\.jsonl:3: line is not valid UTF-8/);
  });

  test('also when it is the last line and lacks its newline', () => {
    const target = file(Buffer.concat([Buffer.from('{"a": 1}\n{"a": "'), invalid, Buffer.from('"}')]));
    expect(() => readJsonLines(target)).toThrow(/lines\.jsonl:2: line is not valid UTF-8/);
  });

  test('a torn last line cut inside a character stays a torn tail', () => {
    const euro = Buffer.from('€', 'utf8');
    const target = file(Buffer.concat([Buffer.from('{"a": 1}\n{"a": "'), euro.subarray(0, 2)]));
    const content = readJsonLines(target);
    expect(content.lines).toHaveLength(1);
    expect(content.tornTail?.line).toBe(2);
  });
});
