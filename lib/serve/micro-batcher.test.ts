import { BatcherClosedError, MicroBatcher, QueueFullError, RequestAbortedError } from './micro-batcher';

// The batcher alone: batches cut by size, wait and group; the queue bound and its Retry-After; aborts; close.

function recordingBatcher(options: { maxBatchSize: number; maxWaitMs: number; maxQueue: number; groupOf?: (item: string) => string; delayMs?: number }) {
  const batches: string[][] = [];
  const batcher = new MicroBatcher<string, string>({
    ...options,
    run: async (items) => {
      batches.push(items);
      if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      return items.map((item) => item.toUpperCase());
    },
  });
  return { batcher, batches };
}

test('items arriving within the wait share a batch, in order, each gets its own result; a full batch does not wait', async () => {
  const { batcher, batches } = recordingBatcher({ maxBatchSize: 3, maxWaitMs: 10_000, maxQueue: 10 });
  const results = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((item) => batcher.submit(item)));
  expect(results).toEqual(['A', 'B', 'C', 'D', 'E', 'F']);
  expect(batches).toEqual([
    ['a', 'b', 'c'],
    ['d', 'e', 'f'],
  ]); // two full batches at once: the 10 s wait never ran out
  expect(batcher.stats()).toMatchObject({ batches: 2, answered: 6, largestBatch: 3, queued: 0, running: 0 });
});

test('one batch holds one group; the others wait their turn in arrival order', async () => {
  const { batcher, batches } = recordingBatcher({ maxBatchSize: 8, maxWaitMs: 5, maxQueue: 10, groupOf: (item) => item[0] });
  await Promise.all(['x1', 'y1', 'x2', 'y2', 'x3'].map((item) => batcher.submit(item)));
  expect(batches).toEqual([
    ['x1', 'x2', 'x3'],
    ['y1', 'y2'],
  ]);
});

test('past maxQueue waiting items a submit is refused at once, with a Retry-After from the measured batch time', async () => {
  const { batcher } = recordingBatcher({ maxBatchSize: 1, maxWaitMs: 0, maxQueue: 2, delayMs: 400 });
  const first = batcher.submit('first'); // measured: 0.4 s per batch or a little more
  await first;
  const running = batcher.submit('a');
  await new Promise((resolve) => setImmediate(resolve));
  const queued = [batcher.submit('b'), batcher.submit('c')];
  const refused = await batcher.submit('d').catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(QueueFullError);
  // two queued batches ahead plus one: 3 x 0.4 s or more, rounded up (not 1, the floor it would be unmeasured)
  expect((refused as QueueFullError).retryAfterSeconds).toBeGreaterThanOrEqual(2);
  expect((refused as QueueFullError).retryAfterSeconds).toBeLessThan(10);
  await Promise.all([running, ...queued]);
  expect(batcher.stats().refused).toBe(1);
});

test('an aborted item leaves the queue without being run; close() answers the rest and refuses new items', async () => {
  const { batcher, batches } = recordingBatcher({ maxBatchSize: 1, maxWaitMs: 0, maxQueue: 10, delayMs: 30 });
  const controller = new AbortController();
  const running = batcher.submit('a');
  await new Promise((resolve) => setImmediate(resolve));
  const abandoned = batcher.submit('b', controller.signal);
  const kept = batcher.submit('c');
  controller.abort();
  await expect(abandoned).rejects.toBeInstanceOf(RequestAbortedError);
  const closed = batcher.close();
  await expect(batcher.submit('d')).rejects.toBeInstanceOf(BatcherClosedError);
  await closed;
  expect(await Promise.all([running, kept])).toEqual(['A', 'C']);
  expect(batches).toEqual([['a'], ['c']]);
  expect(batcher.stats()).toMatchObject({ abandoned: 1, answered: 2 });
});

test('a failing batch rejects each of its items and the batcher goes on', async () => {
  let calls = 0;
  const batcher = new MicroBatcher<number, number>({
    maxBatchSize: 2,
    maxWaitMs: 0,
    maxQueue: 10,
    run: (items) => {
      calls++;
      if (calls === 1) throw new Error('out of memory');
      return items.map((item) => item * 2);
    },
  });
  const failed = await Promise.allSettled([batcher.submit(1), batcher.submit(2)]);
  expect(failed.map((result) => result.status)).toEqual(['rejected', 'rejected']);
  expect(await batcher.submit(3)).toBe(6);
});
