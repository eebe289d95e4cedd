import { hostname } from 'node:os';
import { TeacherError } from '../teacher/client';
import type { QueryJob, WaitEvent } from '../teacher/scheduler';
import { waitLogger } from './teacher-run';

// What a user reads while zsd waits: how long, for what, and why (a capped Retry-After says so), at most one retry
// line every 5 s; a wait for another process's store names that process.

const job = {} as QueryJob;
const rateLimited = new TeacherError('rate-limit', 'rate limited (429): slow down', true, 429, 3_600_000);

test("a capped Retry-After, a back-off, and another process's lock, as printed", () => {
  const lines: string[] = [];
  let now = 0;
  const log = waitLogger(
    (line) => lines.push(line),
    () => now,
  );
  const retry = (over: Partial<Extract<WaitEvent, { kind: 'retry' }>>): WaitEvent => ({
    kind: 'retry',
    job,
    error: rateLimited,
    attempt: 1,
    maxAttempts: 8,
    delayMs: 60_000,
    ...over,
  });
  log(retry({ requestedMs: 3_600_000, cappedAtMs: 60_000 }));
  now = 1000;
  log(retry({ attempt: 2, delayMs: 2000 })); // within 5 s of the last line: not printed
  now = 7000;
  log(retry({ attempt: 3, delayMs: 1500, error: new TeacherError('server', 'server error (503): overloaded', true, 503) }));
  log({
    kind: 'store-lock',
    file: '/w/query-results/svamp/test/2/responses.json',
    holder: { pid: 42, host: hostname(), command: 'zsd query --task svamp', started_at: '2026-12-06T05:00:00.000Z' },
    jobs: 200,
  });
  expect(lines).toEqual([
    'waiting 60 s before attempt 2 of 8 (the server asked for 3600 s, capped by --max-retry-wait 60 s): rate limited (429): slow down',
    'waiting 1.5 s before attempt 4 of 8 (back-off): server error (503): overloaded',
    'waiting: /w/query-results/svamp/test/2/responses.json is being written by another zsd process, pid 42 (zsd query --task svamp, since 2026-12-06T05:00:00.000Z); its 200 queries go out once it is done (answers it stores are not asked again; Ctrl-C stops waiting)',
  ]);
});
