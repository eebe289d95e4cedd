import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveWorkspace } from '../core/paths';
import { DATA_ROOT, temporaryDirectory, writeFile } from '../test-support/fixtures';
import { requestKey, type TeacherRequest } from './request-key';
import { repairTornTail, ResponseStore, type StoredEntry } from './response-store';

const request: TeacherRequest = { model: 'm', endpoint: 'chat', system: '', user: 'What is 2 + 2?', parameters: { temperature: 0 } };
function entry(idx: number, response: string): StoredEntry {
  return {
    split: 'test',
    idx,
    prompt_template_id: 1,
    prompt_values: { question: 'q' },
    complete_prompt: '\nWhat is 2 + 2?',
    response,
    model: 'm',
    endpoint: 'chat',
    parameters: { temperature: 0 },
    usage: { prompt_tokens: 10, completion_tokens: 2 },
    cost_usd: 0.0001,
    key: requestKey({ ...request, user: `${request.user} ${idx}` }),
    created_at: '2026-01-01T00:00:00Z',
  };
}

test('a torn last line is moved to a .torn sidecar before the next append; nothing complete is lost', () => {
  const file = writeFile(path.join(temporaryDirectory(), 'responses.json'), `${JSON.stringify(entry(0, 'four'))}\n{"split": "test", "idx": 1, "resp`);
  repairTornTail(file);
  expect(fs.readFileSync(file, 'utf8')).toBe(`${JSON.stringify(entry(0, 'four'))}\n`);
  expect(fs.readFileSync(`${file}.torn`, 'utf8')).toBe('{"split": "test", "idx": 1, "resp\n');
});

test('a complete last line without its newline gets one', () => {
  const file = writeFile(path.join(temporaryDirectory(), 'responses.json'), JSON.stringify(entry(0, 'four')));
  repairTornTail(file);
  expect(fs.readFileSync(file, 'utf8').endsWith('}\n')).toBe(true);
  expect(fs.existsSync(`${file}.torn`)).toBe(false);
});

test('append is durable and indexed; a new store reads it back by key', () => {
  const workspace = resolveWorkspace(DATA_ROOT, temporaryDirectory(), { recordedResponses: false });
  const store = new ResponseStore(workspace, 'svamp', 'test', 1);
  const written = entry(3, 'four');
  store.append(written);
  const lookupRequest = { ...request, user: `${request.user} 3` };
  expect(store.lookup(lookupRequest, written.key)?.response).toBe('four');
  const reopened = new ResponseStore(workspace, 'svamp', 'test', 1);
  expect(reopened.lookup(lookupRequest, written.key)?.response).toBe('four');
  expect(reopened.lookup(lookupRequest, 'another-key')).toBeUndefined();
});

test('a store whose file ends torn still opens, and the next append repairs it', () => {
  const root = temporaryDirectory();
  const workspace = resolveWorkspace(DATA_ROOT, root, { recordedResponses: false });
  const file = writeFile(path.join(root, 'query-results', 'svamp', 'test', '1', 'responses.json'), `${JSON.stringify(entry(0, 'four'))}\n{"torn`);
  const store = new ResponseStore(workspace, 'svamp', 'test', 1);
  expect(store.size).toBe(1);
  store.append(entry(1, 'five'));
  const lines = fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  expect(lines.map((line) => line.response)).toEqual(['four', 'five']);
});

test('nothing is ever written below the read-only data root', () => {
  const store = new ResponseStore(resolveWorkspace(DATA_ROOT, path.join(DATA_ROOT, 'zero-shot')), 'svamp', 'test', 1);
  expect(() => store.append(entry(0, 'x'))).toThrow(/read-only data root/);
});

test('commit groups concurrent answers into shared writes; each promise resolves once its line is on disk', async () => {
  const workspace = resolveWorkspace(DATA_ROOT, temporaryDirectory(), { recordedResponses: false });
  const store = new ResponseStore(workspace, 'svamp', 'test', 1);
  const entries = Array.from({ length: 50 }, (_, idx) => entry(idx, `answer ${idx}`));
  const writes: number[] = [];
  const original = fs.promises.open;
  const spy = jest.spyOn(fs.promises, 'open').mockImplementation(async (...args: Parameters<typeof original>) => {
    writes.push(1);
    return original(...args);
  });
  try {
    const records = await Promise.all(
      entries.map(async (written) => {
        const record = await store.commit(written);
        // Resolved only after the write: the line is in the file now.
        expect(fs.readFileSync(store.path, 'utf8')).toContain(JSON.stringify(written));
        return record;
      }),
    );
    expect(records.map((record) => record.response)).toEqual(entries.map((written) => written.response));
  } finally {
    spy.mockRestore();
  }
  expect(writes.length).toBeLessThan(entries.length);
  const lines = fs.readFileSync(store.path, 'utf8').trim().split('\n');
  expect(lines).toHaveLength(50);
  const reopened = new ResponseStore(workspace, 'svamp', 'test', 1);
  expect(reopened.size).toBe(50);
});
