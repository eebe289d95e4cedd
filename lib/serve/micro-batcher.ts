/**
 * Micro-batching of concurrent requests into one generation call, with a bounded queue.
 *
 * A request waits at most `maxWaitMs` for others to join it; a batch holds at most `maxBatchSize` requests of one
 * group (requests whose answers need the same generation settings). One batch runs at a time. Between batches the
 * event loop turns once, so requests that arrived meanwhile are read and queued before the next batch is cut.
 * A full queue refuses at once (QueueFullError, with a Retry-After estimate from the measured batch time); a
 * request whose client went away (its signal aborted) while it waited leaves the queue and is never computed.
 */

export class QueueFullError extends Error {
  constructor(
    readonly queued: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`the queue is full (${queued} requests waiting); retry after ${retryAfterSeconds} s`);
    this.name = 'QueueFullError';
  }
}

export class RequestAbortedError extends Error {
  constructor() {
    super('the request was aborted before it was answered');
    this.name = 'RequestAbortedError';
  }
}

export class BatcherClosedError extends Error {
  constructor() {
    super('the server is shutting down');
    this.name = 'BatcherClosedError';
  }
}

export interface MicroBatcherOptions<Item, Result> {
  /** requests per generation call; 1 turns batching off */
  maxBatchSize: number;
  /** how long the first request of a batch waits for others */
  maxWaitMs: number;
  /** requests waiting (not counting the batch that runs) before new ones are refused */
  maxQueue: number;
  /** one result per item, in order */
  run: (items: Item[]) => Result[] | Promise<Result[]>;
  /** items of one batch share this key (default: all one group) */
  groupOf?: (item: Item) => string;
}

export interface MicroBatcherStats {
  queued: number;
  running: number;
  batches: number;
  answered: number;
  /** requests that left the queue because their client went away */
  abandoned: number;
  refused: number;
  largestBatch: number;
}

interface Pending<Item, Result> {
  item: Item;
  group: string;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class MicroBatcher<Item, Result> {
  private readonly queue: Pending<Item, Result>[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** exponential moving average of a batch's seconds, for Retry-After */
  private batchSeconds = 0;
  private readonly counters = { batches: 0, answered: 0, abandoned: 0, refused: 0, largestBatch: 0 };

  constructor(private readonly options: MicroBatcherOptions<Item, Result>) {
    if (!Number.isInteger(options.maxBatchSize) || options.maxBatchSize < 1)
      throw new RangeError(`maxBatchSize is ${options.maxBatchSize}; expected a positive integer`);
    if (!Number.isInteger(options.maxQueue) || options.maxQueue < 0) throw new RangeError(`maxQueue is ${options.maxQueue}; expected a non-negative integer`);
    if (!(options.maxWaitMs >= 0)) throw new RangeError(`maxWaitMs is ${options.maxWaitMs}; expected a non-negative number`);
  }

  /** Queues one item; resolves with its result, or rejects (QueueFullError, RequestAbortedError, BatcherClosedError). */
  submit(item: Item, signal?: AbortSignal): Promise<Result> {
    if (this.closed) return Promise.reject(new BatcherClosedError());
    if (signal?.aborted) return Promise.reject(new RequestAbortedError());
    if (this.queue.length >= this.options.maxQueue) {
      this.counters.refused++;
      return Promise.reject(new QueueFullError(this.queue.length, this.retryAfterSeconds()));
    }
    return new Promise<Result>((resolve, reject) => {
      const pending: Pending<Item, Result> = { item, group: this.options.groupOf?.(item) ?? '', resolve, reject, signal };
      if (signal) {
        pending.onAbort = () => {
          const index = this.queue.indexOf(pending);
          if (index < 0) return; // already in a running batch: its result is dropped by the caller
          this.queue.splice(index, 1);
          this.counters.abandoned++;
          reject(new RequestAbortedError());
          this.notifyIdle();
        };
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.queue.push(pending);
      this.schedule();
    });
  }

  stats(): MicroBatcherStats {
    return { queued: this.queue.length, running: this.running, ...this.counters };
  }

  /** Seconds until a newly queued request would likely be answered (at least 1). */
  retryAfterSeconds(): number {
    const batchesAhead = Math.ceil(this.queue.length / this.options.maxBatchSize) + 1;
    return Math.max(1, Math.ceil(batchesAhead * this.batchSeconds));
  }

  /** Refuses new items; resolves once everything queued has been answered. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIdle(): void {
    if (this.queue.length > 0 || this.running > 0) return;
    for (const waiter of this.idleWaiters.splice(0)) waiter();
  }

  private schedule(): void {
    if (this.running > 0 || this.queue.length === 0) return;
    const full = this.queue.filter((pending) => pending.group === this.queue[0].group).length >= this.options.maxBatchSize;
    if (full || this.options.maxWaitMs === 0 || this.closed) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      // one turn of the event loop first: requests already on the wire join this batch
      this.running++;
      setImmediate(() => void this.runBatch());
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      if (this.running > 0 || this.queue.length === 0) return;
      this.running++;
      void this.runBatch();
    }, this.options.maxWaitMs);
  }

  private async runBatch(): Promise<void> {
    const batch = this.takeBatch();
    try {
      if (batch.length === 0) return;
      this.counters.batches++;
      this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
      const started = process.hrtime.bigint();
      let results: Result[];
      try {
        results = await this.options.run(batch.map((pending) => pending.item));
        if (results.length !== batch.length) throw new Error(`the batch function returned ${results.length} results for ${batch.length} items`);
      } catch (error) {
        for (const pending of batch) pending.reject(error);
        return;
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.batchSeconds = this.counters.batches === 1 ? seconds : 0.8 * this.batchSeconds + 0.2 * seconds;
      batch.forEach((pending, index) => {
        this.counters.answered++;
        pending.resolve(results[index]);
      });
    } finally {
      this.running--;
      this.notifyIdle();
      this.schedule();
    }
  }

  /** Up to maxBatchSize queued items of the first item's group, in arrival order, out of the queue. */
  private takeBatch(): Pending<Item, Result>[] {
    if (this.queue.length === 0) return [];
    const group = this.queue[0].group;
    const batch: Pending<Item, Result>[] = [];
    for (let index = 0; index < this.queue.length && batch.length < this.options.maxBatchSize;) {
      if (this.queue[index].group === group) batch.push(...this.queue.splice(index, 1));
      else index++;
    }
    for (const pending of batch) if (pending.signal && pending.onAbort) pending.signal.removeEventListener('abort', pending.onAbort);
    return batch;
  }
}
